"""Open name scopes drawn as frames: a Keras layer's ops inside a rounded outline named after it.

A scope that is open (its ops drawn one by one) still shows where its layer or module is: the
outline hugs the boxes of its nodes and the edges between them, so a node of another scope placed
beside it stays outside. Nested scopes nest: an outer frame is padded more than the ones inside
it. Double-clicking a frame closes its scope into one box (``GraphView``). The outlines are made
with the plan, off the UI thread, as one path of padded boxes per scope: never united with Qt's
path operations, which took seconds for a few dozen layers. The frame draws the union's outline
by stroking every box, then filling them all over the strokes, which leaves only the outer edge.
"""
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .graph_items import OVERVIEW_LOD, size_of

MAX_FRAMED_NODES = 1500   # beyond, layout already takes seconds and big graphs start with scopes closed
PAD = 12.0          # around the nodes of an innermost scope
NEST_PAD = 18.0     # more for each level of scopes inside (room for the outer label above the inner)
LABEL_HEIGHT = 14.0


@dataclass
class Frame:
    scope: str                 # "sequential/dense_1"
    label: str                 # what the frame shows: the scope's own name when its parent is framed too
    depth: int                 # 1 for a top-level scope
    outline: QtGui.QPainterPath
    label_at: QtCore.QPointF   # top-left of the label
    pieces: list = ()          # the boxes and bands the outline is made of (QPolygonF), for painting a part
    bounds: object = None      # their bounding boxes, (left, top, right, bottom) rows of a numpy array


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
    members, scopes_of = {}, {}
    for node in graph.nodes.values():
        scopes_of[node.key] = open_scopes(node)
        for scope in scopes_of[node.key]:
            members.setdefault(scope, []).append(node)
    if not members:
        return []
    bands = {}   # scope -> the edges with both ends inside it
    for edge in graph.edges:
        source, target = scopes_of.get(edge.source), scopes_of.get(edge.target)
        if source and target:
            for scope in set(source).intersection(target):
                bands.setdefault(scope, []).append(edge)
    # How many levels of framed scopes each scope holds: its frame goes around theirs.
    levels = {scope: 0 for scope in members}
    for scope in sorted(members, key=lambda s: -s.count("/")):
        parent = scope.rpartition("/")[0]
        if parent in levels:
            levels[parent] = max(levels[parent], levels[scope] + 1)
    frames = []
    for scope in sorted(members, key=lambda s: (s.count("/"), s)):
        inside = members[scope]
        pad = PAD + NEST_PAD * levels[scope]
        # Straight corners: stroking rounded ones cost three times as much per repaint. A band along each
        # edge inside keeps the outline in one piece.
        pieces = [QtGui.QPolygonF(_box(node, pad)) for node in inside]
        pieces += [_band(graph.nodes[edge.source], graph.nodes[edge.target], pad) for edge in bands.get(scope, ())]
        path = _path(pieces)
        rects = [piece.boundingRect() for piece in pieces]
        bounds = np.array([(r.left(), r.top(), r.right(), r.bottom()) for r in rects], dtype=float).reshape(-1, 4)
        top = min(inside, key=lambda n: (n.y, n.x))
        w, h = size_of(top.kind)
        parent = scope.rpartition("/")[0]
        label = scope.rpartition("/")[2] if parent in members else scope
        frames.append(Frame(scope, label, scope.count("/") + 1, path,
                            QtCore.QPointF(top.x - w / 2 - pad + 6, top.y - h / 2 - pad + 1), pieces, bounds))
    return frames


def _path(pieces):
    path = QtGui.QPainterPath()
    path.setFillRule(QtCore.Qt.FillRule.WindingFill)   # overlapping pieces add up, never cancel
    for piece in pieces:
        path.addPolygon(piece)
        path.closeSubpath()
    return path


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
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)   # exposedRect
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
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < OVERVIEW_LOD:   # far out the view draws boxes only: a frame there is noise, and costly
            return
        style = self._style
        hue = QtGui.QColor(style.hue["scope"])
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        # Opaque, so that filling covers the inner half of every box's stroke and all of those inside
        # the union: what stays is the union's outer edge. Inner frames are drawn over outer ones.
        fill = _tint(style.base, hue, 0.07)
        pen = QtGui.QPen(hue, 2.8)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        outline = self._part(option.exposedRect)
        painter.drawPath(outline)
        painter.fillPath(outline, fill)

    def _part(self, exposed):
        """The pieces meeting the exposed rectangle: a point of the visible edge covered by a piece's fill
        lies in that piece, so nothing outside it changes what shows (a big model's frame holds
        hundreds of boxes; stroking them all took most of a repaint)."""
        frame, slack = self.frame, 3.0
        if frame.bounds is None or exposed.contains(self._bounds):
            return frame.outline
        b = frame.bounds
        meet = ((b[:, 2] >= exposed.left() - slack) & (b[:, 0] <= exposed.right() + slack)
                & (b[:, 3] >= exposed.top() - slack) & (b[:, 1] <= exposed.bottom() + slack))
        return _path([frame.pieces[i] for i in np.flatnonzero(meet)])


class FrameLabel(QtWidgets.QGraphicsItem):
    """A frame's name, over every frame (another scope's opaque fill must not hide it), under the edges."""

    def __init__(self, frame, style):
        super().__init__()
        self.frame = frame
        self._style = style
        self._rect = QtCore.QRectF(frame.label_at, QtCore.QSizeF(style.metrics.horizontalAdvance(frame.label) + 4,
                                                                 LABEL_HEIGHT))
        self.setZValue(-5)

    def set_style(self, style):
        self._style = style
        self.update()

    def boundingRect(self):
        return self._rect

    def paint(self, painter, option, widget=None):
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < 0.45:   # unreadable: the outlines alone say where the scopes are
            return
        style = self._style
        hue = QtGui.QColor(style.hue["scope"])
        painter.setFont(style.font)
        painter.setPen(hue.darker(130) if style.base.lightnessF() >= 0.5 else hue.lighter(150))
        painter.drawText(self._rect, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                         self.frame.label)


def _tint(base, hue, amount):
    return QtGui.QColor.fromRgbF(*(base.getRgbF()[i] * (1 - amount) + hue.getRgbF()[i] * amount for i in range(3)))
