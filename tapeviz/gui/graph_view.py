"""The graph view: one tape's op graph, laid out off the UI thread, drawn with levels of detail.

``GraphView.set_graph(run, tape_id)`` hands graph building and layout (pure functions in
``graph.py``) to a worker thread, then creates the items on the UI thread and emits
``layout_ready``. The view observes nothing but the plain-data ``Run``; what it draws lives in
``graph_items.py``. Large graphs (over ``AUTO_COLLAPSE_NODES`` nodes) start with their name scopes
collapsed, as TensorBoard does; double-click a scope to open it, or a node or the frame of an open
scope (``scope_frames.py``: a layer's ops inside a rectangle named after it) to close it again.
"""
import gc
import math
import traceback
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .graph import build_graph, fold_graph, hover_text, layout, scope_key
from .scope_frames import FrameItem, FrameLabel, scope_frames
from .minimap import Minimap
from .graph_items import (HGAP, OVERVIEW_LOD, TEXT_LOD, VGAP, EdgeGeometry, EdgeLayer, GraphStyle, Marks,
                          NodeBlock, NodeItem, OverviewLayer, block_bounds, curve_svg, display_label, fill_class,
                          node_boxes, node_paths, size_of)

AUTO_COLLAPSE_NODES = 2000
READABLE_SCALE = 0.8          # labels read comfortably from here up
ITEMS_PER_TICK = 400          # node items made per event-loop turn, so a big drawing never blocks
MAX_SCALE = 4.0
WHEEL_STEP = 1.0015   # zoom factor per eighth of a degree of wheel rotation
KEY_STEP = 1.25
MARGIN = 60.0


@dataclass
class Plan:
    """Everything the worker prepares for one drawing; only item creation is left to the UI thread."""
    generation: int
    full: object          # TapeGraph as recorded
    graph: object         # TapeGraph as drawn (scopes collapsed or not), laid out
    owner: dict           # full key -> drawn key
    collapsed: bool
    geometry: EdgeGeometry
    paths: dict           # fill class -> QPainterPath of node boxes, for the overview
    watched: QtGui.QPainterPath
    bounds: QtCore.QRectF
    keys: list
    xs: np.ndarray
    ys: np.ndarray
    boxes: dict           # fill class -> (left, top, right, bottom) rows, for the overview's culling
    reading: list         # the drawn nodes top down, left to right: the order their items are made in
    frames: list = ()     # scope_frames.Frame of each open scope


class Stale(Exception):
    """Raised inside a worker when a newer request has replaced its job: the work stops there."""


def plan_graph(generation, run, tape_id, collapse=None, expanded=frozenset(), full=None, fold=True,
               progress=None):
    """Build, fold, collapse and lay out a tape's graph, and the geometry to draw it. Runs off the UI thread.

    ``progress(step, fraction)`` is called between and during the steps; it raises ``Stale`` when
    the request is no longer wanted.
    """
    report = progress or (lambda step, fraction: None)
    report("building the graph", 0.0)
    full = full if full is not None else build_graph(run, tape_id)
    report("folding repeated steps", 0.2)
    graph, owner = fold_graph(full, expanded, repeats=fold, scopes=False)
    collapsed = len(graph.nodes) > AUTO_COLLAPSE_NODES if collapse is None else bool(collapse)
    if collapsed:
        scoped, scope_owner = fold_graph(graph, expanded, repeats=False, scopes=True)
        owner = {key: scope_owner[drawn] for key, drawn in owner.items()}
        graph = scoped
    report(f"laying out {len(graph.nodes):,} nodes", 0.3)
    layout(graph, hgap=HGAP, vgap=VGAP, progress=lambda f: report(f"laying out {len(graph.nodes):,} nodes",
                                                                   0.3 + 0.6 * f),
           width_of=lambda node: size_of(node.kind)[0], height_of=lambda node: size_of(node.kind)[1])
    report("preparing the drawing", 0.9)
    nodes = list(graph.nodes.values())
    keys = [n.key for n in nodes]
    xs = np.array([n.x for n in nodes], dtype=float)
    ys = np.array([n.y for n in nodes], dtype=float)
    if nodes:
        half_w = max(size_of(n.kind)[0] for n in nodes) / 2 + MARGIN
        half_h = max(size_of(n.kind)[1] for n in nodes) / 2 + MARGIN
        bounds = QtCore.QRectF(xs.min() - half_w, ys.min() - half_h,
                               xs.max() - xs.min() + 2 * half_w, ys.max() - ys.min() + 2 * half_h)
    else:
        bounds = QtCore.QRectF(-100, -60, 200, 120)
    watched = boxes_path(n for n in nodes if "watched" in n.flags)
    frames = scope_frames(graph)
    for frame in frames:   # the outer frames' padding reaches beyond the nodes
        bounds = bounds.united(frame.outline.boundingRect().adjusted(-MARGIN / 2, -MARGIN / 2, MARGIN / 2, MARGIN / 2))
    reading = [nodes[i] for i in np.lexsort((xs, ys)).tolist()]
    return Plan(generation, full, graph, owner, collapsed, EdgeGeometry(graph), node_paths(nodes), watched,
                bounds, keys, xs, ys, node_boxes(nodes), reading, frames)


def boxes_path(nodes):
    path = QtGui.QPainterPath()
    for node in nodes:
        w, h = size_of(node.kind)
        path.addRect(node.x - w / 2, node.y - h / 2, w, h)
    return path


BIG_PLAN_NODES = 20_000   # plans this big are kept out of the cyclic garbage collector


def _without_collections(work, progress):
    """Run ``work`` with the cyclic garbage collector held off, and freeze what a big plan made.

    Building a plan for a 100,000-op tape allocates hundreds of thousands of objects; each full
    collection they trigger walks them all holding the GIL, on whichever thread triggers it, and the
    window froze for half a second at a time. Plans hold no reference cycles: reference counting
    still frees a plan when the view drops it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    plan = None
    try:
        plan = work(progress)
    finally:
        # Frozen before the collector runs again: the plan's objects wait in the youngest generation, and
        # the first collection after ``enable`` (on whichever thread allocates next, most often the UI
        # thread) walked all of them: a 120 ms stall after "Expand all" on 100,000 ops.
        if plan is not None and len(plan.full.nodes) > BIG_PLAN_NODES:
            gc.freeze()
        if was_enabled:
            gc.enable()
    return plan


class _PlanSignals(QtCore.QObject):
    done = QtCore.Signal(object)
    failed = QtCore.Signal(int, str)
    progress = QtCore.Signal(int, str, float)


class _PlanTask(QtCore.QRunnable):
    def __init__(self, generation, run, work, current):
        super().__init__()
        self.generation = generation
        self.run_ = run
        self.work = work
        self.current = current     # () -> the view's newest generation
        self.signals = _PlanSignals()
        self._reported = (None, -1.0)   # the last step and fraction sent to the UI thread

    def progress(self, step, fraction):
        if self.current() != self.generation:
            raise Stale()
        # The layout reports every 200 rows: a 100,000-op chain made thousands of queued signals,
        # and the UI thread handled a backlog of them in one turn. Only a new step or a whole
        # percent more crosses to it.
        last_step, last_fraction = self._reported
        if step == last_step and fraction - last_fraction < 0.01:
            return
        self._reported = (step, fraction)
        self.signals.progress.emit(self.generation, step, fraction)

    def run(self):
        plan, details = None, ""
        try:
            if self.current() != self.generation:
                raise Stale()   # replaced while it waited in the queue: never started
            plan = _without_collections(self.work, self.progress)
        except Stale:
            pass
        except Exception:  # noqa: BLE001 - a failed layout (RuntimeError too) must reach the UI
            details = traceback.format_exc()
        # Only telling the view is guarded: an error of the layout itself is never taken for a
        # closed window (a RuntimeError from the layout was once dropped here, and the view said
        # "Laying out the graph…" forever).
        try:
            if plan is not None:
                self.signals.done.emit(plan)
            else:
                self.signals.failed.emit(self.generation, details)
        except RuntimeError:
            pass   # the view was destroyed while this ran (the window closed): nobody to tell


class GraphView(QtWidgets.QGraphicsView):
    """A tape's graph: zoom with the wheel (under the mouse) or +/-/0, pan by dragging, click to select."""

    layout_ready = QtCore.Signal()
    layout_failed = QtCore.Signal(str)
    layout_progress = QtCore.Signal(str, float)   # step, fraction done
    node_selected = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)   # plans share the cached full graph: one at a time
        self._tasks = {}
        self._generation = 0
        self._run = self._tape_id = None
        self._full = None
        self._collapse = None             # None: automatic, by size
        self._fold = True                 # repeated steps as one block, alike variables as one group
        self._expanded = set()
        self._step = ""                   # what the worker is doing, for the placeholder
        self._pending = []                # nodes still to get an item (a big drawing is made in slices)
        self._hits, self._hit = [], -1    # search results and the one in view
        self._magnitudes = {}             # gradient sizes by tensor id, for the tape in view
        self._plan = None
        self._ready = False
        self._items = {}
        self._frames = []                 # FrameItems of the open scopes
        self._blocks = []                 # NodeBlocks holding the node items, a slice each
        self._edges = self._overview = None
        self._marks = Marks()
        self._highlight = (set(), set())
        self._selection = set()
        self._far = None
        self._switching = False
        self._press = None
        self._style = GraphStyle(self.palette())
        self.setScene(self._new_scene())
        self.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QtWidgets.QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setBackgroundBrush(self._style.base)
        self.minimap = Minimap(self)

    def graph_style(self):
        return self._style

    def _moved(self):
        self.minimap.refresh()

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        self._moved()

    def resizeEvent(self, event):
        # A view showing the graph's top (its inputs, where the default view starts reading) keeps
        # showing it when a dock opening below shrinks the view: anchored at its centre, it cut the
        # first row (and the names of the scopes framed there) in half.
        bar = self.verticalScrollBar()
        at_top = bar.value() == bar.minimum() and bar.maximum() > bar.minimum()
        super().resizeEvent(event)
        if at_top:
            bar.setValue(bar.minimum())
        self._moved()

    # Building ------------------------------------------------------------------------------------
    def set_graph(self, run, tape_id):
        """Show ``tape_id`` of ``run``: built and laid out in a worker; ``layout_ready`` when drawn."""
        if run is not self._run or tape_id != self._tape_id:   # identity: runs hold arrays
            self._magnitudes = {}
        self._run, self._tape_id = run, tape_id
        self._full = None
        self._expanded = set()
        self._highlight = (set(), set())
        self._request_plan()

    def collapse_scopes(self, collapsed=True):
        """Draw each name scope as one box (True), every op (False), or decide by size (None)."""
        self._collapse = collapsed
        # Scopes opened or closed one by one start over; opened repeats and groups stay open.
        self._expanded = {key for key in self._expanded if key.startswith(("fold:", "group:"))}
        if self._run is not None:
            self._request_plan()

    def expand_scope(self, scope):
        self._expanded.add(scope)
        self._request_plan()

    def set_folding(self, fold):
        """Fold repeated steps and group alike variables (True), or draw every op (False)."""
        self._fold = bool(fold)
        self._expanded = set()
        if self._run is not None:
            self._request_plan()

    def folding(self):
        return self._fold

    def expand(self, key):
        """Open one drawn group (a folded block, a variable group or a scope)."""
        node = self._plan.graph.nodes.get(key) if self._plan else None
        if node is None:
            return
        self._expanded.add(node.scope if node.kind == "scope" else key)
        self._request_plan()

    def expand_all(self):
        """Every op drawn: no folds, groups or collapsed scopes."""
        self._fold, self._collapse = False, False
        self._request_plan()

    def wait_for_workers(self, milliseconds=10_000):
        """Before the process exits: let a layout still running stop (it stops at its next step)."""
        self._pool.waitForDone(milliseconds)

    def cancel(self):
        """Drop the layout under way (the worker stops at its next step); the old drawing stays."""
        self._generation += 1
        self._ready = self._plan is not None
        self._step = ""
        self.viewport().update()

    def collapse_scope(self, scope):
        self._expanded.discard(scope)
        self._request_plan()

    def scopes_collapsed(self):
        return bool(self._plan and self._plan.collapsed)

    def is_ready(self):
        return self._ready

    def graph(self):
        """The TapeGraph as drawn (laid out; scopes collapsed or not), or None before the first layout."""
        return self._plan.graph if self._plan else None

    def node_count(self):
        return len(self._plan.graph.nodes) if self._plan else 0

    def edge_count(self):
        return len(self._plan.graph.edges) if self._plan else 0

    def _request_plan(self):
        self._generation += 1
        self._ready = self._failed = False
        generation, run, tape_id = self._generation, self._run, self._tape_id
        collapse, expanded, full, fold = self._collapse, frozenset(self._expanded), self._full, self._fold
        task = _PlanTask(generation, run, lambda progress: plan_graph(generation, run, tape_id, collapse, expanded,
                                                                      full, fold, progress),
                         lambda: self._generation)
        task.setAutoDelete(False)  # the view keeps it (and its signals) until it reports
        task.signals.done.connect(self._on_plan)
        task.signals.failed.connect(self._on_failed)
        task.signals.progress.connect(self._on_progress)
        self._step = "building the graph"
        self._tasks[generation] = task
        self._pool.start(task)
        self.viewport().update()   # the "laying out" note

    @QtCore.Slot(object)
    def _on_plan(self, plan):
        task = self._tasks.pop(plan.generation, None)
        if self._full is None and task is not None and task.run_ is self._run:
            self._full = plan.full   # later plans (scopes opened or closed) skip rebuilding it
        if plan.generation != self._generation:
            return  # superseded while it ran
        self._draw(plan)
        self._ready = True
        self.layout_ready.emit()

    @QtCore.Slot(int, str)
    def _on_failed(self, generation, message):
        self._tasks.pop(generation, None)
        if generation == self._generation:
            self._failed = True
            self._step = ""
            self.viewport().update()
            self.layout_failed.emit(message)

    @QtCore.Slot(int, str, float)
    def _on_progress(self, generation, step, fraction):
        if generation == self._generation:
            self._step = f"{step}… {fraction:.0%}"
            self.layout_progress.emit(step, fraction)
            self.viewport().update()

    def _new_scene(self):
        scene = QtWidgets.QGraphicsScene(self)
        # No index: node items sit in NodeBlocks of a few hundred, and Qt looks inside only the blocks in
        # view. A BSP tree of every item was built in the first paint after the last slice, and at
        # 150,000 items that paint stalled the window for 200-440 ms.
        scene.setItemIndexMethod(QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
        scene.selectionChanged.connect(self._on_selection_changed)
        return scene

    def _draw(self, plan):
        old = self.scene()
        old.selectionChanged.disconnect(self._on_selection_changed)
        scene = self._new_scene()
        scene.setSceneRect(plan.bounds)
        self._plan = plan
        self._marks.path, self._marks.broken = set(), set()   # keys of the old drawing mean nothing here
        self._edges = EdgeLayer(plan.geometry, plan.bounds, self._style, self._marks)
        self._edges.set_magnitudes(self._magnitudes)   # kept across re-layouts of the same tape
        scene.addItem(self._edges)
        self._items = {}
        self._blocks = []
        self._overview = OverviewLayer(plan.paths, plan.watched, plan.bounds, self._style, plan.boxes)
        scene.addItem(self._overview)
        self._frames = [FrameItem(frame, self._style) for frame in plan.frames]
        self._frames += [FrameLabel(frame, self._style) for frame in plan.frames]
        for item in self._frames:
            scene.addItem(item)
        self._selection = set()
        self._hits, self._hit = [], -1
        self._far = None
        self._step = ""
        if self.isActiveWindow() and self.isVisible():
            # A view leaving a scene while its window is active deactivates the scene, and Qt then sorts
            # all its items by stacking order: 390 ms for 150,000 items ("Fold repeats" after "Expand
            # all"). One more activation first (the scene is active already, so that costs nothing), and
            # this deactivation is not the last one: nothing is sorted. The scene is deleted anyway.
            QtCore.QCoreApplication.sendEvent(old, QtCore.QEvent(QtCore.QEvent.Type.WindowActivate))
        self.setScene(scene)
        old.deleteLater()
        # Made from the top down (sorted by the worker): the default view shows the top first, and each
        # slice's block is a compact band of the drawing.
        self._pending = list(plan.reading)
        self._add_items(first=True)
        self.highlight(*self._highlight)
        self.default_view()
        self.minimap.set_plan(plan)

    def _add_items(self, first=False):
        """Node items in slices of ITEMS_PER_TICK per event-loop turn; the overview draws the rest meanwhile."""
        if not self._pending or (not first and self._plan is None):
            return
        scene, plan = self.scene(), self._plan
        batch, self._pending = self._pending[:ITEMS_PER_TICK], self._pending[ITEMS_PER_TICK:]
        # Made as the level of detail wants them, so finishing never shows every item at once: that
        # toggled all 100,000 items of a big drawing in one turn, and the scene then redrew the
        # bookkeeping of each, stalling the window. Meanwhile the overview, under the items, draws
        # the boxes not made yet.
        block = NodeBlock(block_bounds(batch))
        block.setVisible(not self._far)
        for node in batch:
            item = NodeItem(node, self._style, self._marks)
            item.setParentItem(block)   # before the block joins the scene: one addItem for the slice
            self._items[node.key] = item
        scene.addItem(block)
        self._blocks.append(block)
        if len(plan.graph.nodes) > BIG_PLAN_NODES:
            # Each slice's items (and their tooltips, rectangles, wrappers) would otherwise pile up in
            # the collector's oldest generation: every full collection, triggered here on the UI thread
            # as they pile up, walked all of them again and froze the window for 150 ms and more while
            # a 100,000-op graph was drawn. They hold no cycles; reference counting frees them.
            gc.freeze()
        if self._pending:
            # The view as the timer's context: a view closed between two slices is never called.
            QtCore.QTimer.singleShot(0, self, lambda p=plan: self._add_items() if self._plan is p else None)
        elif not first:
            self._apply_lod()   # all made: the overview steps aside unless the view is far out
            for key in self._selection:
                if key in self._items and self._items[key].isVisible():
                    self._items[key].setSelected(True)
            for key in self._marks.path | self._marks.broken:
                if key in self._items:
                    self._items[key].update()

    def items_complete(self):
        return not self._pending

    # Level of detail -----------------------------------------------------------------------------
    def _scale(self):
        return self.transform().m11()

    def _apply_lod(self, scale=None):
        """Far out, hide node items (one Python paint call each) and let the overview draw them; it also
        draws, under the items, the nodes whose items are not made yet."""
        if self._plan is None:
            return
        far = (self._scale() if scale is None else scale) < OVERVIEW_LOD
        self._overview.setVisible(far or bool(self._pending))
        if far == self._far:
            return
        self._far = far
        self._switching = True   # hiding an item deselects it: keep our own record of the selection
        for block in self._blocks:
            block.setVisible(not far)
        if not far:
            for key in self._selection:
                if key in self._items:
                    self._items[key].setSelected(True)
        self._switching = False

    # Navigation ----------------------------------------------------------------------------------
    def fit(self):
        """Show the whole graph; small graphs stay at natural size rather than blown up."""
        if self._plan is None:
            return
        self.fitInView(self.sceneRect(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)
        if self._scale() > 1.0:
            self.setTransform(QtGui.QTransform())
            self.centerOn(self.sceneRect().center())
        self._apply_lod()
        self._moved()

    def default_view(self):
        """The whole graph if its labels stay readable so; else a readable scale at its top (the
        inputs, where reading starts), the minimap showing the rest; Ctrl+0 fits it all."""
        self.fit()
        if self._plan is None or self._scale() >= READABLE_SCALE:
            return
        self.setTransform(QtGui.QTransform.fromScale(READABLE_SCALE, READABLE_SCALE))
        rect = self.sceneRect()
        visible_height = self.viewport().height() / READABLE_SCALE
        visible_width = self.viewport().width() / READABLE_SCALE
        x = rect.center().x()
        if rect.width() > visible_width:
            # Wider than the window: centred on the nodes of the first screenful (a tall model whose last
            # rows spread wide left its top column off screen, looking at an empty corner).
            xs, ys = self._plan.xs, self._plan.ys
            if len(xs):
                top = xs[ys <= ys.min() + visible_height]
                x = float(np.median(top))
            x = min(max(x, rect.left() + visible_width / 2), rect.right() - visible_width / 2)
        self.centerOn(x, rect.top() + visible_height / 2)
        self._apply_lod()
        self._moved()

    def zoom(self, factor, anchored_under_mouse=True):
        current = self._scale()
        fit_scale = min(self.viewport().width() / max(1.0, self.sceneRect().width()),
                        self.viewport().height() / max(1.0, self.sceneRect().height()))
        target = min(MAX_SCALE, max(min(fit_scale, 1.0) * 0.5, current * factor))
        if target == current:
            return
        if not anchored_under_mouse:
            self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.scale(target / current, target / current)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._apply_lod()
        self._moved()

    def center_on(self, key, min_scale=None):
        node = self._plan.graph.nodes.get(key) if self._plan else None
        if node is None:
            return
        if min_scale is not None and self._scale() < min_scale:
            self.setTransform(QtGui.QTransform.fromScale(min_scale, min_scale))
            self._apply_lod()
        self.centerOn(node.x, node.y)
        self._moved()

    def wheelEvent(self, event):
        self.zoom(WHEEL_STEP ** event.angleDelta().y())
        event.accept()

    def keyPressEvent(self, event):
        key = event.key()
        if key in (QtCore.Qt.Key.Key_Plus, QtCore.Qt.Key.Key_Equal):
            self.zoom(KEY_STEP, anchored_under_mouse=False)
        elif key in (QtCore.Qt.Key.Key_Minus, QtCore.Qt.Key.Key_Underscore):
            self.zoom(1 / KEY_STEP, anchored_under_mouse=False)
        elif key == QtCore.Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)

    # Selection and clicks ------------------------------------------------------------------------
    def mousePressEvent(self, event):
        self._press = event.position()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event):
        super().mouseReleaseEvent(event)
        press, self._press = self._press, None
        if press is None or event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        if (event.position() - press).manhattanLength() > 4:
            return  # that was a pan
        key = self.key_at(event.position().toPoint())
        if key is not None:
            if self._far or self._pending:   # hidden or unmade items cannot be clicked: our own record
                self.select([key])
            self.node_selected.emit(key)

    def mouseDoubleClickEvent(self, event):
        key = self.key_at(event.position().toPoint())
        node = self._plan.graph.nodes.get(key) if key and self._plan else None
        if node is not None and node.kind in ("scope", "fold", "group"):
            self.expand(key)
        elif node is not None and node.scope in self._expanded:
            self.collapse_scope(node.scope)
        elif node is None and self.frame_at(event.position().toPoint()) is not None:
            self.close_scope(self.frame_at(event.position().toPoint()))
        else:
            super().mouseDoubleClickEvent(event)

    def frame_at(self, viewport_point):
        """The innermost open scope whose frame is under a viewport point (none on a node)."""
        frames = [item for item in self.items(viewport_point) if isinstance(item, FrameItem)]
        return max(frames, key=lambda item: item.frame.depth).scope if frames else None

    def frames(self):
        """The open scopes drawn as frames, outermost first."""
        return [item.frame for item in self._frames if isinstance(item, FrameItem)]

    def close_scope(self, scope):
        """Draw one open scope as a box, the other scopes staying as they are."""
        if self._plan is None:
            return
        opened = set()
        for node in self._plan.full.nodes.values():
            parts = node.scope.split("/") if node.scope else []
            opened.update("/".join(parts[:end]) for end in range(1, len(parts) + 1))
        if not self._plan.collapsed:   # every scope was open: keep them open but this one
            self._expanded |= opened
            self._collapse = True
        self._expanded.discard(scope)
        self._expanded.discard(scope_key(scope))
        self._request_plan()

    def key_at(self, viewport_point):
        """The drawn node under a viewport point (the nearest within a few pixels when far out)."""
        for item in self.items(viewport_point):
            if isinstance(item, NodeItem):
                return item.key
        if not (self._far or self._pending) or not self._plan or not self._plan.keys:
            return None
        at = self.mapToScene(viewport_point)
        distance = np.hypot(self._plan.xs - at.x(), self._plan.ys - at.y())
        nearest = int(np.argmin(distance))
        return self._plan.keys[nearest] if distance[nearest] * self._scale() <= 8 else None

    def select(self, keys):
        """Select exactly these drawn keys."""
        keys = {k for k in keys if k in self._items}
        self._switching = True
        self.scene().clearSelection()
        for key in keys:
            self._items[key].setSelected(True)   # a no-op on hidden items; the record below keeps it
        self._switching = False
        self._selection = keys
        self._update_overview_marks()

    def selected_keys(self):
        return set(self._selection)

    def _on_selection_changed(self):
        if self._switching:
            return
        self._selection = {item.key for item in self.scene().selectedItems() if isinstance(item, NodeItem)}
        self._update_overview_marks()

    def search(self, text):
        """Select the nodes whose label, user name or op type contains ``text`` and centre on the first.

        A match inside a folded block or a group selects the block. Returns how many drawn nodes match;
        ``search_step`` then moves through them.
        """
        needle = text.strip().lower()
        if not self._plan or not needle:
            self.select([])
            self._hits, self._hit = [], -1
            return 0
        plan = self._plan

        def matches(node):
            return needle in node.label.lower() or (node.name and needle in node.name.lower())

        hits = [plan.owner[k] for k, n in plan.full.nodes.items() if matches(n)]
        hits += [k for k, n in plan.graph.nodes.items() if matches(n)]
        drawn = list(dict.fromkeys(hits))   # in graph order, once each
        drawn.sort(key=lambda k: (plan.graph.nodes[k].y, plan.graph.nodes[k].x))   # reading order
        self._hits, self._hit = drawn, 0 if drawn else -1
        self.select(drawn)
        if drawn:
            self.center_on(drawn[0], min_scale=READABLE_SCALE)
        return len(drawn)

    def search_step(self, step):
        """Centre on the next (+1) or previous (-1) search hit; returns (position, count), 1-based."""
        if not self._hits:
            return 0, 0
        self._hit = (self._hit + step) % len(self._hits)
        self.center_on(self._hits[self._hit], min_scale=READABLE_SCALE)
        return self._hit + 1, len(self._hits)

    def clear_search(self):
        self._hits, self._hit = [], -1
        self.select([])

    # Highlighting --------------------------------------------------------------------------------
    def highlight(self, path_keys, broken=frozenset()):
        """Draw a source-to-target path in the accent colour; ``broken`` marks where a path stops.

        Keys are those of ``build_graph`` / ``path_keys``; inside a collapsed scope they light up
        the scope's box.
        """
        self._highlight = (set(path_keys), set(broken))
        if self._plan is None:
            return
        owner = self._plan.owner
        before = self._marks.path | self._marks.broken
        self._marks.path = {owner[k] for k in path_keys if k in owner}
        self._marks.broken = {owner[k] for k in broken if k in owner}
        for key in before | self._marks.path | self._marks.broken:
            if key in self._items:
                self._items[key].update()
        self._edges.set_marks()
        self._update_overview_marks()

    def show_gradient_sizes(self, magnitudes):
        """Colour edges by the gradient each carried back (tensor id -> size); None or {} clears."""
        self._magnitudes = magnitudes or {}
        if self._edges is not None:
            self._edges.set_magnitudes(self._magnitudes)

    def show_gradients(self, grads):
        """Add to each op's tooltip the gradient that reached its output (tensor id -> array), and to
        each variable's the sum of those that reached its reads (its gradient)."""
        from tapeviz.inspection.model import summarize

        from .graph import value_text

        self._gradients = grads or {}
        if self._plan is None or self._run is None:
            return
        # Only the ops a gradient reached (and those that had one before) are touched.
        producers = {self._run.tensors[t].producer for t in self._gradients if t in self._run.tensors}
        keys = {f"op:{p}" for p in producers if p is not None} | getattr(self, "_gradient_keys", set())
        self._gradient_keys = set()
        aliases = self._plan.full.aliases
        reached = {}   # drawn key -> gradients at its outputs (a variable: at each of its reads)
        for key in keys:
            op = self._run.ops.get(int(key.split(":")[1]))
            if op is None:
                continue
            here = [self._gradients[o] for o in op.outputs if o in self._gradients]
            reached.setdefault(aliases.get(key, key), []).extend(here)
            if here:
                self._gradient_keys.add(key)
        for key, here in reached.items():
            item = self._items.get(key)
            if item is None:
                continue
            tip = hover_text(item.node)
            if here and item.node.kind == "variable":
                tip += "\ngradient: " + value_text(summarize(sum(np.asarray(g, dtype=float) for g in here)))
            elif here:
                tip += "\ngradient: " + "; ".join(value_text(summarize(g)) for g in here)
            item.setToolTip(tip)

    def clear_highlight(self):
        self.highlight(set())

    def _update_overview_marks(self):
        if self._overview is None:
            return
        nodes = self._plan.graph.nodes
        self._overview.marks = {name: boxes_path(nodes[k] for k in keys) for name, keys in
                                (("path", self._marks.path), ("broken", self._marks.broken),
                                 ("selected", self._selection))}
        self._overview.update()

    # Palette and placeholder ---------------------------------------------------------------------
    def changeEvent(self, event):
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._style = GraphStyle(self.palette())
            self.setBackgroundBrush(self._style.base)
            for item in list(self._items.values()) + self._frames:
                item.set_style(self._style)
            for layer in (self._edges, self._overview):
                if layer is not None:
                    layer.set_style(self._style)
            self.viewport().update()
        super().changeEvent(event)

    def drawForeground(self, painter, rect):
        if self._ready and self._plan is not None:
            return
        if self._run is None:
            text = "No tape selected"
        elif self._failed:
            text = "Could not lay out the graph (see the status bar)"
        else:
            text = f"Drawing the graph: {self._step}" if self._step else "Laying out the graph…"
        painter.save()
        painter.resetTransform()
        painter.setPen(self._style.muted_text)
        painter.drawText(self.viewport().rect(), QtCore.Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    # Export --------------------------------------------------------------------------------------
    def export_png(self, path, max_side=8000):
        """The whole graph as a PNG at natural size (scaled down to ``max_side`` pixels at most)."""
        if self._plan is None:
            return False
        source = self.sceneRect()
        scale = min(1.0, max_side / max(source.width(), source.height()))
        size = QtCore.QSize(max(1, math.ceil(source.width() * scale)), max(1, math.ceil(source.height() * scale)))
        image = QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(self._style.base)
        was_far = self._far
        self._apply_lod(scale)   # draw the detail the export's scale calls for, not the screen's
        painter = QtGui.QPainter(image)
        painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
        self.scene().render(painter, QtCore.QRectF(0, 0, size.width(), size.height()), source)
        painter.end()
        if was_far is not None:
            self._apply_lod()
        return image.save(str(path), "PNG")

    def export_svg(self, path):
        """The whole graph as a plain SVG: one shape per node (class "node <kind>"), one path per edge."""
        if self._plan is None:
            return False
        with open(path, "w", encoding="utf-8") as out:
            out.write(svg_text(self._plan, self._style, self._marks))
        return True


def svg_text(plan, style, marks):
    """SVG written from the layout itself, so it needs no QtSvg and stays small and readable."""
    b = plan.bounds
    colour = lambda c: c.name()
    g = plan.geometry
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{b.width():.0f}" height="{b.height():.0f}" '
             f'viewBox="{b.left():.1f} {b.top():.1f} {b.width():.1f} {b.height():.1f}" '
             f'font-family="sans-serif" font-size="12">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
             f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour(style.edge)}"/></marker>'
             '<marker id="arrow-path" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
             f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour(style.hue["path"])}"/></marker></defs>',
             f'<rect x="{b.left():.1f}" y="{b.top():.1f}" width="{b.width():.1f}" height="{b.height():.1f}" '
             f'fill="{colour(style.base)}"/>']
    for frame in plan.frames:   # open scopes, outermost first: each one rectangle, its name as the title
        r = frame.outline.boundingRect()
        hue = colour(style.hue["scope"])
        lines.append(f'<g class="scope-frame" data-scope={quoteattr(frame.scope)}><rect x="{r.left():.1f}" '
                     f'y="{r.top():.1f}" width="{r.width():.1f}" height="{r.height():.1f}" rx="8" '
                     f'fill="{colour(style.base)}" fill-opacity="0.6" stroke="{hue}" stroke-width="1.4"/>'
                     f'<text x="{frame.label_at.x() + 2:.1f}" y="{frame.label_at.y() + 12:.1f}" fill="{hue}">'
                     f'{escape(frame.label)}</text></g>')
    for i in range(len(g)):
        on_path = g.sources[i] in marks.path and g.targets[i] in marks.path
        x0, y0, x1, y1, bend = g.x0[i], g.y0[i], g.x1[i], g.y1[i], g.bend[i]
        stroke = colour(style.hue["path"] if on_path else style.edge)
        lines.append(f'<path class="edge" d="{curve_svg(x0, y0, x1, y1, bend)}" '
                     f'fill="none" stroke="{stroke}" stroke-width="{3 if on_path else 1.2}" '
                     f'marker-end="url(#{"arrow-path" if on_path else "arrow"})"/>')
    for key, node in plan.graph.nodes.items():
        w, h = size_of(node.kind)
        x, y = node.x - w / 2, node.y - h / 2
        stroke, width, dash = colour(style.border), 1.2, ""
        if "watched" in node.flags:
            stroke, width = colour(style.hue["watched"]), 4
        elif node.kind == "update":   # a stateful assignment, outside the tape
            stroke, width, dash = colour(style.hue["update"]), 2, ' stroke-dasharray="6,4"'
        elif "updated" in node.flags:
            stroke, width = colour(style.hue["update"]), 2
        if key in marks.path:
            stroke, width = colour(style.hue["path"]), 4
        if key in marks.broken:
            stroke, width, dash = colour(style.hue["broken"]), 3, ' stroke-dasharray="8,4"'
        paint = f'fill="{colour(style.fill[fill_class(node)])}" stroke="{stroke}" stroke-width="{width}"{dash}'
        attrs = f'class="node {node.kind}" data-key={quoteattr(key)}'
        if node.kind in ("variable", "group"):
            shape = f'<ellipse {attrs} cx="{node.x:.1f}" cy="{node.y:.1f}" rx="{w / 2}" ry="{h / 2}" {paint}/>'
        else:
            rounded = ' rx="8"' if node.kind in ("op", "scope", "fold") else ""
            shape = f'<rect {attrs} x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h}"{rounded} {paint}/>'
        lines.append(f"<g><title>{escape(hover_text(node))}</title>{shape}"
                     f'<text x="{node.x:.1f}" y="{node.y + 4:.1f}" text-anchor="middle" '
                     f'fill="{colour(style.text)}">{escape((node.name + " = " if node.name else "") + display_label(node))}</text></g>')
    lines.append("</svg>")
    return "\n".join(lines) + "\n"
