"""Shared set-up for the inspector's tests: Qt offscreen, and one main window per test."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def window(qtbot, tmp_path):
    """A shown main window with its own settings file; a run still going is cancelled at the end, and
    the editor's text counts as saved so that closing asks nothing."""
    from PySide6 import QtCore

    from tapeviz.gui.main_window import MainWindow

    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    main = MainWindow(settings)
    qtbot.addWidget(main)
    main.show()
    yield main
    if main.runner.is_running():
        with qtbot.waitSignal(main.runner.finished, timeout=RUN_TIMEOUT_MS):
            main.runner.cancel()
    main.editor.document().setModified(False)
    main.runner.shutdown()
