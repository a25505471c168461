"""What the graph view draws: node items, one item for all edges, one for the far-out overview.

Three levels of detail keep a 10,000-op tape smooth. Close up, each node is its own item with its
label. Further out, nodes lose their text and edges their arrowheads and curves. Far out, node
items are hidden (the view hides them) and ``OverviewLayer`` draws every node from prebuilt paths,
so a frame costs a few Qt calls however many nodes there are, not one Python call per node.
Edges are never one item each: ``EdgeLayer`` culls them against the exposed rectangle with numpy.
"""
from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .graph import hover_text

TEXT_LOD = 0.45      # below this scale labels are unreadable: shapes only
OVERVIEW_LOD = 0.12  # below this the view hides node items and the overview draws them
CRISP_EDGES = 400    # antialias edges only when fewer than this many are in view

SIZES = {"op": (124, 40), "variable": (128, 36), "constant": (104, 36), "scope": (176, 48), "fold": (136, 48),
         "group": (136, 44), "update": (190, 44)}
DEFAULT_SIZE = (116, 34)   # watched or intermediate tensors without a producer
HGAP, VGAP = 150.0, 78.0   # layout spacing: columns wider than the widest node, room for edges between layers

HUES = {
    "op": "#4a90d9", "variable": "#1fa391", "constant": "#9e9e9e", "scope": "#5c6bc0", "fold": "#7e57c2",
    "group": "#1fa391", "update": "#ef6c00",
    "no_rule": "#ff9800", "not_differentiable": "#8d8d8d",
    "watched": "#2e9d3a", "path": "#d62ad6", "broken": "#e53935", "tangent": "#ef6c00",
}


# Gradient magnitude bins (upper bound, colour, meaning), on a log scale.
MAGNITUDE_COLOURS = [(1e-6, "#90caf9", "<1e-6"), (1e-3, "#1e88e5", "<1e-3"), (1.0, "#43a047", "<1"),
                     (1e3, "#fb8c00", "<1e3"), (float("inf"), "#e53935", "≥1e3"), (None, "#6a1b9a", "NaN/Inf")]


def magnitude_bin(size):
    """The MAGNITUDE_COLOURS index of a gradient's largest absolute value."""
    if size != size or size == float("inf"):
        return len(MAGNITUDE_COLOURS) - 1
    for index, (bound, _, _) in enumerate(MAGNITUDE_COLOURS[:-1]):
        if size < bound:
            return index
    return len(MAGNITUDE_COLOURS) - 2


def size_of(kind):
    return SIZES.get(kind, DEFAULT_SIZE)


def fill_class(node):
    """The colour class of a node's fill: its flags win over its kind."""
    if "no_rule" in node.flags:
        return "no_rule"
    if "not_differentiable" in node.flags:
        return "not_differentiable"
    return node.kind if node.kind in SIZES else "constant"


def _mix(a, b, t):
    return QtGui.QColor.fromRgbF(*(a.getRgbF()[i] * (1 - t) + b.getRgbF()[i] * t for i in range(3)))


class GraphStyle:
    """Colours from the widget's palette, so the graph reads in light and dark themes alike.

    Fills are the kind's hue mixed into the palette's base colour, so text in the palette's own
    text colour stays readable on them whichever way round the palette is.
    """

    def __init__(self, palette):
        self.base = palette.color(QtGui.QPalette.ColorRole.Base)
        self.text = palette.color(QtGui.QPalette.ColorRole.Text)
        self.selection = palette.color(QtGui.QPalette.ColorRole.Highlight)
        dark = self.base.lightnessF() < 0.5
        self.hue = {name: QtGui.QColor(value) for name, value in HUES.items()}
        strength = {"no_rule": 0.55, "not_differentiable": 0.45, "constant": 0.30}
        self.fill = {name: _mix(self.base, self.hue[name], strength.get(name, 0.28 if dark else 0.22))
                     for name in ("op", "variable", "constant", "scope", "fold", "group", "update", "no_rule",
                                  "not_differentiable")}
        self.border = _mix(self.base, self.text, 0.55)
        self.edge = _mix(self.base, self.text, 0.45)
        self.muted_text = _mix(self.base, self.text, 0.65)
        self.font = QtGui.QFont()
        self.font.setPointSizeF(10)
        self.bold_font = QtGui.QFont(self.font)
        self.bold_font.setBold(True)
        self.small_font = QtGui.QFont(self.font)
        self.small_font.setPointSizeF(7)
        self.metrics = QtGui.QFontMetricsF(self.font)
        self.bold_metrics = QtGui.QFontMetricsF(self.bold_font)


@dataclass
class Marks:
    """What the view currently emphasises, shared by every item (keys are drawn keys)."""
    path: set = field(default_factory=set)
    broken: set = field(default_factory=set)


_RECTS = {}


def _rects_of(kind, tangent=False):
    """A kind's box around (0, 0), and that box with room for the thick watched border, the selection
    ring and the "breaks here" tag above (forward mode: and the tangent's range under the box)."""
    found = _RECTS.get((kind, tangent))
    if found is None:
        w, h = size_of(kind)
        rect = QtCore.QRectF(-w / 2, -h / 2, w, h)
        found = _RECTS[(kind, tangent)] = (rect, rect.adjusted(-6, -24, 6, 20 if tangent else 6))
    return found


class NodeItem(QtWidgets.QGraphicsItem):
    """One node: op (rounded box), variable (ellipse), constant (small grey box), scope (stacked box)."""

    def __init__(self, node, style, marks):
        super().__init__()
        self.node = node
        self.key = node.key
        self._style = style
        self._marks = marks
        # Shared by every node of a kind (never changed): two wrapped rectangles per item were a third of
        # what 150,000 items cost to make, and to delete.
        self._rect, self._bounds = _rects_of(node.kind, bool(node.tangent))
        self._elided = None
        self.setPos(node.x, node.y)
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(1)
        self.setToolTip(hover_text(node))

    def set_style(self, style):
        self._style = style
        self._elided = None

    def boundingRect(self):
        return self._bounds

    def shape(self):
        path = QtGui.QPainterPath()
        path.addRect(self._rect)
        return path

    def paint(self, painter, option, widget=None):
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        style, node, rect = self._style, self.node, self._rect
        on_path = self.key in self._marks.path
        broken = self.key in self._marks.broken
        fill = style.fill[fill_class(node)]
        if lod < TEXT_LOD:  # far: a flat box is all anyone can see
            painter.fillRect(rect, style.hue["broken"] if broken else style.hue["path"] if on_path else fill)
            outline = style.selection if self.isSelected() else style.hue["watched"] if "watched" in node.flags else None
            if outline is not None:
                pen = QtGui.QPen(outline, 2)
                pen.setCosmetic(True)
                painter.setPen(pen)
                painter.drawRect(rect)
            return
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        border = QtGui.QPen(style.border, 1.2)
        if "watched" in node.flags:
            border = QtGui.QPen(style.hue["watched"], 4)
        elif node.kind == "update":   # dashed: a stateful assignment, outside the tape
            border = QtGui.QPen(style.hue["update"], 2, QtCore.Qt.PenStyle.DashLine)
        elif "updated" in node.flags:   # a variable the update wrote
            border = QtGui.QPen(style.hue["update"], 2)
        if on_path:
            border = QtGui.QPen(style.hue["path"], 4 if "watched" not in node.flags else 5)
        painter.setPen(border)
        painter.setBrush(fill)
        if node.kind in ("scope", "fold", "group"):  # a second shape behind, as a stack of what it holds
            self._draw_shape(painter, rect.translated(5, -5))
        self._draw_shape(painter, rect)
        if broken:
            pen = QtGui.QPen(style.hue["broken"], 3, QtCore.Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            self._draw_shape(painter, rect.adjusted(-4, -4, 4, 4))
            self._draw_tag(painter, "path breaks here")
        if node.tangent:
            self._draw_tangent(painter, node.tangent)
        if self.isSelected():
            painter.setPen(QtGui.QPen(style.selection, 2.5))
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(-6 if broken else -3, -6 if broken else -3, 6 if broken else 3,
                                           6 if broken else 3))
        text_rect = rect.adjusted(8, 2, -8, -2)
        if "no_rule" in node.flags or "not_differentiable" in node.flags:
            self._draw_glyph(painter, node.flags)
            text_rect.adjust(14, 0, 0, 0)
        painter.setPen(style.text)
        if self._elided is None:
            self._elided = label_lines(node, style, text_rect.width())
        if len(self._elided) == 1:
            painter.setFont(style.font)
            painter.drawText(text_rect, QtCore.Qt.AlignmentFlag.AlignCenter, self._elided[0])
        else:   # the user's name above, the op below
            top, bottom = QtCore.QRectF(text_rect), QtCore.QRectF(text_rect)
            top.setBottom(text_rect.center().y() + 1)
            bottom.setTop(text_rect.center().y() - 1)
            painter.setFont(style.bold_font)
            painter.drawText(top, QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignBottom,
                             self._elided[0])
            painter.setFont(style.font)
            painter.drawText(bottom, QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignTop,
                             self._elided[1])

    def _draw_shape(self, painter, rect):
        if self.node.kind in ("variable", "group"):
            painter.drawEllipse(rect)
        elif self.node.kind in ("op", "scope", "fold"):
            painter.drawRoundedRect(rect, 8, 8)
        else:
            painter.drawRect(rect)

    def _draw_glyph(self, painter, flags):
        """A small badge at the left: '!' in orange for a missing rule, a barred circle for not differentiable."""
        centre = QtCore.QPointF(self._rect.left() + 14, 0)
        painter.setPen(QtGui.QPen(self._style.text, 1.6))
        if "no_rule" in flags:
            painter.setBrush(self._style.hue["no_rule"])
            painter.drawEllipse(centre, 8, 8)
            painter.setPen(QtGui.QPen(QtGui.QColor("black"), 2))
            painter.drawLine(centre + QtCore.QPointF(0, -4.5), centre + QtCore.QPointF(0, 1.5))
            painter.drawPoint(centre + QtCore.QPointF(0, 4.5))
        else:
            painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            painter.drawEllipse(centre, 7, 7)
            painter.drawLine(centre + QtCore.QPointF(-5, 5), centre + QtCore.QPointF(5, -5))

    def _draw_tangent(self, painter, text):
        """Forward mode: the tangent's range just under the box, in the tangent colour."""
        painter.setFont(self._style.small_font)
        metrics = QtGui.QFontMetricsF(self._style.small_font)
        room = self._rect.width() + 40
        text = metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, room)
        width = metrics.horizontalAdvance(text) + 6
        below = QtCore.QRectF(-width / 2, self._rect.bottom() + 1, width, metrics.height() + 1)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(self._style.base)   # the edge leaving the node passes behind the text, not through it
        painter.drawRoundedRect(below, 3, 3)
        painter.setPen(self._style.hue["tangent"])
        painter.drawText(below, QtCore.Qt.AlignmentFlag.AlignCenter, text)

    def _draw_tag(self, painter, text):
        painter.setFont(self._style.small_font)
        metrics = QtGui.QFontMetricsF(self._style.small_font)
        width = metrics.horizontalAdvance(text) + 8
        tag = QtCore.QRectF(self._rect.left() - 4, self._rect.top() - 22, width, metrics.height() + 2)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(self._style.hue["broken"])
        painter.drawRoundedRect(tag, 3, 3)
        painter.setPen(QtGui.QColor("white"))
        painter.drawText(tag, QtCore.Qt.AlignmentFlag.AlignCenter, text)


class NodeBlock(QtWidgets.QGraphicsItem):
    """A few hundred neighbouring node items as the children of one item that contains them.

    The scene keeps no index (a BSP tree of 150,000 items took 200-440 ms to build in the first paint
    after "Expand all"); instead painting and hit testing walk the few hundred blocks and look inside
    only those meeting the exposed rectangle (``ItemContainsChildrenInShape``: no clipping, just that
    promise). Far out the view hides blocks, not every node.
    """

    def __init__(self, bounds):
        super().__init__()
        self._bounds = bounds
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemContainsChildrenInShape)
        self.setZValue(1)   # over the edges and the overview

    def boundingRect(self):
        return self._bounds

    def paint(self, painter, option, widget=None):
        pass   # its children draw; a block with no contents flag would not be culled as a whole


def block_bounds(nodes):
    """The scene rectangle holding these nodes' items, their selection rings and tags included."""
    xs = [n.x for n in nodes]
    ys = [n.y for n in nodes]
    half_w = max(size_of(n.kind)[0] for n in nodes) / 2 + 6
    half_h = max(size_of(n.kind)[1] for n in nodes) / 2
    return QtCore.QRectF(min(xs) - half_w, min(ys) - half_h - 24, max(xs) - min(xs) + 2 * half_w,
                         max(ys) - min(ys) + 2 * half_h + 30)


class EdgeGeometry:
    """Every edge's end points and bounding box as numpy arrays: built once, off the UI thread."""

    def __init__(self, graph):
        keys = list(graph.nodes)
        index = {k: i for i, k in enumerate(keys)}
        xs = np.array([graph.nodes[k].x for k in keys], dtype=float)
        ys = np.array([graph.nodes[k].y for k in keys], dtype=float)
        half = np.array([size_of(graph.nodes[k].kind)[1] / 2 for k in keys], dtype=float)
        src = np.array([index[e.source] for e in graph.edges], dtype=np.int64)
        dst = np.array([index[e.target] for e in graph.edges], dtype=np.int64)
        self.sources = [e.source for e in graph.edges]
        self.targets = [e.target for e in graph.edges]
        self.tensors = [e.tensor for e in graph.edges]
        # Top to bottom: out of a node's bottom edge, into the next one's top edge.
        self.x0 = xs[src] if len(src) else np.zeros(0)
        self.y0 = ys[src] + half[src] if len(src) else np.zeros(0)
        self.x1 = xs[dst] + _input_offsets(dst, self.x0) if len(dst) else np.zeros(0)
        self.y1 = ys[dst] - half[dst] if len(dst) else np.zeros(0)
        self.bend = np.maximum(24.0, np.abs(self.y1 - self.y0) / 2)  # vertical reach of the curve's handles
        self.left = np.minimum(self.x0, self.x1)
        self.right = np.maximum(self.x0, self.x1)
        self.top = np.minimum(self.y0, self.y1 - self.bend)
        self.bottom = np.maximum(self.y1, self.y0 + self.bend)
        self._lines = None

    @property
    def lines(self):
        """Every edge as a straight segment, for the far-out view: made when first drawn."""
        if self._lines is None:
            self._lines = straight_lines(self.x0, self.y0, self.x1, self.y1)
        return self._lines

    def __len__(self):
        return len(self.x0)

    def visible(self, rect):
        return np.nonzero((self.right >= rect.left()) & (self.left <= rect.right())
                          & (self.bottom >= rect.top()) & (self.top <= rect.bottom()))[0]


def _input_offsets(targets, source_x, spacing=14.0):
    """A node's inputs arrive at separate points along its top side, in the order their sources sit."""
    order = np.lexsort((source_x, targets))
    sorted_targets = targets[order]
    starts = np.flatnonzero(np.r_[True, sorted_targets[1:] != sorted_targets[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    group = np.repeat(np.arange(len(starts)), counts)
    rank = np.arange(len(order)) - starts[group]
    count = counts[group].astype(float)
    spread = np.minimum(spacing, 80.0 / np.maximum(count - 1, 1))
    offsets = np.zeros(len(targets))
    offsets[order] = (rank - (count - 1) / 2) * spread
    return offsets


def label_lines(node, style, width):
    """One or two lines that fit ``width``: the user's name (bold) over the op type, or the label."""
    elide = QtCore.Qt.TextElideMode.ElideMiddle
    if node.name:
        return [style.bold_metrics.elidedText(node.name, elide, width),
                style.metrics.elidedText(display_label(node), elide, width)]
    text = display_label(node)
    if style.metrics.horizontalAdvance(text) > width and " " in text and node.kind in ("fold", "group", "scope"):
        head, _, tail = text.rpartition(" x") if " x" in text else text.partition(" (")
        if head and tail:
            second = ("x" if " x" in text else "(") + tail
            return [style.metrics.elidedText(head, elide, width), style.metrics.elidedText(second, elide, width)]
    if node.kind == "variable":   # the end of a scoped name tells variables apart: "…dense_1/kernel"
        elide = QtCore.Qt.TextElideMode.ElideLeft
    return [style.metrics.elidedText(text, elide, width)]


def display_label(node):
    """What fits in a node: a constant described in words ('a float64 constant of shape (4, 3)', 'the float32
    output of Sum (line 4)', made before the tape) shows its shape; the words stay in the tooltip."""
    if node.kind in ("constant", "intermediate") and node.label.startswith(("a ", "the ")) and node.detail:
        return node.detail.replace("float", "f").replace("int", "i")
    return node.short or node.label


def straight_lines(x0, y0, x1, y1):
    """One QPainterPath of many separate segments, built by pyqtgraph from arrays (no Python loop)."""
    from pyqtgraph import arrayToQPath
    if len(x0) == 0:
        return QtGui.QPainterPath()
    x = np.column_stack([x0, x1]).ravel()
    y = np.column_stack([y0, y1]).ravel()
    return arrayToQPath(x, y, connect="pairs", finiteCheck=False)


def curve(x0, y0, x1, y1, bend, path=None):
    """Downwards: leaves the source straight down and reaches the target straight down, above its arrowhead."""
    path = path if path is not None else QtGui.QPainterPath()
    path.moveTo(x0, y0)
    path.cubicTo(x0, y0 + bend, x1, y1 - 8 - bend, x1, y1 - 8)
    return path


def curve_svg(x0, y0, x1, y1, bend):
    """The same curve as ``curve``, as SVG path data ending at the target (the marker draws the head)."""
    return f"M{x0:.1f},{y0:.1f} C{x0:.1f},{y0 + bend:.1f} {x1:.1f},{y1 - bend:.1f} {x1:.1f},{y1:.1f}"


def arrowhead(x, y, path):
    path.moveTo(x, y)
    path.lineTo(x - 5, y - 10)
    path.lineTo(x + 5, y - 10)
    path.closeSubpath()


def _cosmetic(colour, width):
    """A pen measured in pixels: Qt strokes it without building an outline of the whole curve,
    which for an edge running thousands of pixels off screen costs more than the frame."""
    pen = QtGui.QPen(colour, width)
    pen.setCosmetic(True)
    return pen


class EdgeLayer(QtWidgets.QGraphicsItem):
    """All edges in one item: curves with arrowheads close up, straight lines further out."""

    def __init__(self, geometry, bounds, style, marks):
        super().__init__()
        self.geometry = geometry
        self._bounds = bounds
        self._style = style
        self._marks = marks
        self._path_edges = np.zeros(0, dtype=np.int64)
        self._bins = []   # (edge indices, colour) by gradient magnitude, while a backward pass is shown
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # exposedRect
        self.setZValue(0)

    def set_style(self, style):
        self._style = style
        self.update()

    def set_magnitudes(self, magnitudes):
        """Colour each edge by the size of the gradient its tensor carried back (tensor id -> largest
        absolute value), on a log scale: vanishing gradients blue, exploding red. None clears."""
        self._bins = []
        if magnitudes:
            edges_by_bin = {}
            for i, tensor_id in enumerate(self.geometry.tensors):
                size = magnitudes.get(tensor_id)
                if size is not None:
                    edges_by_bin.setdefault(magnitude_bin(size), []).append(i)
            self._bins = [(np.array(edges, dtype=np.int64), QtGui.QColor(MAGNITUDE_COLOURS[b][1]))
                          for b, edges in sorted(edges_by_bin.items())]
        self.update()

    def set_marks(self):
        """Edges whose two ends are both on the highlighted path are drawn in the accent colour."""
        marked = self._marks.path
        self._path_edges = np.array([i for i, (s, t) in enumerate(zip(self.geometry.sources, self.geometry.targets))
                                     if s in marked and t in marked], dtype=np.int64) if marked else np.zeros(0, np.int64)
        self.update()

    def boundingRect(self):
        return self._bounds

    def paint(self, painter, option, widget=None):
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        g = self.geometry
        if lod < OVERVIEW_LOD:
            painter.setPen(QtGui.QPen(self._style.edge, 0))  # cosmetic: one pixel at any zoom
            painter.drawPath(g.lines)
            self._paint_subset(painter, self._path_edges, lod, _cosmetic(self._style.hue["path"], 1.5), False)
            return
        exposed = option.exposedRect
        shown = g.visible(exposed)
        marked = np.intersect1d(self._path_edges, shown, assume_unique=True)
        if lod < TEXT_LOD:
            self._paint_subset(painter, shown, lod, _cosmetic(self._style.edge, 1), False)
            self._paint_subset(painter, marked, lod, _cosmetic(self._style.hue["path"], 1.5), False)
            return
        # Antialiasing a curve costs in proportion to its whole length, on screen or not: only
        # edges about the size of the view get it, and only when few are in view.
        span = (g.right - g.left) + (g.bottom - g.top)
        short = span <= 2 * (exposed.width() + exposed.height())
        crisp = len(shown) < CRISP_EDGES
        layers = [(shown, self._style.edge, 1.0), (marked, self._style.hue["path"], 3)]
        layers += [(np.intersect1d(edges, shown, assume_unique=True), colour, 3) for edges, colour in self._bins]
        for which, colour, width in layers:
            pen = _cosmetic(colour, width * min(lod, 1.0) if width > 1.5 else width)
            self._paint_subset(painter, which[short[which]], lod, pen, crisp)
            self._paint_subset(painter, which[~short[which]], lod, pen, False)

    def _paint_subset(self, painter, which, lod, pen, antialias):
        if len(which) == 0:
            return
        g = self.geometry
        if lod < TEXT_LOD:
            painter.setPen(pen)
            painter.drawPath(straight_lines(g.x0[which], g.y0[which], g.x1[which], g.y1[which]))
            return
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, antialias)
        lines, heads = QtGui.QPainterPath(), QtGui.QPainterPath()
        heads.setFillRule(QtCore.Qt.FillRule.WindingFill)  # overlapping heads must not cancel out
        for x0, y0, x1, y1, bend in zip(g.x0[which].tolist(), g.y0[which].tolist(), g.x1[which].tolist(),
                                        g.y1[which].tolist(), g.bend[which].tolist()):
            curve(x0, y0, x1, y1, bend, lines)
            arrowhead(x1, y1, heads)
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawPath(lines)
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(pen.color())
        painter.drawPath(heads)


def node_paths(nodes):
    """Per colour class, one path of all those nodes' boxes (for the overview)."""
    paths = {}
    for node in nodes:
        w, h = size_of(node.kind)
        paths.setdefault(fill_class(node), QtGui.QPainterPath()).addRect(node.x - w / 2, node.y - h / 2, w, h)
    return paths


def node_boxes(nodes):
    """Per colour class, the nodes' boxes as rows of (left, top, right, bottom): what the overview
    culls against the exposed rectangle when only part of the graph is in view."""
    rows = {}
    for node in nodes:
        w, h = size_of(node.kind)
        rows.setdefault(fill_class(node), []).append((node.x - w / 2, node.y - h / 2, node.x + w / 2, node.y + h / 2))
    return {name: np.array(boxes, dtype=float).reshape(-1, 4) for name, boxes in rows.items()}


CULL_BELOW = 0.25   # exposed area / graph area under which the overview draws only the boxes in view


class OverviewLayer(QtWidgets.QGraphicsItem):
    """Far out: every node from a few prebuilt paths; the path, breaks and selection as thick outlines.

    It is also what shows while a big drawing's node items are still being made, then at a readable
    scale with a small part of the graph in view: there it draws only the boxes meeting the exposed
    rectangle, since stroking a whole path of 100,000 boxes took over 100 ms per repaint.
    """

    def __init__(self, paths, watched, bounds, style, boxes=None):
        super().__init__()
        self._paths = paths
        self._boxes = boxes or {}
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)  # exposedRect
        self._watched = watched
        self._bounds = bounds
        self._style = style
        self.marks = {}   # "path" / "broken" / "selected" -> QPainterPath
        self.setZValue(0.5)   # over the edges, under the items made so far (far out those are hidden)

    def set_style(self, style):
        self._style = style
        self.update()

    def boundingRect(self):
        return self._bounds

    def boxes_in(self, name, rect):
        """The boxes of one colour class that meet ``rect``, as QRectFs."""
        boxes = self._boxes[name]
        meet = ((boxes[:, 2] >= rect.left()) & (boxes[:, 0] <= rect.right())
                & (boxes[:, 3] >= rect.top()) & (boxes[:, 1] <= rect.bottom()))
        return [QtCore.QRectF(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes[meet].tolist()]

    def paint(self, painter, option, widget=None):
        style = self._style
        exposed = option.exposedRect
        whole = self._bounds.width() * self._bounds.height()
        cull = exposed.width() * exposed.height() < CULL_BELOW * whole
        for name, path in self._paths.items():
            painter.setPen(QtGui.QPen(style.fill[name].darker(115) if style.base.lightnessF() >= 0.5
                                      else style.fill[name].lighter(130), 0))
            painter.setBrush(style.fill[name])
            if cull and name in self._boxes:
                painter.drawRects(self.boxes_in(name, exposed))
            else:
                painter.drawPath(path)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for name, colour, width in (("watched", style.hue["watched"], 2), ("path", style.hue["path"], 3),
                                    ("selected", style.selection, 3), ("broken", style.hue["broken"], 4)):
            path = self._watched if name == "watched" else self.marks.get(name)
            if path is not None and not path.isEmpty():
                pen = QtGui.QPen(colour, width)
                pen.setCosmetic(True)   # stays visible however small the boxes get
                painter.setPen(pen)
                painter.drawPath(path)
