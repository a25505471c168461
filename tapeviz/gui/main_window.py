"""The inspector's main window: menus, docks and the wiring between the session and the views."""
import os

from PySide6 import QtCore, QtGui, QtWidgets

from .panels import (ConsolePanel, EditorPanel, GradientsPanel, InspectorPanel, PluginsPanel, TapeList,
                     WatchedPanel)
from .runner import ScriptRunner
from .session import Session

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
MAX_RECENT = 8


def examples():
    """(title, path) of the bundled example scripts, in menu order."""
    found = []
    for name in sorted(os.listdir(EXAMPLES_DIR)):
        if name.endswith(".py") and not name.startswith("_"):
            path = os.path.join(EXAMPLES_DIR, name)
            with open(path, encoding="utf-8") as handle:
                first = handle.readline().strip().strip('"').strip()
            found.append((first or name, path))
    return found


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, settings=None):
        super().__init__()
        from .graph_view import GraphView
        from .plots import FunctionExplorer, GradientPlot

        self.settings = settings or QtCore.QSettings("tapeviz", "tapeviz")
        self.session = Session()
        self.runner = ScriptRunner(self)
        self.setWindowTitle("tapeviz")
        self.resize(1500, 950)

        self.graph = GraphView()
        self.graph_search = QtWidgets.QLineEdit(placeholderText="Find a node by name or op type (Ctrl+F)")
        self.graph_status = QtWidgets.QLabel("")
        center = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(center)
        column.setContentsMargins(2, 2, 2, 2)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.graph_search, 1)
        bar.addWidget(self.graph_status)
        column.addLayout(bar)
        column.addWidget(self.graph, 1)
        self.setCentralWidget(center)

        self.tapes = TapeList(self.session)
        self.watched = WatchedPanel(self.session)
        self.gradients = GradientsPanel(self.session)
        self.inspector = InspectorPanel(self.session)
        self.plugins = PluginsPanel()
        self.console = ConsolePanel()
        self.editor = EditorPanel()
        self.gradient_plot = GradientPlot()
        self.explorer = FunctionExplorer()
        plots = QtWidgets.QTabWidget()
        plots.addTab(self.gradient_plot, "Gradient plot")
        plots.addTab(self.explorer, "Function explorer")
        self.plot_tabs = plots

        self.docks = {}
        left = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        bottom = QtCore.Qt.DockWidgetArea.BottomDockWidgetArea
        for title, widget, area in (("Tapes", self.tapes, left), ("Watched variables", self.watched, left),
                                    ("Gradients", self.gradients, right), ("Inspector", self.inspector, right),
                                    ("Plots", plots, bottom), ("Console", self.console, bottom),
                                    ("Editor", self.editor, left), ("Plugins", self.plugins, right)):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(title.replace(" ", "_"))
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self.tabifyDockWidget(self.docks["Console"], self.docks["Plots"])
        self.tabifyDockWidget(self.docks["Inspector"], self.docks["Plugins"])
        self.tabifyDockWidget(self.docks["Watched variables"], self.docks["Editor"])
        self.docks["Inspector"].raise_()
        self.docks["Watched variables"].raise_()
        self.docks["Plots"].raise_()

        self.progress = QtWidgets.QProgressBar(maximumWidth=160)
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self._build_menus()
        self._connect()
        self._restore_layout()

    # Menus ------------------------------------------------------------------------------------------
    def _action(self, menu, text, slot, shortcut=None):
        action = QtGui.QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self):
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        keys = QtGui.QKeySequence.StandardKey
        self._action(file_menu, "Open &Script...", self.open_script_dialog, keys.Open)
        self._action(file_menu, "Open &Tape File...", self.open_run_dialog, "Ctrl+Shift+O")
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        self.save_action = self._action(file_menu, "Save Run &As...", self.save_run_dialog, keys.SaveAs)
        self._action(file_menu, "Export Graph as &PNG...", lambda: self.export_graph_dialog("png"), "Ctrl+E")
        self._action(file_menu, "Export Graph as S&VG...", lambda: self.export_graph_dialog("svg"), "Ctrl+Shift+E")
        self._action(file_menu, "Export P&lot as PNG...", self.export_plot_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, keys.Quit)

        run_menu = bar.addMenu("&Run")
        self.run_action = self._action(run_menu, "&Run Editor Code", self.run_editor, "Ctrl+Return")
        self.cancel_action = self._action(run_menu, "&Cancel", self.runner.cancel, "Esc")
        self.cancel_action.setEnabled(False)

        examples_menu = bar.addMenu("E&xamples")
        for title, path in examples():
            self._action(examples_menu, title, lambda checked=False, p=path: self.open_path(p))

        view = bar.addMenu("&View")
        self._action(view, "&Fit Graph", self.graph.fit, "Ctrl+0")
        self._action(view, "&Find in Graph", self._focus_search, keys.Find)
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About tapeviz", self._about)
        self._refresh_recent()

    def _connect(self):
        self.session.run_changed.connect(self._run_loaded)
        self.session.tape_changed.connect(self._show_tape)
        self.session.result_selected.connect(self._result_selected)
        self.session.node_selected.connect(lambda key: self.docks["Inspector"].raise_())
        self.graph.node_selected.connect(self.session.node_selected.emit)
        self.graph.layout_ready.connect(self._graph_ready)
        self.graph.layout_failed.connect(self._graph_failed)
        self.graph_search.returnPressed.connect(self._search)
        self.editor.run_requested.connect(self.run_editor)
        self.runner.output.connect(self.console.append_output)
        self.runner.started.connect(self._script_started)
        self.runner.finished.connect(self._script_finished)

    # Opening things -----------------------------------------------------------------------------------
    def open_path(self, path):
        """Open a script (run it) or a tape file (load it)."""
        if path.endswith(".py"):
            self.open_script(path)
        else:
            self.open_run_file(path)

    def open_script(self, path):
        try:
            with open(path, encoding="utf-8") as handle:
                self.editor.setPlainText(handle.read())
        except OSError as error:
            self._error(f"Cannot open {path}: {error.strerror or error}")
            return
        self.editor.path = path
        self._remember(path)
        self._start(path)

    def run_editor(self):
        """Run the editor's code (saved to its file if it has one, else to a scratch file)."""
        if self.runner.is_running():
            self.statusBar().showMessage("A script is running: cancel it first (Esc).", 5000)
            return
        path = self.editor.path
        if path is None or not os.access(path, os.W_OK) or path.startswith(EXAMPLES_DIR):
            scratch = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.TempLocation)
            path = os.path.join(scratch, "tapeviz-scratch.py" if path is None else "tapeviz-" + os.path.basename(path))
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(self.editor.toPlainText())
        self._start(path)

    def _start(self, path):
        self.console.clear()
        self.runner.start(path)

    def _script_started(self, path):
        self.progress.show()
        self.cancel_action.setEnabled(True)
        self.run_action.setEnabled(False)
        self.statusBar().showMessage(f"Running {os.path.basename(path)}...")

    def _script_finished(self, run, status, message):
        self.progress.hide()
        self.cancel_action.setEnabled(False)
        self.run_action.setEnabled(True)
        if run is not None:
            self.session.set_run(run, self.editor.path or "")
        if status != 0 or message:
            self.docks["Console"].raise_()
        self.statusBar().showMessage(message or "Done.", 0 if message else 5000)

    def open_run_file(self, path):
        from tapeviz.inspection.tapefile import TapeFileError, load

        try:
            run = load(path)
        except TapeFileError as error:
            self._error(str(error))
            return False
        self._remember(path)
        self.session.set_run(run, path)
        return True

    def open_script_dialog(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open script", "", "Python scripts (*.py)")
        if path:
            self.open_script(path)

    def open_run_dialog(self):
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open tape file", "", "Tape files (*.tapeviz);;All (*)")
        if path:
            self.open_run_file(path)

    def save_run_dialog(self):
        from tapeviz.inspection.tapefile import save

        if self.session.run is None:
            self._error("There is no run to save yet: open a script or a tape file first.")
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save run", "run.tapeviz", "Tape files (*.tapeviz)")
        if path:
            save(self.session.run, path)
            self._remember(path)
            self.statusBar().showMessage(f"Saved {path}", 5000)

    def export_graph_dialog(self, kind):
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, f"Export graph as {kind.upper()}", f"tape.{kind}",
                                                        f"{kind.upper()} (*.{kind})")
        if path:
            (self.graph.export_png if kind == "png" else self.graph.export_svg)(path)
            self.statusBar().showMessage(f"Exported {path}", 5000)

    def export_plot_dialog(self):
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export plot as PNG", "plot.png", "PNG (*.png)")
        if path:
            self.plot_tabs.currentWidget().export_png(path)
            self.statusBar().showMessage(f"Exported {path}", 5000)

    # Reactions ---------------------------------------------------------------------------------------
    def _run_loaded(self, run):
        title = os.path.basename(self.session.origin) if self.session.origin else "untitled"
        self.setWindowTitle(f"{title} - tapeviz")
        if run is not None and not run.tapes:
            self.graph_status.setText("this run recorded no tapes")
        if run is not None and run.meta.get("error"):
            self.statusBar().showMessage(f"The script raised {run.meta['error']}; showing the tapes recorded "
                                         "before it.")

    def _show_tape(self, tape_id):
        run = self.session.run
        tape = run.tapes[tape_id]
        self.graph_status.setText(f"tape {tape_id}: {len(tape.ops)} ops - laying out...")
        self.graph.set_graph(run, tape_id)
        calls = [c for c in run.calls if c.tape == tape_id]
        if calls:
            self.gradient_plot.show_call(run, calls[-1])

    def _graph_ready(self):
        tape_id = self.session.tape_id
        if tape_id is not None:
            self.graph_status.setText(f"tape {tape_id}: {self.graph.node_count()} nodes, "
                                      f"{self.graph.edge_count()} edges")

    def _graph_failed(self, details):
        # The worker's traceback: its last line says what went wrong; the rest goes to the console.
        last = details.strip().splitlines()[-1] if details.strip() else "unknown error"
        self.graph_status.setText(f"tape {self.session.tape_id}: could not lay out the graph")
        self.console.append_output(details, True)
        self._error(f"Could not lay out the graph of tape {self.session.tape_id}: {last}")

    def _result_selected(self, call, result, _target):
        from .graph import path_keys

        run = self.session.run
        self.gradient_plot.show_call(run, call)
        keys, broken = set(), set()
        for target in call.targets:
            keys |= path_keys(run, call.tape, result.source, target)
            if target in result.explanations:
                for item in result.explanations[target].evidence:
                    if item.get("op") is not None:
                        broken.add(f"op:{item['op']}")
                    if item.get("tensor") is not None:
                        broken.add(f"t:{item['tensor']}")
        if result.explanations and not broken:
            broken.add(f"t:{result.source}")
        self.graph.highlight(keys, broken)

    def _search(self):
        found = self.graph.search(self.graph_search.text())
        self.statusBar().showMessage(f"{found} nodes match '{self.graph_search.text()}'", 4000)

    def _focus_search(self):
        self.graph_search.setFocus()
        self.graph_search.selectAll()

    # Recent files, layout, messages -------------------------------------------------------------------
    def _remember(self, path):
        recent = [p for p in (self.settings.value("recent", []) or []) if p != path]
        self.settings.setValue("recent", [os.path.abspath(path)] + recent[:MAX_RECENT - 1])
        self._refresh_recent()

    def _refresh_recent(self):
        self.recent_menu.clear()
        recent = self.settings.value("recent", []) or []
        for path in recent if isinstance(recent, list) else [recent]:
            self._action(self.recent_menu, path, lambda checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    def _restore_layout(self):
        geometry, state = self.settings.value("geometry"), self.settings.value("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event):
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        if self.runner.is_running():
            self.runner.cancel()
        super().closeEvent(event)

    def _error(self, message):
        self.statusBar().showMessage(message, 10000)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "tapeviz", message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setModal(False)
        box.show()
        self.last_error = message

    def _about(self):
        from tapeviz import __version__
        QtWidgets.QMessageBox.about(self, "About tapeviz", f"<b>tapeviz {__version__}</b><p>See and understand "
                                    "reverse-mode automatic differentiation.</p>")
