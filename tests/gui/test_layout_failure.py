"""The inspector reports a graph it could not lay out, instead of saying "Laying out the graph..." forever."""
from PySide6 import QtCore, QtWidgets

import tapeviz as tf
from tapeviz.gui import graph_view
from tapeviz.inspection.tapefile import save


def shown_messages(window):
    return [box.text() for box in window.findChildren(QtWidgets.QMessageBox) if box.isVisible()]


def test_a_layout_failure_is_reported_in_the_status_bar_and_the_view(qtbot, window, tmp_path, monkeypatch):
    with tf.record() as rec:
        x = tf.Variable(1.0)
        with tf.GradientTape() as tape:
            y = tf.sin(x)
        tape.gradient(y, x)
    path = save(rec.snapshot(), tmp_path / "run.tapeviz")

    def broken_layout(*args, **kwargs):
        raise RuntimeError("no room for the nodes")   # a RuntimeError: not taken for a closed window
    monkeypatch.setattr(graph_view, "plan_graph", broken_layout)
    # one handler reports it (twice connected, the message box would show twice)
    assert window.graph.receivers(QtCore.SIGNAL("layout_failed(QString)")) == 1
    with qtbot.waitSignal(window.graph.layout_failed, timeout=10_000):
        assert window.open_run_file(str(path))   # loads in a worker; the layout follows
    assert "could not lay out" in window.graph_status.text()
    assert "no room for the nodes" in window.last_error
    assert "no room for the nodes" in window.statusBar().currentMessage()
    assert len([m for m in shown_messages(window) if "no room for the nodes" in m]) == 1
    assert not window.graph.is_ready() and window.graph._failed


def test_a_damaged_file_is_reported_and_nothing_is_laid_out(qtbot, window, tmp_path):
    bad = tmp_path / "bad.tapeviz"
    bad.write_bytes(b"PK\x05\x06" + bytes(18))   # an empty zip: no tape file inside
    laid_out = []
    window.graph.layout_ready.connect(lambda: laid_out.append("ready"))
    window.graph.layout_failed.connect(lambda details: laid_out.append("failed"))
    with qtbot.waitSignal(window.loader.failed, timeout=10_000):
        assert window.open_run_file(str(bad))   # the file exists: it is read in a worker
    assert str(bad) in window.last_error and str(bad) in window.statusBar().currentMessage()
    assert [m for m in shown_messages(window) if str(bad) in m]
    assert window.session.run is None and not window.loader.is_busy()
    qtbot.wait(100)
    assert laid_out == [] and window.graph._run is None


def test_loading_shows_how_far_it_is_in_the_progress_bar(qtbot, window, tmp_path):
    with tf.record() as rec:
        x = tf.Variable(0.5)
        with tf.GradientTape() as tape:
            y = x
            for _ in range(3000):
                y = tf.sin(y) * 1.01
        tape.gradient(y, x)
    path = save(rec.snapshot(), tmp_path / "chain.tapeviz")
    seen = []
    window.loader.progress.connect(lambda fraction, step: seen.append((window.progress.maximum(),
                                                                         window.progress.value(), step)))
    with qtbot.waitSignal(window.loader.loaded, timeout=30_000):
        assert window.open_run_file(str(path))
    # Seen after the window's own handler (connected first): a determinate bar at the reported percentage.
    assert seen and all(maximum == 100 and 0 <= value <= 100 for maximum, value, _ in seen)
    assert {"decoding", "checking"} <= {step for _, _, step in seen}
    assert not window.progress.isVisible()


def test_the_window_lets_its_workers_hand_the_interpreter_back_often(window):
    # Loading and layout run Python in worker threads; the UI thread must get the lock back within a
    # millisecond or so, or every slot waits for a worker's whole turn.
    import sys

    from tapeviz.gui.main_window import UI_SWITCH_INTERVAL_S

    assert sys.getswitchinterval() <= UI_SWITCH_INTERVAL_S <= 0.001
