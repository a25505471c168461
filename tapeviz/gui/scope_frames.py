"""Open name scopes drawn as frames: a Keras layer's ops inside a rounded rectangle named after it.

A scope that is open (its ops drawn one by one) still shows where its layer or module is. The
layout keeps each open scope's nodes together in one rectangle, nested inside its parent's and
apart from its siblings' (``scope_layout.py``); the frame is that rectangle, with the scope's short
name as its title. Double-clicking a frame closes its scope into one box (``GraphView``). Frames are
made with the plan, off the UI thread.
"""
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .graph_items import OVERVIEW_LOD, size_of
from .scopes import open_scopes   # export.py finds it here too

MAX_FRAMED_NODES = 1500   # beyond, layout already takes seconds and big graphs start with scopes closed
PAD = 12.0          # around the nodes of a scope the layout gave no rectangle
NEST_PAD = 18.0     # more for each level of scopes there
LABEL_HEIGHT = 17.0
CORNER = 8.0        # the frames' rounding


@dataclass
class Frame:
    scope: str                 # "sequential/dense_1"
    label: str                 # what the frame shows: the scope's own name when its parent is framed too
    depth: int                 # 1 for a top-level scope
    outline: QtGui.QPainterPath
    label_at: QtCore.QPointF   # top-left of the label
    pieces: list = ()          # the frame's rectangle (QPolygonF)
    bounds: object = None      # its (left, top, right, bottom), one row of a numpy array


def scope_frames(graph):
    """A Frame for each open scope of a laid-out graph (outermost first), or [] for a big graph.

    The layout keeps each scope in a rectangle (``graph.scope_boxes``): the frame is that rectangle,
    rounded. A graph laid out without them (none given) gets its scopes' bounding boxes, padded."""
    if len(graph.nodes) > MAX_FRAMED_NODES:
        return []
    members = {}
    for node in graph.nodes.values():
        for scope in open_scopes(node):
            members.setdefault(scope, []).append(node)
    if not members:
        return []
    boxes = getattr(graph, "scope_boxes", None) or {}
    frames = []
    for scope in sorted(members, key=lambda s: (s.count("/"), s)):
        if scope in boxes:
            left, top, right, bottom = boxes[scope]
            rect = QtCore.QRectF(left, top, right - left, bottom - top)
        else:
            rect = _bounding(members[scope], PAD + NEST_PAD * (scope.count("/") + 1))
        path = QtGui.QPainterPath()
        path.addRoundedRect(rect, CORNER, CORNER)
        parent = scope.rpartition("/")[0]
        label = scope.rpartition("/")[2] if parent in members else scope
        frames.append(Frame(scope, label, scope.count("/") + 1, path, QtCore.QPointF(rect.left() + 8, rect.top() + 3),
                            [QtGui.QPolygonF(rect)],
                            np.array([(rect.left(), rect.top(), rect.right(), rect.bottom())], dtype=float)))
    return frames


def _bounding(nodes, pad):
    rect = QtCore.QRectF()
    for node in nodes:
        w, h = size_of(node.kind)
        rect = rect.united(QtCore.QRectF(node.x - w / 2 - pad, node.y - h / 2 - pad, w + 2 * pad, h + 2 * pad))
    return rect


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
        lod = QtWidgets.QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < OVERVIEW_LOD:   # far out the view draws boxes only: a frame there is noise, and costly
            return
        style = self._style
        hue = QtGui.QColor(style.hue["scope"])
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        # Opaque and a little deeper at each level, so that nesting shows; inner frames are drawn over outer ones.
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        painter.setBrush(_tint(style.base, hue, min(0.05 + 0.035 * self.frame.depth, 0.25)))
        painter.drawPath(self.frame.outline)
        pen = QtGui.QPen(hue, 1.4)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawPath(self.frame.outline)


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
