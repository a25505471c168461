"""The script editor: line numbers, a modified marker, Save and Save As; it never writes a file unasked.

Running (Ctrl+Enter) runs the saved file, or a scratch copy of unsaved text, so a run never
overwrites the user's script. Save refuses to write over a file changed on disk since it was read
without asking first.
"""
import os

from PySide6 import QtCore, QtGui, QtWidgets


class _LineNumbers(QtWidgets.QWidget):
    def __init__(self, editor):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self):
        return QtCore.QSize(self.editor.line_number_width(), 0)

    def paintEvent(self, event):
        self.editor.paint_line_numbers(event)


class EditorPanel(QtWidgets.QPlainTextEdit):
    """The script's code, editable; Ctrl+Enter runs it; Ctrl+S saves it."""

    run_requested = QtCore.Signal()
    title_changed = QtCore.Signal(str)   # "Editor - name.py *" when modified

    def __init__(self):
        super().__init__()
        self.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.path = None
        self.last_error = ""
        self._disk_stamp = None       # (mtime, size) of the file when read or saved
        self._numbers = _LineNumbers(self)
        self.blockCountChanged.connect(lambda _: self._margin())
        self.updateRequest.connect(self._scroll_numbers)
        self.document().modificationChanged.connect(lambda _: self._retitle())
        self._margin()

    # Line numbers --------------------------------------------------------------------------------
    def line_number_width(self):
        digits = len(str(max(1, self.blockCount())))
        return 10 + self.fontMetrics().horizontalAdvance("9") * max(3, digits)

    def _margin(self):
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _scroll_numbers(self, rect, dy):
        if dy:
            self._numbers.scroll(0, dy)
        else:
            self._numbers.update(0, rect.y(), self._numbers.width(), rect.height())

    def resizeEvent(self, event):
        super().resizeEvent(event)
        area = self.contentsRect()
        self._numbers.setGeometry(QtCore.QRect(area.left(), area.top(), self.line_number_width(), area.height()))

    def paint_line_numbers(self, event):
        painter = QtGui.QPainter(self._numbers)
        palette = self.palette()
        painter.fillRect(event.rect(), palette.color(QtGui.QPalette.ColorRole.AlternateBase))
        painter.setPen(palette.color(QtGui.QPalette.ColorRole.PlaceholderText))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        current = self.textCursor().blockNumber()
        while block.isValid() and top <= event.rect().bottom():
            height = round(self.blockBoundingRect(block).height())
            if block.isVisible():
                font = painter.font()
                font.setBold(block.blockNumber() == current)
                painter.setFont(font)
                painter.drawText(0, top, self._numbers.width() - 5, height, QtCore.Qt.AlignmentFlag.AlignRight,
                                 str(block.blockNumber() + 1))
            block = block.next()
            top += height

    # Files -----------------------------------------------------------------------------------------
    def title(self):
        name = os.path.basename(self.path) if self.path else "untitled"
        return f"Editor - {name}" + (" *" if self.document().isModified() else "")

    def _retitle(self):
        self.title_changed.emit(self.title())

    @staticmethod
    def _stamp(path):
        try:
            info = os.stat(path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def open_file(self, path):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            self.last_error = f"Cannot open {path}: {getattr(error, 'strerror', None) or error}"
            return False
        self.setPlainText(text)
        self.path = path
        self._disk_stamp = self._stamp(path)
        self.document().setModified(False)
        self._retitle()
        return True

    def show_file_line(self, path, line, text=None):
        """Show ``line`` of ``path`` (opening it, or ``text`` recorded with the run when it is gone)."""
        if os.path.abspath(path) != os.path.abspath(self.path or ""):
            if not self.maybe_keep_changes():
                return True
            if not self.open_file(path):
                if text is None:
                    return False
                self.setPlainText(text)
                self.path = None
                self.document().setModified(False)
                self._retitle()
        block = self.document().findBlockByLineNumber(max(0, line - 1))
        cursor = QtGui.QTextCursor(block)
        cursor.select(QtGui.QTextCursor.SelectionType.LineUnderCursor)
        self.setTextCursor(cursor)
        self.centerCursor()
        return True

    def save(self):
        """Write to the file it came from; asks first if that file changed on disk since it was read."""
        if self.path is None:
            return self.save_as()
        if self._disk_stamp is not None and self._stamp(self.path) not in (None, self._disk_stamp):
            answer = QtWidgets.QMessageBox.question(
                self, "tapeviz", f"{self.path} changed on disk since it was opened. Overwrite it with the "
                "editor's text?", QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
                QtWidgets.QMessageBox.StandardButton.No)
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return False
        return self._write(self.path)

    def save_as(self):
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save script as", self.path or "script.py",
                                                        "Python scripts (*.py)")   # the dialog asks before replacing
        return self._write(path) if path else False

    def _write(self, path):
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(self.toPlainText())
        except OSError as error:
            self.last_error = f"Cannot save {path}: {error.strerror or error}"
            QtWidgets.QMessageBox.warning(self, "tapeviz", self.last_error)
            return False
        self.path = path
        self._disk_stamp = self._stamp(path)
        self.document().setModified(False)
        self._retitle()
        return True

    def maybe_keep_changes(self):
        """Before the text is replaced or the window closes: True to go on (saved or discarded)."""
        if not self.document().isModified() or not self.toPlainText().strip():
            return True
        buttons = QtWidgets.QMessageBox.StandardButton
        answer = QtWidgets.QMessageBox.question(self, "tapeviz", f"Save the changes to {self.title()[9:-2]}?",
                                                buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def keyPressEvent(self, event):
        if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter) and \
                event.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier:
            self.run_requested.emit()
            return
        super().keyPressEvent(event)
