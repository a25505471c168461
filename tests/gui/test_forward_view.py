"""The inspector on forward-mode runs: accumulators beside the tapes, tangents beside values in the
graph and the inspector panel, jvp calls beside gradient calls, a None jvp in the problems list."""
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore

import tapeviz as tf
from tapeviz.gui.forward import accumulator_subject, forward_path_keys
from tapeviz.gui.graph import build_graph, hover_text
from tapeviz.gui.loader import index_run
from tapeviz.gui.main_window import EXAMPLES_DIR
from tapeviz.gui.problems import run_problems
from tapeviz.inspection.tapefile import load, save

EXAMPLE = os.path.join(EXAMPLES_DIR, "forward_mode.py")


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    """The bundled example, recorded and read back from a tape file (as `tapeviz gui FILE` opens it)."""
    with tf.record() as rec:
        names = runpy.run_path(EXAMPLE, run_name="__main__")
    path = save(rec.snapshot(), tmp_path_factory.mktemp("forward") / "forward.tapeviz")
    return load(path), names


def test_the_example_jvp_is_the_directional_derivative(example_run):
    """acc.jvp(out) against a central difference of the MLP along the direction (float64)."""
    run, names = example_run
    x, w1, w2 = (np.asarray(names[n].numpy(), np.float64) for n in ("x", "w1", "w2"))
    direction = np.ones_like(w1)

    def mlp(w):
        return np.sum(np.tanh(x @ w) @ w2)

    step = 1e-6
    expected = (mlp(w1 + step * direction) - mlp(w1 - step * direction)) / (2 * step)
    (jvp_out, jvp_int, hvp) = run.jvps
    assert jvp_out.results[0].summary["min"] == pytest.approx(expected, rel=1e-4)
    assert jvp_int.results[0].is_none and jvp_int.results[0].reason == "NOT_FLOATING"
    np.testing.assert_allclose(hvp.results[0].value, [2.5941598, 0.0, 0.0], rtol=1e-6)   # TF 2.21's H v


def test_an_accumulator_graph_shows_each_tangent_beside_its_value(example_run):
    run, names = example_run
    graph = build_graph(run, accumulator_subject(1))
    ops = {n.label: n for n in graph.nodes.values() if n.kind == "op"}
    assert sorted(ops) == ["MatMul", "Sum", "Tanh"]   # both MatMuls are one label
    primal = graph.nodes[f"t:{names['w1']._id}"]
    assert "watched" in primal.flags and primal.tangent == "tangent 1"
    out = next(n for n in graph.nodes.values() if n.label == "Sum")
    value = run.tensors[names["out"]._id].summary["min"]
    tangent = run.accumulators[1].tangents[names["out"]._id].summary["min"]
    assert out.tangent == f"tangent {tangent:.3g}"
    hover = hover_text(out)
    assert f"min {value:.4g}" in hover and f"tangent: min {tangent:.4g}" in hover
    assert hover.index(f"min {value:.4g}") < hover.index("tangent:")   # the value first, its tangent beside it


def test_a_tape_graph_shows_the_tangents_of_forward_over_backward(example_run):
    run, names = example_run
    graph = build_graph(run, 1)   # the HVP's GradientTape
    with_tangent = [n for n in graph.nodes.values() if n.tangent]
    assert with_tangent and all("(accumulator 2)" in n.detail for n in with_tangent)
    keys = forward_path_keys(run, 2, names["grad"]._id)
    assert f"t:{names['p']._id}" in keys and any(k.startswith("op:") for k in keys)


def test_a_none_jvp_is_a_problem_counted_on_its_accumulator(example_run):
    run, names = example_run
    problems, groups = run_problems(run)
    (problem,) = [p for p in problems if p.call.kind == "jvp"]
    assert problem.text == "jvp of positive is None: NOT_FLOATING" and problem.target == names["positive"]._id
    index = index_run(run)
    assert index.problems_per_accumulator == {1: 1} and sum(index.problems_per_tape.values()) == 0


def _open(qtbot, window, run):
    window.session.set_run(run)
    qtbot.wait(50)   # the first problem is selected one event-loop turn after the run opens
    qtbot.waitUntil(lambda: window.graph.is_ready(), timeout=30_000)


def test_the_window_lists_accumulators_and_opens_on_the_none_jvp(qtbot, window, example_run):
    run, names = example_run
    _open(qtbot, window, run)
    model = window.tapes.model
    rows = [[model.data(model.index(row, column)) for column in range(7)] for row in range(model.rowCount())]
    assert [r[0] for r in rows] == ["tape 1", "accumulator 1", "accumulator 2"]
    assert rows[1][1] == "1" and rows[1][3] == str(len(run.accumulators[1].ops)) and rows[1][6] == "forward"
    # The first problem is the None jvp: its accumulator's graph is shown and its explanation names the reason.
    assert window.session.accumulator_id == 1 and window.session.tape_id is None
    assert window.graph._tape_id == accumulator_subject(1)
    assert window.problems.summary.text() == "1 None jvp results"
    text = window.problems.explanation.toPlainText()
    assert "NOT_FLOATING" in text and "only floating-point tensors carry tangents" in text
    assert window.watched.model.rowCount() == 1 and "primal, tangent min 1" in window.watched.model.text(0, 4)
    drawn = [item for item in window.graph._items.values() if item.node.tangent]
    assert len(drawn) == 5 and all("tangent" in item.toolTip() for item in drawn)


def test_choosing_a_tape_then_an_accumulator_switches_the_graph(qtbot, window, example_run):
    run, _ = example_run
    _open(qtbot, window, run)
    model, view = window.tapes.model, window.tapes.view
    view.setCurrentIndex(model.index(0, 0))
    qtbot.waitUntil(lambda: window.graph.is_ready() and window.graph._tape_id == 1, timeout=30_000)
    assert window.session.tape_id == 1 and window.session.accumulator_id is None
    assert window.step_label.text() == "Select a gradient to walk its backward pass."
    view.setCurrentIndex(model.index(2, 0))
    qtbot.waitUntil(lambda: window.graph.is_ready() and window.graph._tape_id == accumulator_subject(2),
                    timeout=30_000)
    assert "accumulator 2" in window.graph_status.text()
    assert "ForwardAccumulator 2" in window.inspector.toPlainText()
    assert window.tapes.apply_filter("accumulator") == 0 and not view.isRowHidden(2, model.index(-1, 0))


def test_the_inspector_shows_the_tangent_beside_the_value(qtbot, window, example_run):
    run, names = example_run
    _open(qtbot, window, run)
    out = run.tensors[names["out"]._id]
    window.session.node_selected.emit(f"op:{out.producer}")
    text = window.inspector.toPlainText()
    assert "output value" in text and "tangent in accumulator 1" in text
    assert text.index("output value") < text.index("tangent in accumulator 1")
    window.session.node_selected.emit(f"t:{names['w1']._id}")
    assert "tangent in accumulator 1" in window.inspector.toPlainText()


def test_jvp_calls_are_listed_with_the_gradient_calls(qtbot, window, example_run):
    run, names = example_run
    _open(qtbot, window, run)
    model, view = window.gradients.model, window.gradients.view
    tops = [model.index(row, 0) for row in range(model.rowCount())]
    assert [model.data(t).split(" (")[0] for t in tops] == ["gradient 1", "jvp 1", "jvp 2", "jvp 3"]
    none_row = model.index(0, 0, tops[2])
    assert (model.data(none_row.siblingAtColumn(1)), model.data(none_row.siblingAtColumn(2))) == ("None", "NOT_FLOATING")
    assert model.data(none_row, QtCore.Qt.ItemDataRole.ForegroundRole) is not None   # red: a None jvp
    assert window.gradients.apply_filter("problems") == 1   # only the None jvp's call is left
    window.gradients.apply_filter("")
    tops = [model.index(row, 0) for row in range(model.rowCount())]
    none_row = model.index(0, 0, tops[2])
    highlighted = []
    original = window.graph.highlight
    window.graph.highlight = lambda keys, broken=frozenset(): (highlighted.append((set(keys), set(broken))),
                                                               original(keys, broken))
    view.setCurrentIndex(model.index(0, 0, tops[3]))   # H v, on accumulator 2
    assert window.session.accumulator_id == 2
    assert "tangent" in window.gradients.explanation.toPlainText()
    keys, broken = highlighted[-1]
    assert f"t:{names['p']._id}" in keys and not broken
    view.setCurrentIndex(none_row)
    keys, broken = highlighted[-1]
    assert broken == {f"t:{names['positive']._id}"} or broken == {f"op:{run.tensors[names['positive']._id].producer}"}
    assert "NOT_FLOATING" in window.gradients.explanation.toPlainText()


def test_screenshot_of_a_run_with_only_an_accumulator(tmp_path):
    """`tapeviz gui FILE --screenshot` waits for an accumulator's graph when the run has no tape."""
    with tf.record() as rec:
        x = tf.constant([1.0, 2.0])
        with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0])) as acc:
            y = tf.reduce_sum(tf.exp(x))
        acc.jvp(y)
    run = rec.snapshot()
    assert not run.tapes and run.accumulators
    path = save(run, tmp_path / "only.tapeviz")
    out = tmp_path / "shot.png"
    done = subprocess.run([sys.executable, "-m", "tapeviz", "gui", "--screenshot", str(out), str(path)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert out.stat().st_size > 10_000


def test_accumulators_made_by_a_loop_are_one_group_row(qtbot, window):
    with tf.record() as rec:
        x = tf.constant([1.0, 2.0])
        for step in range(4):
            with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, float(step)])) as acc:
                y = tf.reduce_sum(x * x) if step != 2 else tf.reduce_sum(tf.cast(x, tf.int32))
            acc.jvp(y)
    run = rec.snapshot()
    _open(qtbot, window, run)
    model = window.tapes.model
    assert model.rowCount() == 1
    group = model.index(0, 0)
    assert model.data(group).endswith(" x4") and model.data(model.index(0, 1)) == "1"   # the None of step 3
    assert model.rowCount(group) == 4 and model.accumulator_at(model.index(2, 0, group)) == 3
    # The None jvp opens first: its accumulator, inside the group, is the current row.
    assert window.session.accumulator_id == 3 and model.accumulator_at(window.tapes.view.currentIndex()) == 3
    window.tapes.view.setCurrentIndex(model.index(1, 0, group))
    qtbot.waitUntil(lambda: window.graph.is_ready() and window.graph._tape_id == accumulator_subject(2),
                    timeout=30_000)
    assert window.tapes.apply_filter("problems") == 0
    assert window.tapes.view.isRowHidden(1, group) and not window.tapes.view.isRowHidden(2, group)
