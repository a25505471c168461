"""The inspector's main window: menus, docks and the wiring between the session and the views."""
import html
import os
import shutil
import sys
import tempfile
import threading

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .editor import EditorPanel
from .graph import path_keys
from .loader import RunLoader
from .plot_data import jacobian_matrices, plottable, steps_data, steps_with_common_sources
from .panels import ConsolePanel, GradientsPanel, InspectorPanel, PluginsPanel, ProblemsPanel, TapeList, WatchedPanel
from .runner import ScriptRunner
from .session import Session

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
MAX_RECENT = 8
LAYOUT_VERSION = 2   # of the saved dock layout: 2 added the Problems dock and a small Plots dock
MIN_STEPS = 5   # tapes made on one line, each with a gradient call, before they count as a training loop


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


def _import_plots_in_background():
    """Import igraph and pyqtgraph (half a second) in a worker thread, so the first layout and the first
    plot do not freeze the window."""
    import sys
    import threading

    if "tapeviz.gui.plots" in sys.modules:
        return

    def work():
        try:
            import igraph  # noqa: F401 - its C core's start-up would otherwise hold the GIL in the first layout
        except ImportError:
            pass
        try:
            import tapeviz.gui.plots  # noqa: F401
        except Exception:  # noqa: BLE001 - the UI thread imports it again and reports any real error
            pass
    global _BACKGROUND_IMPORT
    _BACKGROUND_IMPORT = threading.Thread(target=work, name="tapeviz-import-plots", daemon=True)
    _BACKGROUND_IMPORT.start()


_BACKGROUND_IMPORT = None


def wait_for_background_imports(timeout=10.0):
    """Before the process exits: an import still running in a thread while Python shuts down crashes it."""
    if _BACKGROUND_IMPORT is not None:
        _BACKGROUND_IMPORT.join(timeout)


class _ReplaySignals(QtCore.QObject):
    done = QtCore.Signal(int, object)   # request number, Replay


def _legend_html():
    from .graph_items import MAGNITUDE_COLOURS
    return " ".join(f"<span style='color:{colour}'>&#9644;</span>&nbsp;{html.escape(text)}"
                    for _, colour, text in MAGNITUDE_COLOURS)


# The window shares the interpreter with its loading and layout workers, which run Python. At the
# default 5 ms switch interval the UI thread, which takes the lock back for every slot and timer,
# waited over 100 ms for a worker's turns (614 ms opening a 100k-op file; 38 ms at 1 ms).
UI_SWITCH_INTERVAL_S = 0.001


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, settings=None):
        super().__init__()
        from .graph_view import GraphView

        sys.setswitchinterval(min(sys.getswitchinterval(), UI_SWITCH_INTERVAL_S))

        self.settings = settings or QtCore.QSettings("tapeviz", "tapeviz")
        self.session = Session()
        self.runner = ScriptRunner(self)
        self.loader = RunLoader(self)
        self._scratch_dir = None
        self.last_error = ""
        self.setWindowTitle("tapeviz")
        self.resize(1500, 950)

        self.graph = GraphView()
        self.graph_search = QtWidgets.QLineEdit(placeholderText="Find a node by name or op type (Ctrl+F; "
                                                "Enter next, Shift+Enter previous, Esc clear)")
        self.graph_search.installEventFilter(self)
        self.fold_box = QtWidgets.QCheckBox("Fold repeats")
        self.fold_box.setChecked(True)
        self.fold_box.setToolTip("Draw a loop's repeated steps as one block and alike variables as one group")
        self.fold_box.toggled.connect(lambda on: self.graph.set_folding(on))
        self.scope_box = QtWidgets.QCheckBox("Group scopes")
        self.scope_box.setToolTip("Draw each layer or module scope (dense_1/...) as one box; double-click opens one")
        self.scope_box.setTristate(False)
        self.scope_box.toggled.connect(lambda on: self.graph.collapse_scopes(True if on else False))
        self.expand_button = QtWidgets.QPushButton("Expand all")
        self.expand_button.setToolTip("Draw every op: no folded blocks, groups or collapsed scopes")
        self.expand_button.clicked.connect(self._expand_all)
        self.graph_status = QtWidgets.QLabel("")
        center = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(center)
        column.setContentsMargins(2, 2, 2, 2)
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(self.graph_search, 1)
        bar.addWidget(self.fold_box)
        bar.addWidget(self.scope_box)
        bar.addWidget(self.expand_button)
        bar.addWidget(self.graph_status)
        column.addLayout(bar)
        column.addWidget(self.graph, 1)
        # The backward pass of the selected gradient, replayed from the recorded values.
        self.replay = None
        self._replay_number = 0
        self._replay_signals = _ReplaySignals()
        self._replay_signals.done.connect(self._replayed)
        self.step_back = QtWidgets.QToolButton(text="◀", toolTip="Previous step of the backward pass (Alt+Left)")
        self.step_next = QtWidgets.QToolButton(text="▶", toolTip="Next step of the backward pass (Alt+Right)")
        self.step_back.clicked.connect(lambda: self.backward_step(-1))
        self.step_next.clicked.connect(lambda: self.backward_step(1))
        self.step_label = QtWidgets.QLabel("Select a gradient to walk its backward pass.")
        self.step_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.step_legend = QtWidgets.QLabel(_legend_html())
        self.step_legend.setToolTip("Edges are coloured by the largest gradient they carried back")
        self.step_legend.hide()
        self._step = -1
        stepper = QtWidgets.QHBoxLayout()
        stepper.addWidget(QtWidgets.QLabel("Backward:"))
        stepper.addWidget(self.step_back)
        stepper.addWidget(self.step_next)
        stepper.addWidget(self.step_label, 1)
        stepper.addWidget(self.step_legend)
        column.addLayout(stepper)
        for button in (self.step_back, self.step_next):
            button.setEnabled(False)
        self.setCentralWidget(center)

        self.problems = ProblemsPanel(self.session)
        self.tapes = TapeList(self.session)
        self.watched = WatchedPanel(self.session)
        self.gradients = GradientsPanel(self.session)
        self.inspector = InspectorPanel(self.session)
        self.plugins = PluginsPanel()
        self.console = ConsolePanel()
        self.editor = EditorPanel()
        self._plots = {}           # tab kind -> plot widget, each made on first use
        self._steps_shown = None   # the tape group the steps view shows
        self._steps_pending = False   # its plots are being made, a piece per event-loop turn
        plots = QtWidgets.QTabWidget()
        plots.setMaximumHeight(16777215)
        self.plot_tabs = plots

        self.docks = {}
        left = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        bottom = QtCore.Qt.DockWidgetArea.BottomDockWidgetArea
        for title, widget, area in (("Tapes", self.tapes, left), ("Watched variables", self.watched, left),
                                    ("Problems", self.problems, right),
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
        self.tabifyDockWidget(self.docks["Problems"], self.docks["Gradients"])
        self.tabifyDockWidget(self.docks["Watched variables"], self.docks["Editor"])
        self.docks["Inspector"].raise_()
        self.docks["Problems"].raise_()
        self.docks["Watched variables"].raise_()
        self.docks["Console"].raise_()
        # The graph gets the room; the bottom docks stay small until they have something to show.
        self.resizeDocks([self.docks["Console"]], [150], QtCore.Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["Tapes"], self.docks["Problems"]], [300, 380], QtCore.Qt.Orientation.Horizontal)
        self.docks["Plugins"].visibilityChanged.connect(lambda shown: shown and self.plugins.refresh_once())
        self.docks["Plots"].visibilityChanged.connect(lambda shown: shown and self._plots_shown())

        self.progress = QtWidgets.QProgressBar(maximumWidth=160)
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self._build_menus()
        self._connect()
        self._restore_layout()
        _import_plots_in_background()

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
        self._action(file_menu, "&Save Script", self.editor.save, keys.Save)
        self._action(file_menu, "Save Script &As...", self.editor.save_as)
        self.save_action = self._action(file_menu, "Save &Run As...", self.save_run_dialog, "Ctrl+Shift+S")
        self._action(file_menu, "Export Graph as &PNG...", lambda: self.export_graph_dialog("png"), "Ctrl+E")
        self._action(file_menu, "Export Graph as S&VG...", lambda: self.export_graph_dialog("svg"), "Ctrl+Shift+E")
        self._action(file_menu, "Export P&lot as PNG...", self.export_plot_dialog)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, keys.Quit)

        run_menu = bar.addMenu("&Run")
        self.run_action = self._action(run_menu, "&Run Editor Code", self.run_editor, "Ctrl+Return")
        self.cancel_action = self._action(run_menu, "&Cancel", self.cancel, "Ctrl+.")
        self.cancel_action.setEnabled(False)
        run_menu.addSeparator()
        self._action(run_menu, "Backward Step &Forward", lambda: self.backward_step(1), "Alt+Right")
        self._action(run_menu, "Backward Step &Back", lambda: self.backward_step(-1), "Alt+Left")
        self._action(run_menu, "Next &Problem", lambda: self.problems.step(1), "F8")
        self._action(run_menu, "Previous Pro&blem", lambda: self.problems.step(-1), "Shift+F8")

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
        self.session.accumulator_changed.connect(self._show_accumulator)
        self.session.jvp_selected.connect(self._jvp_selected)
        self.session.node_selected.connect(lambda key: self.docks["Inspector"].raise_())
        self.graph.node_selected.connect(self.session.node_selected.emit)
        self.graph.layout_ready.connect(self._graph_ready)
        self.graph.layout_failed.connect(self._graph_failed)
        self.graph_search.returnPressed.connect(self._search)
        self.editor.run_requested.connect(self.run_editor)
        self.runner.output.connect(self.console.append_output)
        self.runner.started.connect(self._script_started)
        self.runner.finished.connect(self._script_finished)
        self.loader.loaded.connect(self._file_loaded)
        self.loader.failed.connect(self._load_failed)
        self.graph.layout_progress.connect(self._layout_progress)
        self.loader.progress.connect(self._load_progress)
        self.editor.title_changed.connect(self.docks["Editor"].setWindowTitle)
        self.gradients.source_line_clicked.connect(self.show_source_line)
        self.problems.source_line_clicked.connect(self.show_source_line)

    # Opening things -----------------------------------------------------------------------------------
    def open_path(self, path):
        """Open a script (run it) or a tape file (load it)."""
        if path.endswith(".py"):
            self.open_script(path)
        else:
            self.open_run_file(path)

    def open_script(self, path):
        if not self.editor.maybe_keep_changes():
            return
        if not self.editor.open_file(path):
            self._error(self.editor.last_error)
            return
        self._remember(path)
        self._start(path)

    def run_editor(self):
        """Run the editor's code: the file itself when it is saved, else a scratch copy of the text
        (the user's file is only ever written by Save, never by running)."""
        if self.runner.is_running():
            self.statusBar().showMessage("A script is running: cancel it first (Ctrl+.).", 5000)
            return
        path = self.editor.path
        if path is None or self.editor.document().isModified():
            if self._scratch_dir is None:   # one per window: two inspectors never share a scratch file
                self._scratch_dir = tempfile.mkdtemp(prefix="tapeviz-")
            path = os.path.join(self._scratch_dir, "scratch.py" if path is None else os.path.basename(path))
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(self.editor.toPlainText())
        # An edited copy still runs where its file lives, so its relative paths and data files resolve.
        self._start(path, os.path.dirname(os.path.abspath(self.editor.path)) if self.editor.path else None)

    def cancel(self):
        """Stop what is under way: the running script (its tapes so far are kept), a load, a layout."""
        if self.runner.is_running():
            self.runner.cancel()
        if self.loader.is_busy():
            self.loader.cancel()
            self._busy(False)
            self.statusBar().showMessage("Loading cancelled.", 5000)
        self.graph.cancel()

    def _start(self, path, working_dir=None):
        self.console.clear()
        self.runner.start(path, working_dir)

    def _busy(self, busy):
        self.progress.setRange(0, 0)  # indeterminate until a load reports how far it is
        self.progress.setVisible(busy)
        self.cancel_action.setEnabled(busy)

    def _load_progress(self, fraction, step):
        self.progress.setRange(0, 100)
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"{step} %p%")

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
            self.session.set_run(run, self.editor.path or "", self.runner.last_index)
        if status != 0 or message:
            self.docks["Console"].raise_()
        self.statusBar().showMessage(message or "Done.", 0 if message else 5000)

    def open_run_file(self, path, future=None):
        """Load a tape file in a worker thread (``future``: a load already started for it); returns False
        when the file cannot be read at all, else True and the run shows when loaded."""
        if not os.path.isfile(path):
            self._error(f"Cannot open tape file {path}: no such file.")
            return False
        self._busy(True)
        self.statusBar().showMessage(f"Loading {os.path.basename(path)}… (Ctrl+. cancels)")
        self.loader.load(path, future)
        return True

    def _file_loaded(self, run, index, path):
        self._busy(self.runner.is_running())
        self._remember(path)
        self.statusBar().showMessage(f"Loaded {os.path.basename(path)}.", 3000)
        self.session.set_run(run, path, index)

    def _load_failed(self, message, path):
        self._busy(self.runner.is_running())
        self._error(message)

    def _layout_progress(self, step, fraction):
        self.graph_status.setText(f"{step}… {fraction:.0%}")

    def _expand_all(self):
        for box in (self.fold_box, self.scope_box):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)
        self.graph.expand_all()

    def show_source_line(self, file, line):
        """Open the editor at a line of the run's code (a click on "line N" in an explanation)."""
        text = self.session.run.sources.get(file) if self.session.run is not None else None
        if not self.editor.show_file_line(file, line, text):
            self._error(self.editor.last_error)
            return
        self.docks["Editor"].show()
        self.docks["Editor"].raise_()
        self.editor.setFocus()

    def _plot(self, kind):
        """The plot widget of one tab, made the first time it is needed (each PlotWidget costs tens of
        milliseconds to build on the window's thread, so none is made before it has something to show)."""
        widget = self._plots.get(kind)
        if widget is None:
            from . import plots

            cls, title = {"gradient": (plots.GradientPlot, "Gradient plot"), "steps": (plots.StepsPlot, "Steps"),
                          "jacobian": (plots.HeatmapPlot, "Jacobian"),
                          "explorer": (plots.FunctionExplorer, "Function explorer")}[kind]
            widget = self._plots[kind] = cls()
            if kind == "steps":
                widget.step_chosen.connect(self.session.set_tape)
            self.plot_tabs.addTab(widget, title)
        return widget

    def _plots_shown(self):
        if not self._plots:   # opened by hand with nothing plotted yet: the explorer is always of use
            self._plot("explorer")

    @property
    def gradient_plot(self):
        return self._plot("gradient")

    @property
    def steps(self):
        return self._plot("steps")

    @property
    def explorer(self):
        return self._plot("explorer")

    @property
    def _steps(self):
        return self._plots.get("steps")

    @property
    def _heatmap(self):
        return self._plots.get("jacobian")

    @property
    def _gradient_plot(self):
        return self._plots.get("gradient")

    def _show_steps(self, tape_id):
        """A training loop's tapes (MIN_STEPS or more made on one line, each with a gradient call of a
        one-number loss): loss and gradient norms per step."""
        from .panels import tape_groups

        run = self.session.run
        for where, ids in tape_groups(run):
            if tape_id in ids:
                break
        else:
            return
        calls = self.session.index.calls_per_tape if self.session.index else {}
        if len(ids) < MIN_STEPS or sum(1 for i in ids if calls.get(i)) < MIN_STEPS \
                or self._steps_shown == (id(run), ids[0]):
            return
        # A training loop: most steps end in one-number loss (a loop over unrelated cases does not).
        steps, loss, _ = steps_data(run, ids)
        if np.count_nonzero(np.isfinite(loss)) < max(MIN_STEPS, len(steps) // 2) \
                or steps_with_common_sources(run, ids) < max(MIN_STEPS, len(steps) // 2):
            return
        self._steps_shown = (id(run), ids[0])
        self._steps_pending = True
        # Made and filled on later turns of the event loop: the graph and the lists come first.
        QtCore.QTimer.singleShot(0, lambda: self._fill_steps(run, ids, where))

    def _fill_steps(self, run, ids, where):
        """One piece per event-loop turn: the tab, each of its two plots, then the curves."""
        if self.session.run is not run:
            self._steps_pending = False
            return
        steps = self.steps
        if not steps.build_step():
            QtCore.QTimer.singleShot(0, lambda: self._fill_steps(run, ids, where))
            return
        QtCore.QTimer.singleShot(0, lambda: self._steps_filled(steps, run, ids, where))

    def steps_pending(self):
        """True while the steps view of a training loop is being made (a screenshot waits for it)."""
        return self._steps_pending

    def _steps_filled(self, steps, run, ids, where):
        self._steps_pending = False
        if self.session.run is not run:
            return
        steps.show_steps(run, ids, where)
        self.docks["Plots"].show()
        self.docks["Plots"].raise_()
        self.plot_tabs.setCurrentWidget(steps)

    def _plot_call(self, call):
        """Plot a call's gradients when one has a 1-D source that varies; else leave the dock alone."""
        run = self.session.run
        if plottable(run, call):
            shown = self._plot("gradient")
        elif jacobian_matrices(run, call):
            shown = self._plot("jacobian")
        else:
            return
        shown.show_call(run, call)
        self.docks["Plots"].show()
        self.docks["Plots"].raise_()
        self.plot_tabs.setCurrentWidget(shown)

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
            if self.plot_tabs.currentWidget() is None:
                self._error("There is no plot to export yet.")
                return
            self.plot_tabs.currentWidget().export_png(path)
            self.statusBar().showMessage(f"Exported {path}", 5000)

    # Reactions ---------------------------------------------------------------------------------------
    def _run_loaded(self, run):
        index = self.session.index
        (self.docks["Problems"] if index is not None and index.groups else self.docks["Gradients"]).raise_()
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
        if self.replay is None and self.step_label.text().startswith("Forward mode"):   # back from an accumulator
            self.step_label.setText("Select a gradient to walk its backward pass.")
        calls = [c for c in run.calls if c.tape == tape_id]
        if calls:
            self._plot_call(calls[-1])
        self._show_steps(tape_id)

    def _show_accumulator(self, accumulator_id):
        """Forward mode: the ops an accumulator pushed tangents through, its primals watched, tangents under
        the nodes; its page in the inspector."""
        from .forward import accumulator_html, accumulator_subject

        run = self.session.run
        info = run.accumulators[accumulator_id]
        self.graph_status.setText(f"accumulator {accumulator_id}: {len(info.ops)} ops - laying out...")
        self.graph.set_graph(run, accumulator_subject(accumulator_id))
        self._clear_replay("Forward mode: tangents are shown under the nodes (select one for its value and tangent).")
        self.inspector.setHtml(accumulator_html(run, info))

    def _clear_replay(self, message):
        self._replay_number += 1
        self.replay = None
        self.graph.show_gradient_sizes({})
        self.graph.show_gradients({})
        self.step_legend.hide()
        for button in (self.step_back, self.step_next):
            button.setEnabled(False)
        self.step_label.setText(message)

    def _jvp_selected(self, call, result):
        """Highlight the way from the accumulator's primals to the jvp's target; a None one marks the target."""
        from .forward import forward_path_keys

        run = self.session.run
        keys = forward_path_keys(run, call.accumulator, result.target)
        broken = set()
        if result.reason:
            info = run.tensors.get(result.target)
            broken.add(f"op:{info.producer}" if info is not None and info.producer in run.ops
                       and info.producer in run.accumulators[call.accumulator].ops else f"t:{result.target}")
        self.graph.highlight(keys, broken)

    def _graph_ready(self):
        self.scope_box.blockSignals(True)
        self.scope_box.setChecked(self.graph.scopes_collapsed())   # big graphs open with scopes grouped
        self.scope_box.blockSignals(False)
        tape_id = self.session.tape_id
        if tape_id is not None:
            self.graph_status.setText(f"tape {tape_id}: {self.graph.node_count()} nodes, "
                                      f"{self.graph.edge_count()} edges")
        elif self.session.accumulator_id is not None:
            self.graph_status.setText(f"accumulator {self.session.accumulator_id}: {self.graph.node_count()} nodes, "
                                      f"{self.graph.edge_count()} edges")

    def _graph_failed(self, details):
        # The worker's traceback: its last line says what went wrong; the rest goes to the console.
        last = details.strip().splitlines()[-1] if details.strip() else "unknown error"
        self.graph_status.setText(f"tape {self.session.tape_id}: could not lay out the graph")
        self.console.append_output(details, True)
        self._error(f"Could not lay out the graph of tape {self.session.tape_id}: {last}")


    def _start_replay(self, call, target):
        """Replay the call's backward pass in a worker thread; the newest request wins."""
        from .replay import replay_backward

        self._replay_number += 1
        number, run, signals = self._replay_number, self.session.run, self._replay_signals

        def work():
            try:
                replay = replay_backward(run, call, target)
            except Exception as error:  # noqa: BLE001 - shown as why the pass could not be replayed
                from .replay import Replay
                replay = Replay(stopped=f"{type(error).__name__}: {error}")
            replay.call = call
            try:
                signals.done.emit(number, replay)
            except RuntimeError:   # the window closed meanwhile
                pass
        threading.Thread(target=work, name="tapeviz-replay", daemon=True).start()

    def _replayed(self, number, replay):
        from .replay import magnitude

        if number != self._replay_number or self.session.run is None:
            return
        self.replay, self._step = replay, -1
        self.graph.show_gradient_sizes({t: magnitude(g) for t, g in replay.grads.items()})
        self.graph.show_gradients(replay.grads)
        self.step_legend.setVisible(bool(replay.grads))
        for button in (self.step_back, self.step_next):
            button.setEnabled(bool(replay.steps))
        note = f" (stopped early: {replay.stopped})" if replay.stopped else ""
        self.step_label.setText(f"{len(replay.steps)} steps from the target back to the sources; ▶ walks them{note}")
        self.step_label.setToolTip(self.step_label.text())

    def backward_step(self, direction):
        """Show the next (+1) or previous (-1) op of the replayed backward pass: selected in the graph,
        its incoming and outgoing gradients in the inspector."""
        replay = self.replay
        if replay is None or not replay.steps or self.session.run is None:
            return None
        self._step = max(0, min(len(replay.steps) - 1, self._step + direction))
        step = replay.steps[self._step]
        run = self.session.run
        op = run.ops[step.op]
        owner = self.graph._plan.owner if self.graph._plan else {}
        key = owner.get(f"op:{op.id}", f"op:{op.id}")
        self.graph.select([key])
        self.graph.center_on(key)
        self.step_label.setText(f"step {self._step + 1} of {len(replay.steps)}: {op.type} (op {op.id})")
        self.inspector.setHtml(step_html(run, op, step))
        self.docks["Inspector"].raise_()
        return step

    def _result_selected(self, call, result, _target):
        run = self.session.run
        self._plot_call(call)
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
        if result.is_none or result.explanations:   # no backward pass reached this source: nothing to walk
            self._clear_replay("This gradient is None: no backward pass reached its source (see the break).")
        else:
            self._start_replay(call, _target if _target is not None else call.targets[0])

    def _search(self):
        """Enter: a new search, or the next hit of the same one."""
        text = self.graph_search.text()
        if text and text == getattr(self, "_searched", None) and self.graph._hits:
            self._search_step(1)
            return
        self._searched = text
        found = self.graph.search(text)
        self.graph_status.setText(f"1 of {found} matches" if found else f"no node matches '{text}'")

    def _search_step(self, step):
        position, count = self.graph.search_step(step)
        if count:
            self.graph_status.setText(f"{position} of {count} matches")

    def eventFilter(self, watched, event):
        if watched is self.graph_search and event.type() == QtCore.QEvent.Type.KeyPress:
            if event.key() == QtCore.Qt.Key.Key_Escape:
                self.graph_search.clear()
                self._searched = None
                self.graph.clear_search()
                self.graph_status.setText("")
                return True
            if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter) and \
                    event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier:
                self._search_step(-1)
                return True
            if event.key() == QtCore.Qt.Key.Key_F3:
                self._search_step(-1 if event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier else 1)
                return True
        return super().eventFilter(watched, event)

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
            self.restoreState(state, LAYOUT_VERSION)   # a layout saved by an older inspector is ignored

    def closeEvent(self, event):
        if not self.editor.maybe_keep_changes():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState(LAYOUT_VERSION))
        self.runner.shutdown()    # no signal from the child may reach a half-destroyed window
        if self._scratch_dir is not None:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
        self.loader.cancel()
        self.graph.cancel()
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


def step_html(run, op, step):
    """One step of the backward pass: the gradient arriving at the op's outputs and leaving by its inputs."""
    from tapeviz.inspection.explain import describe
    from tapeviz.inspection.model import summarize

    from .graph import value_text

    def rows(ids, grads, direction):
        out = []
        for tensor_id, grad in zip(ids, grads):
            text = "no gradient" if grad is None else value_text(summarize(grad)) or str(grad)
            out.append(f"<li>{direction} {html.escape(describe(run, tensor_id))}: {html.escape(text)}</li>")
        return "".join(out)

    return (f"<h3>Backward through {html.escape(op.type)} <small>(op {op.id})</small></h3>"
            f"<p><b>gradient arriving</b></p><ul>{rows(op.outputs, step.out_grads, 'd/d')}</ul>"
            f"<p><b>gradient leaving</b></p><ul>{rows(op.inputs, step.in_grads, 'to')}</ul>")
