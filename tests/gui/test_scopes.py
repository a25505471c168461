"""Layers and modules in the graph: ops grouped by the name scope they ran in, nested, collapsible;
an optimizer's update drawn apart as a stateful assignment outside the tape."""
import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6 import QtCore  # noqa: E402

import tapeviz as tf  # noqa: E402
from tapeviz import keras  # noqa: E402
from tapeviz.gui.graph import build_graph, fold_graph, layout, update_key  # noqa: E402
from tapeviz.gui.graph_items import size_of  # noqa: E402
from tapeviz.gui.graph_view import GraphView  # noqa: E402
from tapeviz.inspection.tapefile import save  # noqa: E402

from .test_main_window import open_file, wait_for_graph  # noqa: E402


@pytest.fixture(scope="module")
def mlp_steps():
    """Two steps of a Keras MLP trained by hand: tape, loss, gradient, Adam."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam()
    x, y = tf.random.normal((16, 6)), np.arange(16) % 3
    with tf.record() as recorder:
        for _ in range(2):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        with tf.GradientTape() as tape:   # evaluated, never updated
            loss_fn(y, model(x))
    run = recorder.snapshot()
    return run, list(run.tapes)


def op_scopes(graph):
    return {node.label: node.scope for node in graph.nodes.values() if node.kind == "op"}


def test_ops_and_their_variables_are_in_the_scope_they_ran_in(mlp_steps):
    run, tapes = mlp_steps
    graph = build_graph(run, tapes[0])
    matmuls = sorted(n.scope for n in graph.nodes.values() if n.label == "MatMul")
    assert matmuls == ["sequential/dense", "sequential/dense_1"]
    assert op_scopes(graph)["Relu"] == "sequential/dense"
    variables = {n.label: n.scope for n in graph.nodes.values() if n.kind == "variable"}
    assert variables == {"sequential/dense/kernel:0": "sequential/dense", "sequential/dense/bias:0": "sequential/dense",
                         "sequential/dense_1/kernel:0": "sequential/dense_1",
                         "sequential/dense_1/bias:0": "sequential/dense_1"}
    loss_ops = [n for n in graph.nodes.values() if n.kind == "op" and not n.scope.startswith("sequential")]
    assert loss_ops and {n.scope for n in loss_ops} == {"sparse_categorical_crossentropy"}


def test_scopes_fold_outermost_first_and_open_one_level_at_a_time(mlp_steps):
    run, tapes = mlp_steps
    full = build_graph(run, tapes[0])
    closed, owner = fold_graph(full, repeats=False, scopes=True)
    boxes = {n.scope: n for n in closed.nodes.values() if n.kind == "scope"}
    assert set(boxes) == {"sequential", "sparse_categorical_crossentropy"}
    assert boxes["sequential"].label.startswith("sequential (")
    assert {k for k, drawn in owner.items() if drawn == "scope:sequential" and k in full.nodes} == \
        {k for k, n in full.nodes.items() if n.scope.startswith("sequential")}
    opened, owner = fold_graph(full, expanded={"sequential"}, repeats=False, scopes=True)
    boxes = {n.scope: n for n in opened.nodes.values() if n.kind == "scope"}
    assert set(boxes) == {"sequential/dense", "sequential/dense_1", "sparse_categorical_crossentropy"}
    # MatMul, AddV2, Relu (the variable reads are drawn as part of the kernel and bias, inside too)
    assert boxes["sequential/dense"].label == "sequential/dense (3 ops)"
    assert boxes["sequential/dense"].detail == "3 ops, 2 tensors"
    assert ("scope:sequential/dense", "scope:sequential/dense_1") in {(e.source, e.target) for e in opened.edges}
    everything = {"sequential", "sequential/dense", "sequential/dense_1", "sparse_categorical_crossentropy"}
    drawn, _ = fold_graph(full, expanded=everything, repeats=False, scopes=True)
    assert not any(n.kind == "scope" for n in drawn.nodes.values())


def test_an_optimizer_update_is_drawn_apart_below_the_tape_it_followed(mlp_steps):
    run, tapes = mlp_steps
    graph = build_graph(run, tapes[0])
    update = graph.nodes[update_key(tapes[0])]
    assert update.kind == "update" and update.label == "adam: assign 4 variables"
    assert "not recorded, no gradient flows through it" in update.detail
    assert {n.label for n in graph.nodes.values() if "updated" in n.flags} == \
        {n.label for n in graph.nodes.values() if n.kind == "variable"}
    assert not any(update.key in (e.source, e.target) for e in graph.edges)   # outside the tape: no edge
    assert update_key(tapes[1]) in build_graph(run, tapes[1]).nodes
    from tapeviz.gui.updates import assignments_after
    first, second = assignments_after(run, tapes[0]), assignments_after(run, tapes[1])
    assert first and second and max(e.seq for e in first) < run.tapes[tapes[1]].spans[0][0] < min(e.seq for e in second)
    assert {e.scope for e in first + second} == {"adam"}
    assert update_key(tapes[2]) not in build_graph(run, tapes[2]).nodes   # the evaluation was not followed by one
    layout(graph, width_of=lambda node: size_of(node.kind)[0])
    assert update.y > max(n.y for n in graph.nodes.values() if n.kind != "update")


@pytest.fixture
def view(qtbot):
    widget = GraphView()
    widget.resize(1000, 700)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_open_scopes_are_framed_around_their_nodes_and_a_double_click_closes_one(qtbot, view, mlp_steps):
    run, tapes = mlp_steps
    with qtbot.waitSignal(view.layout_ready, timeout=10000):
        view.set_graph(run, tapes[0])
    frames = {frame.scope: frame for frame in view.frames()}
    assert set(frames) == {"sequential", "sequential/dense", "sequential/dense_1", "sparse_categorical_crossentropy"}
    assert frames["sequential/dense"].label == "dense"   # inside the "sequential" frame, its own name
    assert frames["sequential"].label == "sequential"
    for node in view.graph().nodes.values():
        centre = QtCore.QPointF(node.x, node.y)
        for scope, frame in frames.items():
            inside = node.scope == scope or node.scope.startswith(scope + "/")
            assert frame.outline.contains(centre) == inside, (node.label, node.scope, scope)
    # Double-click the frame of the first layer where it has no node: that layer closes into one box.
    frame = frames["sequential/dense"]
    point = frame.label_at + QtCore.QPointF(4, 4)
    view.centerOn(point)
    at = view.mapFromScene(point)
    assert view.frame_at(at) == "sequential/dense"
    with qtbot.waitSignal(view.layout_ready, timeout=10000):
        qtbot.mouseDClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=at)
    boxes = [n for n in view.graph().nodes.values() if n.kind == "scope"]
    assert [n.scope for n in boxes] == ["sequential/dense"]
    assert "MatMul" in {n.label for n in view.graph().nodes.values()}   # dense_1's ops still drawn
    assert {f.scope for f in view.frames()} == {"sequential", "sequential/dense_1", "sparse_categorical_crossentropy"}
    with qtbot.waitSignal(view.layout_ready, timeout=10000):   # and a double-click on the box opens it again
        view.expand(boxes[0].key)
    assert not any(n.kind == "scope" for n in view.graph().nodes.values())


def test_group_scopes_and_expand_all_in_the_window(qtbot, window, tmp_path, mlp_steps):
    run, tapes = mlp_steps
    path = save(run, tmp_path / "mlp.tapeviz")
    open_file(qtbot, window, path)
    window.session.set_tape(tapes[0])
    wait_for_graph(qtbot, window)
    assert not window.scope_box.isChecked()   # a small graph opens with every op, its scopes framed
    assert {f.scope for f in window.graph.frames()} >= {"sequential/dense", "sequential/dense_1"}
    with qtbot.waitSignal(window.graph.layout_ready, timeout=10000):
        window.scope_box.setChecked(True)
    drawn = window.graph.graph().nodes
    assert {n.label.split(" (")[0] for n in drawn.values() if n.kind == "scope"} == \
        {"sequential", "sparse_categorical_crossentropy"}
    assert update_key(tapes[0]) in drawn   # the update stays outside every scope
    window.graph.node_selected.emit(update_key(tapes[0]))   # as a click on it does
    text = window.inspector.toPlainText()
    assert "Stateful assignments, outside the tape" in text
    assert "assign to sequential/dense/kernel:0 in scope adam" in text
    with qtbot.waitSignal(window.graph.layout_ready, timeout=10000):
        window.expand_button.click()
    assert not any(n.kind == "scope" for n in window.graph.graph().nodes.values())
    assert not window.scope_box.isChecked()


def test_dot_export_draws_open_scopes_as_nested_clusters(mlp_steps):
    from tapeviz.gui.export import tape_dot
    run, tapes = mlp_steps
    dot = tape_dot(run, tapes[0], fold=False)
    outer, inner = dot.index('subgraph "cluster_sequential" {'), dot.index('subgraph "cluster_sequential/dense" {')
    assert outer < inner and 'label="dense";' in dot and dot.count("{") == dot.count("}")
    matmul = next(line for line in dot.splitlines() if 'label="MatMul"' in line)
    assert matmul.startswith("      ")   # inside both clusters
    assert f'"{update_key(tapes[0])}" [label="adam: assign 4 variables"' in dot


def test_a_loop_folded_inside_a_layer_stays_in_its_scope():
    class Looping(keras.layers.Layer):
        def call(self, x):
            for _ in range(20):
                x = tf.sin(x) * 1.01
            return x

    keras.backend.clear_session()
    layer = Looping(name="looping")
    with tf.record() as recorder:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape():
            tf.reduce_sum(layer(x) * 2.0)
    run = recorder.snapshot()
    full = build_graph(run, next(iter(run.tapes)))
    folded, _ = fold_graph(full, repeats=True)
    (block,) = [n for n in folded.nodes.values() if n.kind == "fold"]
    assert block.label.startswith("Sin, Mul x") and block.scope == "looping"
    closed, owner = fold_graph(folded, repeats=False, scopes=True)
    assert owner[block.key] == "scope:looping"
