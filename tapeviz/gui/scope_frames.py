"""Open name scopes drawn as frames: a Keras layer's ops inside a rounded outline named after it.

A scope that is open (its ops drawn one by one) still shows where its layer or module is: the
outline hugs the boxes of its nodes and the edges between them, so a node of another scope placed
beside it stays outside. Nested scopes nest: an outer frame is padded more than the ones inside
it. Double-clicking a frame closes its scope into one box (``GraphView``). The outlines are made
with the plan, off the UI thread; only graphs up to ``MAX_FRAMED_NODES`` nodes get them (uniting
outlines costs more than a few milliseconds beyond that, and such graphs start with scopes closed).
"""
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

from .graph_items import size_of

MAX_FRAMED_NODES = 1500
PAD = 12.0          # around the nodes of an innermost scope
NEST_PAD = 18.0     # more for each level of scopes inside (room for the outer label above the inner)
LABEL_HEIGHT = 14.0
ROUNDING = 8.0


@dataclass
class Frame:
    scope: str                 # "sequential/dense_1"
    label: str                 # what the frame shows: the scope's own name when its parent is framed too
    depth: int                 # 1 for a top-level scope
    outline: QtGui.QPainterPath
    label_at: QtCore.QPointF   # top-left of the label


def open_scopes(node):
    """The scopes around a drawn node that are open: every scope of an op or leaf drawn on its own,
    the scopes around a closed scope's box (not the box's own)."""
    if not node.scope:
        return []
    parts = node.scope.split("/")
    last = len(parts) - 1 if node.kind == "scope" else len(parts)
    return ["/".join(parts[:end]) for end in range(1, last + 1)]


def scope_frames(graph):
    """A Frame for each open scope of a laid-out graph (outermost first), or [] for a big graph."""
    if len(graph.nodes) > MAX_FRAMED_NODES:
        return []
    members = {}
    for node in graph.nodes.values():
        for scope in open_scopes(node):
            members.setdefault(scope, []).append(node)
    if not members:
        return []
    # How many levels of framed scopes each scope holds: its frame goes around theirs.
    levels = {scope: 0 for scope in members}
    for scope in sorted(members, key=lambda s: -s.count("/")):
        parent = scope.rpartition("/")[0]
        if parent in levels:
            levels[parent] = max(levels[parent], levels[scope] + 1)
    frames = []
    for scope in sorted(members, key=lambda s: (s.count("/"), s)):
        inside = members[scope]
        keys = {node.key for node in inside}
        pad = PAD + NEST_PAD * levels[scope]
        path = QtGui.QPainterPath()
        path.setFillRule(QtCore.Qt.FillRule.WindingFill)
        for node in inside:
            path.addRect(_box(node, pad))
        for edge in graph.edges:   # a band along each edge inside the scope keeps the outline in one piece
            if edge.source in keys and edge.target in keys:
                path.addPolygon(_band(graph.nodes[edge.source], graph.nodes[edge.target], pad))
        top = min(inside, key=lambda n: (n.y, n.x))
        w, h = size_of(top.kind)
        parent = scope.rpartition("/")[0]
        label = scope.rpartition("/")[2] if parent in members else scope
        frames.append(Frame(scope, label, scope.count("/") + 1, _rounded(path.simplified()),
                            QtCore.QPointF(top.x - w / 2 - pad + 6, top.y - h / 2 - pad + 1)))
    return frames


def _rounded(outline, radius=ROUNDING):
    """The outline with its corners rounded: shrunk by ``radius``, then grown back with round joins."""
    pen = QtGui.QPainterPathStroker()
    pen.setWidth(2 * radius)
    pen.setJoinStyle(QtCore.Qt.PenJoinStyle.RoundJoin)
    shrunk = outline.subtracted(pen.createStroke(outline))
    if shrunk.isEmpty():
        return outline
    return shrunk.united(pen.createStroke(shrunk)).simplified()


def _box(node, pad):
    w, h = size_of(node.kind)
    return QtCore.QRectF(node.x - w / 2 - pad, node.y - h / 2 - pad, w + 2 * pad, h + 2 * pad)


def _band(a, b, pad):
    """A quadrilateral from the bottom of ``a``'s padded box to the top of ``b``'s, half their widths."""
    if a.y > b.y:
        a, b = b, a
    wa, ha = size_of(a.kind)
    wb, hb = size_of(b.kind)
    half_a, half_b = wa / 4 + pad / 2, wb / 4 + pad / 2
    bottom_a, top_b = a.y + ha / 2, b.y - hb / 2
    return QtGui.QPolygonF([QtCore.QPointF(a.x - half_a, bottom_a), QtCore.QPointF(a.x + half_a, bottom_a),
                            QtCore.QPointF(b.x + half_b, top_b), QtCore.QPointF(b.x - half_b, top_b)])


class FrameItem(QtWidgets.QGraphicsItem):
    """One open scope's outline and name, under the edges and nodes; double-click closes the scope."""

    def __init__(self, frame, style):
        super().__init__()
        self.frame = frame
        self.scope = frame.scope
        self._style = style
        self._bounds = frame.outline.boundingRect().adjusted(-2, -2, 2, 2)
        self.setZValue(-10 + frame.depth * 0.1)   # inner frames over outer ones, all under the edges
        self.setToolTip(f"scope {frame.scope}: double-click to close it into one box")

    def set_style(self, style):
        self._style = style
        self.update()

    def boundingRect(self):
        return self._bounds

    def shape(self):
        return self.frame.outline

    def paint(self, painter, option, widget=None):
        style = self._style
        hue = QtGui.QColor(style.hue["scope"])
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        fill = QtGui.QColor(hue)
        fill.setAlphaF(0.07)
        pen = QtGui.QPen(hue, 1.4)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawPath(self.frame.outline)
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod >= 0.45:
            painter.setFont(style.font)
            painter.setPen(hue.darker(130) if style.base.lightnessF() >= 0.5 else hue.lighter(150))
            painter.drawText(QtCore.QRectF(self.frame.label_at, QtCore.QSizeF(400, LABEL_HEIGHT)),
                             QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                             self.frame.label)
