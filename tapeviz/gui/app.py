"""``tapeviz gui [SCRIPT.py | RUN_FILE] [--screenshot PNG]``: start the inspector.

With no argument it opens the bundled seed tutorial. ``--screenshot`` opens, loads, waits until
the tapes are drawn, saves a PNG of the main window and exits (for docs and display-less checks).
"""
import os
import sys

SCREENSHOT_TIMEOUT_MS = 180_000


def default_script():
    from .main_window import EXAMPLES_DIR
    return os.path.join(EXAMPLES_DIR, "seed_tutorial.py")


def main(args):
    path = args.path or default_script()
    if not os.path.exists(path):
        print(f"tapeviz: error: no such file: {path}", file=sys.stderr)
        return 2
    early = None
    if not path.endswith(".py"):   # read the tape file while Qt starts and the window is built
        from .loader import start_loading
        early = start_loading(path)

    from PySide6 import QtCore, QtWidgets

    from .main_window import MainWindow, wait_for_background_imports
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("tapeviz")
    app.setOrganizationName("tapeviz")
    settings = None
    if args.screenshot:  # a screenshot must not depend on (or change) the user's saved layout
        settings = QtCore.QSettings(os.path.join(QtCore.QDir.tempPath(), "tapeviz-screenshot.ini"),
                                    QtCore.QSettings.Format.IniFormat)
        settings.clear()
    window = MainWindow(settings)
    window.show()
    if args.screenshot:
        status = _screenshot(app, window, path, args.screenshot, early)
    else:
        if early is not None:
            window.open_run_file(path, early)
        else:
            window.open_path(path)
        status = app.exec()
    window.graph.cancel()
    window.graph.wait_for_workers()
    wait_for_background_imports()
    return status


def _screenshot(app, window, path, target, early=None):
    from PySide6 import QtCore

    status = {"code": 1}

    def save(final=False):
        if window.steps_pending() and not final:   # a training loop's plots come a few turns after the graph
            QtCore.QTimer.singleShot(20, save)
            return
        app.processEvents()
        window.grab().save(target)
        status["code"] = 0 if os.path.exists(target) else 1
        app.quit()

    def when_drawn():
        # The first problem is selected as the run opens; its tape may differ from the first one.
        if window.graph.is_ready() and (window.session.tape_id is not None
                                        or window.session.accumulator_id is not None):
            window.graph.layout_ready.disconnect(when_drawn)
            QtCore.QTimer.singleShot(0, save)

    def loaded(run, *_):
        if run is None or not (run.tapes or run.accumulators):
            QtCore.QTimer.singleShot(100, save)

    window.graph.layout_ready.connect(when_drawn)
    window.graph.layout_failed.connect(lambda details: QtCore.QTimer.singleShot(100, save))  # the error is shown
    window.runner.finished.connect(loaded)
    window.loader.failed.connect(lambda *_: QtCore.QTimer.singleShot(100, save))
    QtCore.QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: save(final=True))
    if path.endswith(".py"):
        window.open_script(path)
    elif not window.open_run_file(path, early):
        QtCore.QTimer.singleShot(100, save)
    app.exec()
    return status["code"]
