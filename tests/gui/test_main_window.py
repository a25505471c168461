"""The inspector's main window, driven for real (offscreen): scripts, tape files, panels, plots."""
import os
import subprocess
import sys

from PySide6 import QtCore

from tapeviz.gui.graph import build_graph
from tapeviz.gui.main_window import EXAMPLES_DIR, examples

from .conftest import RUN_TIMEOUT_MS


def run_script(qtbot, window, path):
    with qtbot.waitSignal(window.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.open_script(str(path))
    return blocker.args


def wait_for_graph(qtbot, window):
    qtbot.wait(50)   # the first problem is selected one event-loop turn after the run opens
    qtbot.waitUntil(lambda: window.graph.is_ready() and window.graph._tape_id == window.session.tape_id,
                    timeout=30_000)


def open_file(qtbot, window, path):
    with qtbot.waitSignal(window.session.run_changed, timeout=30_000):
        assert window.open_run_file(str(path))


def test_examples_menu_lists_the_seed_tutorial_and_none_reasons():
    titles = [title for title, _ in examples()]
    assert any(t.startswith("Seed tutorial (whole)") for t in titles)
    assert sum(t.startswith("Seed tutorial ") for t in titles) >= 5
    assert sum(t.startswith("Why None") for t in titles) >= 3


def test_five_cases_example_fills_every_panel(qtbot, window):
    run, status, message = run_script(qtbot, window, os.path.join(EXAMPLES_DIR, "s2_five_cases.py"))
    assert status == 0 and run is not None
    assert window.tapes.row_count() == len(run.tapes) == 5
    wait_for_graph(qtbot, window)
    first = build_graph(run, window.session.tape_id)
    assert (window.graph.node_count(), window.graph.edge_count()) == (len(first.nodes), len(first.edges))
    assert first.nodes and first.edges
    window.session.set_tape(1)
    names = [window.watched.model.text(i, 0) for i in range(window.watched.row_count())]
    assert names == ["w:0", "b:0", "x:0"]
    # The trainable=False case: its variable shows as used but not watched, and its Nones are explained.
    window.session.set_tape(2)
    rows = {window.watched.model.text(i, 0): window.watched.model.text(i, 4) for i in range(window.watched.row_count())}
    assert rows["Variable:0"].startswith("NOT WATCHED")
    item = window.gradients.select_first_none()
    assert item is not None and item.siblingAtColumn(1).data() == "None"
    html = window.gradients.explanation.toHtml()
    assert "SOURCE_NOT_TRAINABLE" in html and "tape.watch" in html
    assert "Console" in window.docks and "[+] tensor_dy_dx:" in window.console.toPlainText()


def test_plot_example_draws_the_function_and_its_derivative(qtbot, window):
    import numpy as np
    run, status, _ = run_script(qtbot, window, os.path.join(EXAMPLES_DIR, "s5_plot.py"))
    assert status == 0
    call = run.calls[0]
    window.gradient_plot.show_call(run, call)
    curves = {item.name(): item.getData() for item in window.gradient_plot.curves()}
    (fx, fy), = [v for k, v in curves.items() if not k.startswith("d ")]
    (dx, dy), = [v for k, v in curves.items() if k.startswith("d ")]
    np.testing.assert_allclose(fy, 4 * fx ** 2 + 3, rtol=1e-5)
    np.testing.assert_allclose(dy, 8 * dx, rtol=1e-5, atol=1e-4)


def test_selecting_a_none_highlights_where_the_path_breaks(qtbot, window):
    run_script(qtbot, window, os.path.join(EXAMPLES_DIR, "why_none_paths.py"))
    wait_for_graph(qtbot, window)
    highlighted = []
    original = window.graph.highlight
    window.graph.highlight = lambda keys, broken=frozenset(): (highlighted.append((set(keys), set(broken))),
                                                               original(keys, broken))
    item = window.gradients.select_first_none()
    assert item is not None
    keys, broken = highlighted[-1]
    assert broken, "a None must mark where its path breaks"


def test_failing_script_shows_its_traceback_and_keeps_earlier_tapes(qtbot, window, tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("import tapeviz as tf\nx = tf.Variable(1.0)\nwith tf.GradientTape() as t:\n"
                      "    y = x * 2.0\nt.gradient(y, x)\nraise ValueError('on purpose')\n")
    run, status, message = run_script(qtbot, window, script)
    assert status == 1 and run is not None and len(run.tapes) == 1
    assert "ValueError: on purpose" in window.console.toPlainText()
    assert "Traceback" in window.console.toPlainText()
    assert window.isVisible() and window.tapes.row_count() == 1


def test_long_script_can_be_cancelled(qtbot, window, tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("import time\nimport tapeviz as tf\nx = tf.Variable(1.0)\nwith tf.GradientTape() as t:\n"
                      "    y = x * 2.0\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.05)\n")
    window.open_script(str(script))
    qtbot.waitUntil(lambda: "started" in window.console.toPlainText(), timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(window.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.runner.cancel()
    run, status, message = blocker.args
    assert message.startswith("Cancelled") and not window.runner.is_running()
    assert run is not None and len(run.tapes) == 1  # the tapes recorded before the cancel are kept


def test_corrupt_tape_file_gives_a_message_not_a_crash(qtbot, window, tmp_path):
    bad = tmp_path / "bad.tapeviz"
    bad.write_bytes(b"definitely not a zip")
    with qtbot.waitSignal(window.loader.failed, timeout=10_000):
        window.open_run_file(str(bad))
    assert "not a readable tape file" in window.last_error
    assert window.open_run_file(str(tmp_path / "missing.tapeviz")) is False
    assert "no such file" in window.last_error
    assert window.isVisible()


def test_saved_run_reopens_with_the_same_tapes(qtbot, window, tmp_path):
    from tapeviz.inspection.tapefile import save
    run, _, _ = run_script(qtbot, window, os.path.join(EXAMPLES_DIR, "s4_control_flow.py"))
    path = tmp_path / "flow.tapeviz"
    save(run, path)
    open_file(qtbot, window, path)
    assert window.tapes.row_count() == len(run.tapes)
    recent = window.settings.value("recent")
    assert str(path) in (recent if isinstance(recent, list) else [recent])


def test_editor_code_runs_with_ctrl_enter(qtbot, window):
    window.editor.setPlainText("import tapeviz as tf\nx = tf.constant(2.0)\nwith tf.GradientTape() as t:\n"
                               "    t.watch(x)\n    y = x * x\nprint('grad', float(t.gradient(y, x)))\n")
    with qtbot.waitSignal(window.runner.finished, timeout=RUN_TIMEOUT_MS):
        qtbot.keyClick(window.editor, QtCore.Qt.Key.Key_Return, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert "grad 4.0" in window.console.toPlainText()


def test_screenshot_command(tmp_path):
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "-m", "tapeviz", "gui", "--screenshot", str(out),
                           os.path.join(EXAMPLES_DIR, "s1_persistent_tape.py")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000


def test_scoped_names_show_their_tail_in_the_lists_and_whole_in_tooltips(qtbot, window, tmp_path):
    import tapeviz as tf
    from tapeviz.inspection.tapefile import save
    with tf.record() as rec:
        kernel = tf.Variable(tf.ones((3, 2)), name="sequential/dense_1/kernel")
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.ones((1, 3)) @ kernel)
        tape.gradient(loss, kernel)
    path = tmp_path / "scoped.tapeviz"
    save(rec.snapshot(), path)
    open_file(qtbot, window, path)
    window.session.set_tape(next(iter(window.session.run.tapes)))
    model = window.watched.model
    assert model.text(0, 0) == "dense_1/kernel:0"
    assert model.data(model.index(0, 0), QtCore.Qt.ItemDataRole.ToolTipRole) == "sequential/dense_1/kernel:0"
    gradients = window.gradients.model
    child = gradients.index(0, 0, gradients.index(0, 0))
    assert "'dense_1/kernel:0'" in child.data() and "sequential/dense_1/kernel:0" in child.data(QtCore.Qt.ItemDataRole.ToolTipRole)
