"""A small map of the whole graph in a corner of the graph view, with the part in view outlined.

Shown only when the graph does not fit the view. It paints the prebuilt per-colour paths of the
plan (a few Qt calls however big the graph), and a click or drag there moves the main view.
"""
from PySide6 import QtCore, QtGui, QtWidgets

SIZE = QtCore.QSize(170, 190)


class Minimap(QtWidgets.QWidget):
    def __init__(self, view):
        super().__init__(view)
        self._view = view
        self._plan = None
        self.resize(SIZE)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.setToolTip("The whole graph: click or drag to move the view")
        self.hide()

    def set_plan(self, plan):
        self._plan = plan
        self.refresh()

    def _transform(self):
        """Scene -> minimap coordinates, keeping the aspect ratio, with a small margin."""
        bounds = self._plan.bounds
        scale = min((self.width() - 8) / max(1.0, bounds.width()), (self.height() - 8) / max(1.0, bounds.height()))
        dx = (self.width() - bounds.width() * scale) / 2 - bounds.left() * scale
        dy = (self.height() - bounds.height() * scale) / 2 - bounds.top() * scale
        return QtGui.QTransform(scale, 0, 0, scale, dx, dy)

    def refresh(self):
        """Show when part of the graph is out of view; repaint the outline of the view."""
        if self._plan is None:
            self.hide()
            return
        shown = self._view.mapToScene(self._view.viewport().rect()).boundingRect()
        whole = self._plan.bounds
        fits = shown.contains(whole.adjusted(20, 20, -20, -20))
        viewport = self._view.viewport()
        # A corner of the view at most: never more than a fifth of its width or a quarter of its height.
        width = min(SIZE.width(), int(viewport.width() * 0.2))
        height = min(SIZE.height(), int(viewport.height() * 0.25))
        self.setVisible(not fits and width >= 60 and height >= 60)
        if self.isVisible():
            self.resize(width, height)
            self.move(viewport.x() + viewport.width() - self.width() - 8, viewport.y() + viewport.height() - self.height() - 8)
            self.raise_()
            self.update()

    def paintEvent(self, event):
        if self._plan is None:
            return
        painter = QtGui.QPainter(self)
        style = self._view.graph_style()
        painter.fillRect(self.rect(), style.base)
        painter.setPen(QtGui.QPen(style.border, 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.setTransform(self._transform())
        for name, path in self._plan.paths.items():
            painter.setPen(QtCore.Qt.PenStyle.NoPen)
            painter.setBrush(style.hue.get(name, style.border))
            painter.drawPath(path)
        pen = QtGui.QPen(style.selection, 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        painter.drawRect(self._view.mapToScene(self._view.viewport().rect()).boundingRect())

    def _go(self, position):
        inverse, ok = self._transform().inverted()
        if ok:
            self._view.centerOn(inverse.map(QtCore.QPointF(position)))

    def mousePressEvent(self, event):
        self._go(event.position())
        event.accept()

    def mouseMoveEvent(self, event):
        if event.buttons() & QtCore.Qt.MouseButton.LeftButton:
            self._go(event.position())
        event.accept()
