"""The graph view, driven offscreen: what it draws matches build_graph, and a person can use it."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6 import QtCore  # noqa: E402

import tapeviz as tf  # noqa: E402
from tapeviz.gui.graph import build_graph, collapse_scopes, path_keys  # noqa: E402
from tapeviz.gui.graph_items import NodeItem  # noqa: E402
from tapeviz.gui.graph_view import GraphView  # noqa: E402


@pytest.fixture(scope="module")
def small():
    """A dense layer, a sin, a constant and a stop_gradient: every kind of node the view draws."""
    with tf.record() as rec:
        w = tf.Variable(np.ones((3, 2)), name="dense_1/kernel")
        b = tf.Variable(np.zeros(2), name="dense_1/bias")
        x = tf.constant(np.ones((4, 3)))
        with tf.GradientTape() as tape:
            h = tf.matmul(x, w) + b
            y = tf.reduce_sum(tf.sin(h) * 2.0)
            tf.stop_gradient(h)
        tape.gradient(y, [w, b])
    run = rec.snapshot()
    return run, next(iter(run.tapes)), w, y


def chain(ops):
    with tf.record() as rec:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape():
            value = x
            for _ in range(ops // 2):
                value = tf.sin(value) * 1.01
    run = rec.snapshot()
    return run, next(iter(run.tapes))


@pytest.fixture
def view(qtbot):
    widget = GraphView()
    widget.resize(900, 500)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def open_graph(qtbot, view, run, tape_id, timeout=10000):
    with qtbot.waitSignal(view.layout_ready, timeout=timeout):
        view.set_graph(run, tape_id)


def test_counts_match_build_graph(qtbot, view, small):
    run, tape_id, _, _ = small
    assert not view.is_ready()
    open_graph(qtbot, view, run, tape_id)
    graph = build_graph(run, tape_id)
    assert view.is_ready()
    assert (view.node_count(), view.edge_count()) == (len(graph.nodes), len(graph.edges))
    assert not view.scopes_collapsed()   # small graphs show every op


def test_search_selects_op_type_case_insensitively(qtbot, view, small):
    open_graph(qtbot, view, *small[:2])
    assert view.search("matmul") == 1
    (key,) = view.selected_keys()
    assert view.graph().nodes[key].label == "MatMul"
    assert view.search("no such op") == 0
    assert view.selected_keys() == set()


def test_highlight_marks_path_and_break(qtbot, view, small):
    run, tape_id, w, y = small
    open_graph(qtbot, view, run, tape_id)
    keys = path_keys(run, tape_id, w._id, y._id)   # tensor ids, as the recorder keeps them
    stop = next(k for k, n in view.graph().nodes.items() if n.label == "StopGradient")
    view.highlight(keys, {stop})
    assert view._marks.path == keys and view._marks.broken == {stop}
    view.clear_highlight()
    assert not view._marks.path and not view._marks.broken


def test_exports(qtbot, view, small, tmp_path):
    open_graph(qtbot, view, *small[:2])
    png, svg = tmp_path / "graph.png", tmp_path / "graph.svg"
    assert view.export_png(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert view.export_svg(svg)
    root = ET.parse(svg).getroot()
    shapes = [e for e in root.iter() if (e.get("class") or "").split()[:1] == ["node"]]
    assert len(shapes) == view.node_count()
    assert len([e for e in root.iter() if e.get("class") == "edge"]) == view.edge_count()


def test_click_emits_node_selected(qtbot, view, small):
    open_graph(qtbot, view, *small[:2])
    key = next(k for k, n in view.graph().nodes.items() if n.label == "Sin")
    item = view._items[key]
    point = view.mapFromScene(item.pos())
    with qtbot.waitSignal(view.node_selected, timeout=2000) as signal:
        qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert signal.args == [key]
    assert view.selected_keys() == {key}


def test_keyboard_zoom_and_fit(qtbot, view, small):
    open_graph(qtbot, view, *small[:2])
    view.fit()   # the opening view may be closer than the fit, at a readable scale
    before = view.transform().m11()
    qtbot.keyClick(view, QtCore.Qt.Key.Key_Minus)
    assert view.transform().m11() < before
    qtbot.keyClick(view, QtCore.Qt.Key.Key_Plus)
    qtbot.keyClick(view, QtCore.Qt.Key.Key_Plus)
    assert view.transform().m11() > before
    qtbot.keyClick(view, QtCore.Qt.Key.Key_0)
    assert view.transform().m11() == pytest.approx(before)


def test_scopes_collapse_and_expand(qtbot, view, small):
    run, tape_id, _, _ = small
    open_graph(qtbot, view, run, tape_id)
    collapsed, _ = collapse_scopes(build_graph(run, tape_id))
    with qtbot.waitSignal(view.layout_ready, timeout=10000):
        view.collapse_scopes(True)
    assert view.node_count() == len(collapsed.nodes) < len(build_graph(run, tape_id).nodes)
    assert any(n.kind == "scope" for n in view.graph().nodes.values())
    assert view.search("sin") == 1   # found inside its scope: the scope box is selected
    with qtbot.waitSignal(view.layout_ready, timeout=10000):
        view.expand_scope("dense_1")
    assert not any(n.kind == "scope" for n in view.graph().nodes.values())


def test_long_loop_opens_folded_and_unfolds_far_out(qtbot, view):
    run, tape_id = chain(3000)
    open_graph(qtbot, view, run, tape_id, timeout=20000)
    (block,) = [n for n in view.graph().nodes.values() if n.kind == "fold"]
    assert block.label.startswith("Sin, Mul x1500")
    assert view.node_count() == 2     # the variable and the block
    with qtbot.waitSignal(view.layout_ready, timeout=20000):
        view.set_folding(False)
    assert view.node_count() == len(build_graph(run, tape_id).nodes) > 3000
    qtbot.waitUntil(view.items_complete, timeout=10000)   # items are made in slices
    view.fit()
    assert view._far    # whole chain in view: node items hidden, the overview draws them
    assert not any(item.isVisible() for item in view._items.values())
    image = view.grab().toImage()
    assert not image.isNull()
    view.search("sin")
    assert not view._far and all(isinstance(i, NodeItem) for i in view.scene().selectedItems())


def node_rects(view):
    return [(item.key, item.mapRectToScene(item._rect)) for item in view.scene().items() if isinstance(item, NodeItem)]


def test_no_two_node_boxes_overlap_in_a_keras_training_step(qtbot, view):
    """The quickstart's model (flatten, dense relu, dropout, dense) trained by fit: ops, variables,
    the dropout mask and the inputs side by side, each box clear of every other."""
    rng = np.random.default_rng(0)
    with tf.record() as rec:
        model = tf.keras.models.Sequential([tf.keras.layers.Flatten(input_shape=(6, 6)),
                                            tf.keras.layers.Dense(16, activation="relu"),
                                            tf.keras.layers.Dropout(0.2), tf.keras.layers.Dense(4)])
        model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(rng.random((32, 6, 6)), rng.integers(0, 4, 32), epochs=1, verbose=0)
    run = rec.snapshot()
    open_graph(qtbot, view, run, next(iter(run.tapes)))
    rects = node_rects(view)
    assert len(rects) >= 12
    for i, (key_a, a) in enumerate(rects):
        for key_b, b in rects[i + 1:]:
            assert not a.intersects(b), f"{key_a} overlaps {key_b}"


def test_layout_pushes_apart_boxes_wider_than_their_column():
    from tapeviz.gui.graph import layout
    from tapeviz.gui.graph_items import size_of
    with tf.record() as rec:
        x = tf.random.normal((4, 3))
        w = tf.Variable(tf.ones((3, 2)), name="w")
        with tf.GradientTape():
            tf.reduce_sum(tf.concat([x @ w, x @ w * 2.0, tf.sin(x @ w)], axis=1))
    run = rec.snapshot()
    graph = layout(build_graph(run, next(iter(run.tapes))), hgap=40.0, vgap=90.0,   # columns narrower than boxes
                   width_of=lambda node: size_of(node.kind)[0])
    nodes = list(graph.nodes.values())
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            if a.y == b.y:
                assert abs(a.x - b.x) >= (size_of(a.kind)[0] + size_of(b.kind)[0]) / 2 + 16 - 1e-9


def test_items_of_a_big_drawing_are_kept_out_of_full_collections(qtbot, view, monkeypatch):
    """Node items are made on the UI thread; left in the collector's generations, every full
    collection walked all of them again while a 100,000-op graph was drawn (a stall of 150 ms+)."""
    import gc

    from tapeviz.gui import graph_view

    monkeypatch.setattr(graph_view, "BIG_PLAN_NODES", 100)   # "big", at a test's size
    monkeypatch.setattr(graph_view, "ITEMS_PER_TICK", 50)     # several slices
    run, tape_id = chain(400)
    try:
        view.set_folding(False)
        open_graph(qtbot, view, run, tape_id)
        qtbot.waitUntil(view.items_complete, timeout=10000)
        items = [item for item in view.scene().items() if isinstance(item, NodeItem)]
        assert len(items) > 400
        collectable = {id(obj) for obj in gc.get_objects()}   # the permanent generation is not listed
        assert not [item for item in items if id(item) in collectable]
    finally:
        gc.unfreeze()


class RecordingPainter:
    """Stands in for a QPainter and records how many node boxes each fill draws (the outlines of
    marks, drawn with no brush, are left out: they are of the few marked nodes)."""

    def __init__(self):
        self.drawn = []
        self._filling = False

    def setPen(self, pen):
        pass

    def setBrush(self, brush):
        self._filling = brush != QtCore.Qt.BrushStyle.NoBrush

    def drawPath(self, path):
        if self._filling:
            self.drawn.append(path.elementCount() // 5)   # the overview's paths are of rectangles: 5 elements each

    def drawRects(self, rects):
        if self._filling:
            self.drawn.append(len(rects))


def test_overview_of_a_small_part_of_a_big_graph_draws_only_the_boxes_in_view(qtbot, view, monkeypatch):
    """While a big drawing's items are made, the overview stands in for them at a readable scale;
    stroking the whole graph's box paths on every repaint there stalled the window (100 ms+ at
    100,000 ops). Only the boxes meeting the exposed rectangle may be drawn."""
    from PySide6 import QtWidgets

    run, tape_id = chain(400)
    view.set_folding(False)
    open_graph(qtbot, view, run, tape_id)
    overview, nodes = view._overview, view.graph().nodes
    assert len(nodes) > 400
    first = min(nodes.values(), key=lambda n: (n.y, n.x))
    option = QtWidgets.QStyleOptionGraphicsItem()
    option.exposedRect = QtCore.QRectF(first.x - 150, first.y - 100, 300, 200)
    from tapeviz.gui.graph_items import size_of

    def box(node):
        w, h = size_of(node.kind)
        return QtCore.QRectF(node.x - w / 2, node.y - h / 2, w, h)

    in_view = sum(1 for n in nodes.values() if box(n).adjusted(-1, -1, 1, 1).intersects(option.exposedRect))
    painter = RecordingPainter()
    overview.paint(painter, option)
    assert 0 < sum(painter.drawn) <= in_view
    option.exposedRect = view.sceneRect()   # the whole graph in view: the prebuilt paths, all boxes
    painter = RecordingPainter()
    overview.paint(painter, option)
    assert sum(painter.drawn) >= len(nodes)


def test_no_turn_of_a_sliced_drawing_touches_more_items_than_one_slice(qtbot, view, monkeypatch):
    """Items made in slices used to be made hidden and all shown in the last turn: at 100,000 ops
    that one turn, and the scene's redrawing of every item it touched, stalled the window. Each turn
    may now make or show at most one slice's items."""
    from tapeviz.gui import graph_view

    monkeypatch.setattr(graph_view, "ITEMS_PER_TICK", 50)
    calls = {"visible": 0}
    original_set_visible = NodeItem.setVisible

    def counting_set_visible(item, visible):
        calls["visible"] += 1
        original_set_visible(item, visible)

    monkeypatch.setattr(NodeItem, "setVisible", counting_set_visible)
    per_turn = []
    original_add_items = GraphView._add_items

    def counting_add_items(self, first=False):
        before = calls["visible"]
        original_add_items(self, first)
        per_turn.append(calls["visible"] - before)

    monkeypatch.setattr(GraphView, "_add_items", counting_add_items)
    run, tape_id = chain(400)
    view.set_folding(False)
    open_graph(qtbot, view, run, tape_id)
    qtbot.waitUntil(view.items_complete, timeout=10000)
    assert len(per_turn) > 5 and view._far is False   # several slices, drawn at a readable scale
    assert max(per_turn) <= 50
    assert all(item.isVisible() for item in view.scene().items() if isinstance(item, NodeItem))
    assert not view._overview.isVisible()   # every item made: the overview steps aside


def test_layout_progress_reaches_the_ui_thread_at_most_once_a_percent(qtbot, view):
    """The layout reports every 200 rows; a 100,000-op chain made thousands of queued progress
    signals, and the UI thread handled a backlog of them in one go (a stall of 250 ms+). Only a
    change of step or of a whole percent may cross to it."""
    run, tape_id = chain(8000)
    steps = []
    view.layout_progress.connect(lambda step, fraction: steps.append((step, fraction)))
    view.set_folding(False)
    open_graph(qtbot, view, run, tape_id, timeout=60000)
    qtbot.waitUntil(view.items_complete, timeout=30000)
    assert len({step for step, _ in steps}) >= 3   # building, laying out, preparing: each reported
    assert len(steps) <= 100 + len({step for step, _ in steps})


def test_a_paint_after_expand_all_visits_only_the_node_blocks_in_view(qtbot, view, monkeypatch):
    """An item per node in a BSP-indexed scene: the first paint after "Expand all" on 100,000 ops built
    the index of 150,000 items and stalled the window 200-440 ms. Node items now sit in blocks of one
    slice each, in an unindexed scene, and a paint looks inside only the blocks in view."""
    from PySide6 import QtWidgets

    from tapeviz.gui import graph_view
    from tapeviz.gui.graph_items import NodeBlock

    monkeypatch.setattr(graph_view, "ITEMS_PER_TICK", 50)
    painted = []
    original_paint = NodeItem.paint   # patched before the items exist: their paint is looked up then
    monkeypatch.setattr(NodeItem, "paint", lambda item, *args: (painted.append(item.key), original_paint(item, *args)))
    run, tape_id = chain(1200)
    view.set_folding(False)
    open_graph(qtbot, view, run, tape_id, timeout=20000)
    qtbot.waitUntil(view.items_complete, timeout=20000)
    assert view.scene().itemIndexMethod() == QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex
    blocks = [item for item in view.scene().items() if isinstance(item, NodeBlock)]
    nodes = [item for item in view.scene().items() if isinstance(item, NodeItem)]
    assert len(nodes) == view.node_count() > 1200
    assert all(isinstance(item.parentItem(), NodeBlock) for item in nodes)
    assert len(blocks) == -(-len(nodes) // 50)
    for block in blocks:   # each block holds its items' whole drawing: Qt skips a block out of view
        inside = block.boundingRect()
        assert all(inside.contains(child.mapRectToParent(child.boundingRect())) for child in block.childItems())
    painted.clear()
    view.viewport().repaint()
    seen = view.mapToScene(view.viewport().rect()).boundingRect()
    in_view = [item.key for item in nodes if item.sceneBoundingRect().intersects(seen)]
    assert painted and set(painted) <= set(in_view) and len(in_view) < len(nodes) / 10
    # Clicks still find a node inside its block, and far out the view hides blocks, not each node.
    key = in_view[0]
    with qtbot.waitSignal(view.node_selected, timeout=2000) as signal:
        qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=view.mapFromScene(view._items[key].pos()))
    assert signal.args == [key] and view.selected_keys() == {key}
    view.fit()
    assert view._far and not any(block.isVisible() for block in blocks)
    assert all(item.isVisible() is False for item in nodes)
    view.center_on(key, min_scale=graph_view.READABLE_SCALE)
    assert not view._far and view._items[key].isSelected()   # the selection survives being hidden


def test_folding_again_after_expand_all_lets_the_old_drawing_go(qtbot, view):
    """The old scene leaves an active view without being deactivated (which sorted all its items):
    it must still be deleted, and the new drawing work."""
    import shiboken6

    view.activateWindow()
    run, tape_id = chain(1200)
    view.set_folding(False)
    open_graph(qtbot, view, run, tape_id, timeout=20000)
    qtbot.waitUntil(view.items_complete, timeout=20000)
    expanded = view.scene()
    with qtbot.waitSignal(view.layout_ready, timeout=20000):
        view.set_folding(True)
    qtbot.waitUntil(lambda: not shiboken6.isValid(expanded), timeout=5000)
    assert view.node_count() == 2 and view.scene() is not expanded
    assert view.search("Sin") == 1   # the folded block holds the Sins


def test_a_big_plan_is_frozen_before_the_collector_runs_again(monkeypatch):
    """The plan's objects must leave the youngest generation before ``gc.enable``: the first collection
    after it (on the UI thread, most often) walked all of them and stalled the window."""
    import gc
    import types

    from tapeviz.gui import graph_view

    seen = {}
    real_enable = gc.enable
    monkeypatch.setattr(gc, "enable", lambda: (seen.setdefault("young", gc.get_count()[0]),
                                               seen.setdefault("frozen", gc.get_freeze_count()), real_enable()))

    def work(progress):
        nodes = {i: [i] for i in range(graph_view.BIG_PLAN_NODES + 1)}   # tracked objects, as a plan's are
        return types.SimpleNamespace(full=types.SimpleNamespace(nodes=nodes))

    try:
        plan = graph_view._without_collections(work, None)
    finally:
        gc.unfreeze()
    assert gc.isenabled() and len(plan.full.nodes) > graph_view.BIG_PLAN_NODES
    assert seen["frozen"] > graph_view.BIG_PLAN_NODES and seen["young"] < graph_view.BIG_PLAN_NODES


def test_a_graph_wider_than_the_window_opens_on_its_top_nodes(qtbot, view):
    """A narrow top (a chain) over a wide last row: the default view shows the chain's top, not the empty
    top-left corner of the scene (what a DCGAN step's graph opened on)."""
    with tf.record() as rec:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape():
            value = x
            for _ in range(8):
                value = tf.sin(value) * 1.01
            # One wide row of 59 ops in no repeating order (a repeating one would fold into one block).
            kinds = [tf.sin, tf.cos, tf.exp, tf.tanh, tf.square, tf.abs]
            order = np.random.default_rng(3).integers(0, len(kinds), 59)
            tf.add_n([kinds[k](value) for k in order])
    run = rec.snapshot()
    open_graph(qtbot, view, run, next(iter(run.tapes)))
    qtbot.waitUntil(view.items_complete, timeout=10000)
    view.default_view()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    plan = view._plan
    assert view.sceneRect().width() > visible.width()   # the case this is about
    top = int(np.argmin(plan.ys))
    assert visible.contains(QtCore.QPointF(float(plan.xs[top]), float(plan.ys[top])))
