"""The compound layout: each open scope's nodes in one rectangle, rectangles nested as the scopes are
and apart from their siblings, flow from inputs at the top to the loss at the bottom."""
import itertools

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import tapeviz as tf  # noqa: E402
from tapeviz import keras  # noqa: E402
from tapeviz.gui.graph import Edge, Node, TapeGraph, build_graph, fold_graph, layout  # noqa: E402
from tapeviz.gui.graph_items import HGAP, VGAP, size_of  # noqa: E402
from tapeviz.gui.graph_view import GraphView  # noqa: E402
from tapeviz.gui.scopes import open_scopes  # noqa: E402


def lay_out(graph):
    return layout(graph, hgap=HGAP, vgap=VGAP, width_of=lambda n: size_of(n.kind)[0],
                  height_of=lambda n: size_of(n.kind)[1])


@pytest.fixture(scope="module")
def nested_model():
    """A functional model with a Sequential block inside (three levels of scopes) and its loss."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    block = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(4)], name="block")
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(6, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(block(hidden)))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.record() as recorder:
        x, y = tf.random.normal((8, 5)), np.arange(8) % 3
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        tape.gradient(loss, model.trainable_variables)
    run = recorder.snapshot()
    return run, next(iter(run.tapes))


def box_of(node):
    w, h = size_of(node.kind)
    return (node.x - w / 2, node.y - h / 2, node.x + w / 2, node.y + h / 2)


def inside(inner, outer):
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def meet(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_compound(graph):
    """Every property the frames promise, on a laid-out graph."""
    boxes = graph.scope_boxes
    scopes = {s for node in graph.nodes.values() for s in open_scopes(node)}
    assert set(boxes) == scopes
    for node in graph.nodes.values():
        mine = set(open_scopes(node))
        for scope, rect in boxes.items():
            if scope in mine:
                assert inside(box_of(node), rect), (node.label, scope)
            else:   # a node of another scope, or of none, is never drawn inside this frame
                assert not meet(box_of(node), rect), (node.label, node.scope, scope)
    for scope in scopes:
        parent = scope.rpartition("/")[0]
        if parent:
            assert inside(boxes[scope], boxes[parent]) and boxes[scope] != boxes[parent], scope
    for a, b in itertools.combinations(sorted(scopes), 2):
        if not b.startswith(a + "/") and not a.startswith(b + "/"):   # siblings or cousins: apart
            assert not meet(boxes[a], boxes[b]), (a, b)
    for edge in graph.edges:   # flow: every value goes down to the op that reads it
        assert graph.nodes[edge.source].y < graph.nodes[edge.target].y, (edge.source, edge.target)


def test_each_scope_is_one_rectangle_nested_in_its_parent_and_apart_from_its_siblings(nested_model):
    run, tape_id = nested_model
    graph = lay_out(fold_graph(build_graph(run, tape_id), repeats=False)[0])
    assert {"functional", "functional/block", "functional/block/dense", "functional/head",
            "sparse_categorical_crossentropy"} <= set(graph.scope_boxes)
    check_compound(graph)
    boxes = graph.scope_boxes
    # inputs on top, the loss at the bottom: the model's frame above the loss's
    assert boxes["functional"][3] < boxes["sparse_categorical_crossentropy"][1]
    assert boxes["functional/dense_2"][3] < boxes["functional/block"][1] < boxes["functional/block"][3] \
        < boxes["functional/head"][1]


def test_closed_scopes_are_boxes_inside_the_open_frame_around_them(nested_model):
    run, tape_id = nested_model
    drawn, _ = fold_graph(build_graph(run, tape_id), expanded={"functional"}, repeats=False, scopes=True)
    closed = {n.scope for n in drawn.nodes.values() if n.kind == "scope"}
    assert "functional/block" in closed and "functional/head" in closed
    graph = lay_out(drawn)
    assert set(graph.scope_boxes) == {"functional"}   # only the open scope is framed
    check_compound(graph)


def test_a_deep_sequential_model_is_a_column_of_layer_frames():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,))] + [keras.layers.Dense(3, activation="relu") for _ in range(30)])
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.random.normal((2, 3))))
        tape.gradient(loss, model.trainable_variables)
    run = recorder.snapshot()
    graph = lay_out(fold_graph(build_graph(run, next(iter(run.tapes))), repeats=False)[0])
    check_compound(graph)
    layers = sorted((box for scope, box in graph.scope_boxes.items() if scope.count("/") == 1), key=lambda b: b[1])
    assert len(layers) == 30
    centres = {round((box[0] + box[2]) / 2) for box in layers}
    assert len(centres) == 1   # one straight column, not a drift sideways layer after layer
    outer = graph.scope_boxes["sequential"]
    assert outer[2] - outer[0] < 2 * (layers[0][2] - layers[0][0])


def test_a_value_leaving_a_scope_and_coming_back_still_gives_each_scope_one_rectangle():
    """A scope's output read outside and fed back in makes a cycle between the boxes of a level."""
    nodes = {k: Node(k, "op", k, scope=s) for k, s in
             [("a1", "a"), ("out", ""), ("a2", "a"), ("b1", "b"), ("b2", "b/inner"), ("b3", "b/inner")]}
    edges = [Edge("a1", "out", 1), Edge("out", "a2", 2), Edge("a2", "b1", 3), Edge("b1", "b2", 4),
             Edge("b2", "b3", 5)]
    graph = lay_out(TapeGraph(nodes, edges))
    boxes = graph.scope_boxes
    assert set(boxes) == {"a", "b", "b/inner"}
    for node in nodes.values():
        for scope, rect in boxes.items():
            assert inside(box_of(node), rect) == (scope in open_scopes(node)), (node.key, scope)
    assert not meet(boxes["a"], boxes["b"])


def test_a_graph_without_scopes_keeps_the_flat_layout():
    nodes = {k: Node(k, "op", k) for k in "abc"}
    graph = lay_out(TapeGraph(nodes, [Edge("a", "b", 1), Edge("b", "c", 2)]))
    assert graph.scope_boxes == {}
    assert [nodes[k].y for k in "abc"] == [0.0, VGAP, 2 * VGAP]


def test_the_view_draws_each_frame_as_the_layout_rectangle(qtbot, nested_model):
    run, tape_id = nested_model
    view = GraphView()
    view.resize(900, 700)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.layout_ready, timeout=10000):
        view.set_graph(run, tape_id)
    boxes = view.graph().scope_boxes
    frames = {frame.scope: frame for frame in view.frames()}
    assert set(frames) == set(boxes)
    for scope, frame in frames.items():
        rect = frame.outline.boundingRect()
        assert (rect.left(), rect.top(), rect.right(), rect.bottom()) == pytest.approx(boxes[scope])
        assert frame.label == scope.rpartition("/")[2]   # the short name as the title
        title = frame.label_at
        assert boxes[scope][0] < title.x() and boxes[scope][1] < title.y()
        assert not any(inside((title.x(), title.y(), title.x() + 1, title.y() + 1), boxes[other])
                       for other in boxes if other.startswith(scope + "/"))   # no inner frame covers the title


def test_an_svg_export_draws_the_frames_where_the_inspector_does(nested_model):
    import xml.etree.ElementTree as ET

    from tapeviz.gui.export import tape_svg
    run, tape_id = nested_model
    root = ET.fromstring(tape_svg(run, tape_id, fold=False))
    svg = "{http://www.w3.org/2000/svg}"
    frames = {g.get("data-scope"): g for g in root.iter(svg + "g") if g.get("class") == "scope-frame"}
    expected = lay_out(fold_graph(build_graph(run, tape_id), repeats=False)[0]).scope_boxes
    assert set(frames) == set(expected)
    for scope, group in frames.items():
        rect, text = group.find(svg + "rect"), group.find(svg + "text")
        left, top = float(rect.get("x")), float(rect.get("y"))
        assert (left, top, left + float(rect.get("width")), top + float(rect.get("height"))) == \
            pytest.approx(expected[scope], abs=0.1)
        assert text.text == scope.rpartition("/")[2]


def test_a_skip_connection_runs_beside_the_blocks_it_skips():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(4, activation="relu", name="stem")(inputs)
    for i in range(2):
        inner = keras.layers.Dense(4, activation="relu", name=f"block{i}_a")(hidden)
        block = keras.layers.Dense(4, name=f"block{i}_b")(inner)
        hidden = keras.layers.Add(name=f"add{i}")([hidden, block])
    model = keras.Model(inputs, hidden)
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(tf.random.normal((2, 4))))
        tape.gradient(loss, model.trainable_variables)
    run = recorder.snapshot()
    graph = lay_out(fold_graph(build_graph(run, next(iter(run.tapes))), repeats=False)[0])
    check_compound(graph)
    boxes = graph.scope_boxes
    skips = [(graph.nodes[e.source], graph.nodes[e.target]) for e in graph.edges
             if graph.nodes[e.target].scope.endswith(("add0", "add1")) and "block" not in graph.nodes[e.source].scope]
    assert len(skips) == 2
    for source, target in skips:
        skipped = [rect for scope, rect in boxes.items() if "block" in scope
                   and source.y < rect[1] and rect[3] < target.y]
        assert len(skipped) == 2
        for left, _, right, _ in skipped:   # the edge's straight way down is clear of the block
            assert not left <= source.x <= right and not left <= target.x <= right


def test_a_wide_row_beside_a_scope_keeps_its_boxes_apart():
    """A row of many plain nodes in a level holding a scope is placed at once, still without overlaps."""
    count = 120
    nodes = {f"v{i}": Node(f"v{i}", "variable", "v") for i in range(count)}
    nodes.update({f"m{i}": Node(f"m{i}", "op", "Mul") for i in range(count)})
    nodes.update({"sum": Node("sum", "op", "AddN", scope="layer"), "relu": Node("relu", "op", "Relu", scope="layer")})
    edges = [Edge(f"v{i}", f"m{i}", i) for i in range(count)] + [Edge(f"m{i}", "sum", i) for i in range(count)]
    graph = lay_out(TapeGraph(nodes, edges + [Edge("sum", "relu", 0)]))
    check_compound(graph)
    for prefix in "vm":
        row = sorted((box_of(nodes[f"{prefix}{i}"]) for i in range(count)), key=lambda b: b[0])
        assert all(left[2] < right[0] for left, right in zip(row, row[1:]))
        assert len({b[1] for b in row}) == 1
    for i in range(count):   # each product straight under the variable it reads
        assert nodes[f"m{i}"].x == pytest.approx(nodes[f"v{i}"].x)


def test_a_frame_is_wide_enough_for_its_title(qtbot):
    from PySide6 import QtGui
    nodes = {"a": Node("a", "op", "Neg", scope="a_scope_with_a_rather_long_descriptive_name"),
             "b": Node("b", "op", "Exp", scope="a_scope_with_a_rather_long_descriptive_name")}
    graph = lay_out(TapeGraph(nodes, [Edge("a", "b", 1)]))
    left, _, right, _ = graph.scope_boxes["a_scope_with_a_rather_long_descriptive_name"]
    from tapeviz.gui.graph_items import GraphStyle
    title = GraphStyle(QtGui.QPalette()).metrics.horizontalAdvance("a_scope_with_a_rather_long_descriptive_name")
    assert right - left > title + 8 + 4   # the title starts 8 in, and its box is 4 wider than the text
    assert nodes["a"].x == pytest.approx((left + right) / 2)   # the contents centred under it
