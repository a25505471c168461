"""The desktop tape inspector (PySide6 + pyqtgraph). Needs the ``gui`` extra; the rest of tapeviz does not."""
