"""Keras 3's progress line: ``19/19 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - accuracy: 0.5183 - loss: 1.5728``.

On a terminal the line is redrawn after every step; elsewhere (a pipe, a file, the inspector's
console) only the finished line of each epoch is printed. ``verbose=2`` prints the one-line form
``19/19 - 1s - 3ms/step - loss: ...`` at the end.
"""
import sys
import time

__all__ = ["Progbar"]

_BAR_WIDTH = 20


def _format_value(value):
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def _per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    def __init__(self, target, verbose=1, stream=None):
        self.target, self.verbose = target, verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()

    def _logs_text(self, values):
        return "".join(f" - {name}: {_format_value(float(value))}" for name, value in values)

    def update(self, current, values=(), finalize=False):
        if self.verbose == 0:
            return
        elapsed = time.perf_counter() - self.start
        per_step = _per_step(elapsed / max(current, 1))
        count = f"{current:>{len(str(self.target))}d}/{self.target}"
        if self.verbose == 2:
            if finalize:
                self.stream.write(f"{count} - {elapsed:.0f}s - {per_step}{self._logs_text(values)}\n")
            return
        if not finalize and not self.interactive:
            return
        filled = int(_BAR_WIDTH * current / self.target) if self.target else _BAR_WIDTH
        bar = "━" * filled + "━" * (_BAR_WIDTH - filled) if not self.interactive else (
            f"\x1b[32m{'━' * filled}\x1b[0m\x1b[37m{'━' * (_BAR_WIDTH - filled)}\x1b[0m")
        if finalize:
            timing = f"{elapsed:.0f}s {per_step}"
        else:
            eta = elapsed / max(current, 1) * (self.target - current)
            timing = f"{eta:.0f}s {per_step}"
        line = f"{count} {bar} {timing}{self._logs_text(values)}"
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if finalize else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
