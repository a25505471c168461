"""Plots of functions and their gradients: a recorded gradient call, or an expression typed in.

Two pure functions hold the work and know no Qt, so they are tested directly and reused:
``gradient_plot_data(run, call)`` turns a recorded gradient call of a 1-D ``linspace`` into curves
(the tutorial's "plot a function and its gradient"), and ``compute_derivatives(expression, ...)``
evaluates f, f' and f'' of an expression in ``x`` through nested GradientTapes. The widgets
(``GradientPlot``, ``FunctionExplorer``) only draw plain arrays, in the style of pyqtgraph's examples.
"""
import ast
import math
import re
import time

import numpy as np

from .plot_data import (PlotData, PlotSeries, Skipped, _call_names, _short_name, _why_not_plottable,  # noqa: F401
                        _wrap, gradient_plot_data, gradient_sizes, jacobian_matrices, log_ticks, plottable,
                        skipped_summary, steps_data)
from .short_names import short_names


# ------------------------------------------------------------------------------------------------
# Plain computation: f, f', f'' of an expression through nested tapes (no Qt)
# ------------------------------------------------------------------------------------------------
FUNCTION_NAMES = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "abs", "square", "log1p",
                  "expm1", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "softplus",
                  "softsign", "erf", "erfc", "relu", "elu", "selu", "gelu", "swish", "sign", "reciprocal",
                  "rsqrt", "maximum", "minimum", "pow", "floor", "ceil", "round")
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.USub: "-", ast.UAdd: "+"}


def available_functions():
    """name -> tapeviz function, for the names that exist now (ops are still being added)."""
    import tapeviz

    found = {}
    for name in FUNCTION_NAMES:
        for home in (tapeviz, getattr(tapeviz, "math", None), getattr(tapeviz, "nn", None)):
            function = getattr(home, name, None) if home is not None else None
            if callable(function):
                found[name] = function
                break
    return found


def parse_expression(expression, functions=None):
    """The compiled expression, after checking it uses only numbers, x, pi, e, operators and functions.

    Raises ValueError in plain words. Checking the tree (rather than trusting ``eval``) keeps out
    attribute access, so no path leads from the expression to Python internals.
    """
    functions = available_functions() if functions is None else functions
    text = (expression or "").strip()
    if not text:
        raise ValueError("The expression is empty: type a formula in x, e.g. sin(x) * exp(-x**2 / 4).")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        raise ValueError(f"Syntax error{where}: {error.msg}. Check brackets and operators "
                         "(powers are written x**2).") from None
    known = ", ".join(["x", "pi", "e"] + sorted(functions))
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in ("x", "pi", "e") and node.id not in functions:
                raise ValueError(f"Unknown name '{node.id}'. Known names: {known}.")
            if node.id in functions and id(node) not in called:
                raise ValueError(f"'{node.id}' is a function: call it on something, e.g. {node.id}(x).")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in functions:
                raise ValueError(f"'{ast.unparse(node.func)}' is not a function you can call here. Functions: "
                                 f"{', '.join(sorted(functions))}.")
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise ValueError(f"Call {node.func.id}(...) with plain arguments only.")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise ValueError(f"Only numbers are allowed as constants, not {node.value!r}.")
            # Floats, not Python ints: 9**9**9 would otherwise run for ever as exact integer arithmetic.
            node.value = float(node.value)
        elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
            if type(node.op) not in _OPERATORS:
                raise ValueError(f"The operator in '{ast.unparse(node)}' is not supported; use + - * / **.")
        elif not isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
            raise ValueError(f"'{ast.unparse(node)}' is not allowed: write a formula in x with numbers, "
                             "+ - * / ** and functions.")
    return compile(tree, "<expression>", "eval")


def compute_derivatives(expression, start, stop, num, allow_nonfinite=False):
    """(x, f, f', f'') as numpy arrays, f'' from a tape around the tape that gives f' (not differences).

    Raises ValueError naming the problem: a bad expression, a bad range, an error while evaluating,
    or (unless ``allow_nonfinite``) values that are not finite.
    """
    import tapeviz as tf

    start, stop, num = float(start), float(stop), int(num)
    if not (math.isfinite(start) and math.isfinite(stop)) or start >= stop:
        raise ValueError(f"The range must go from a smaller to a larger number, got {start:g} to {stop:g}.")
    if num < 2:
        raise ValueError(f"Use at least 2 points, got {num}.")
    functions = available_functions()
    code = parse_expression(expression, functions)
    x = tf.linspace(start, stop, num)
    namespace = {"__builtins__": {}, "pi": math.pi, "e": math.e, **functions}
    try:
        with np.errstate(all="ignore"):  # inf and nan are reported below, in words
            with tf.GradientTape() as outer:
                outer.watch(x)
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    f = eval(code, {**namespace, "x": x})  # noqa: S307 - tree checked by parse_expression
                    f = tf.convert_to_tensor(f, dtype=tf.float32) * tf.ones_like(x)  # constants: one per x
                # Unconnected means the derivative is 0 (a constant f, or an f' no longer depending on x).
                df = inner.gradient(f, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            d2f = outer.gradient(df, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    except Exception as error:  # noqa: BLE001 - any failure of the user's formula is reported, not raised raw
        raise ValueError(_evaluation_problem(expression, error)) from None
    arrays = tuple(np.asarray(t.numpy(), dtype=np.float64).reshape(-1) for t in (x, f, df, d2f))
    if not allow_nonfinite:
        for name, values in zip(("f(x)", "f'(x)", "f''(x)"), arrays[1:]):
            problem = nonfinite_problem(name, arrays[0], values)
            if problem:
                raise ValueError(problem)
    return arrays


_OP_SPELLING = {"RealDiv": "/", "Pow": "**", "Neg": "unary -", "Mul": "*", "AddV2": "+", "Sub": "-"}


def _evaluation_problem(expression, error):
    if isinstance(error, OverflowError):
        return f"The numbers in '{expression.strip()}' grow too large to compute (overflow)."
    missing = re.match(r"gradient registry has no entry for: (\w+)", str(error))
    if missing:
        # The registry's own message speaks to plugin authors; here a person typed a formula.
        op = missing.group(1)
        spelled = f" (the {_OP_SPELLING[op]} operator)" if op in _OP_SPELLING else ""
        return (f"tapeviz has no gradient rule for {op}{spelled} yet, so the derivatives of "
                f"'{expression.strip()}' cannot be taken; rewrite the formula without it.")
    return f"Could not evaluate '{expression.strip()}': {type(error).__name__}: {error}"


def nonfinite_problem(name, x, values):
    """A sentence about the points where ``values`` is inf or nan, or "" if there are none."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return ""
    first = x[np.argmax(bad)]
    return f"{name} is not finite (inf or nan) at {int(bad.sum())} of {values.size} points, first at x = {first:.6g}."


# ------------------------------------------------------------------------------------------------
# Widgets
# ------------------------------------------------------------------------------------------------
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402 - below here; the functions above use no Qt
import pyqtgraph as pg  # noqa: E402

# Okabe-Ito colours: told apart with colour-blindness too; a lighter set on dark backgrounds.
_LIGHT_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_DARK_COLOURS = ("#56B4E9", "#E69F00", "#F0E442", "#CC79A7", "#2FD0A0", "#FF7F50")
_STYLES = {"function": (QtCore.Qt.SolidLine, 2.5), "derivative": (QtCore.Qt.DashLine, 2),
           "second derivative": (QtCore.Qt.DashDotLine, 2)}


_SWATCHES = {QtCore.Qt.DashLine: "&#9472;&#32;&#9472;", QtCore.Qt.DotLine: "&#183;&#183;&#183;&#183;",
             QtCore.Qt.DashDotLine: "&#9472;&#183;&#9472;"}


def _curve_style(index, role, colour_count):
    """(pen style, width) of the index-th curve: its role's style, then dotted once the colours have
    all been used, so a seventh curve is not a copy of the first."""
    style, width = _STYLES.get(role, _STYLES["function"])
    return (QtCore.Qt.DotLine if index >= colour_count else style), width


def _is_dark(palette):
    return palette.color(QtGui.QPalette.Base).lightness() < 128


class LogAxis(pg.AxisItem):
    """A log axis whose labels never pile up: decades, or 1-2-5 inside one, spaced by the axis's length
    (pyqtgraph labels every minor tick, which on a short plot is one unreadable stack)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        return log_ticks(minVal, maxVal, size)

    def logTickStrings(self, values, scale, spacing):
        return [f"{10 ** v * scale:.3g}" for v in values]


class SideLegend(QtWidgets.QScrollArea):
    """A legend beside the plot, not on it: every entry is readable and no curve hides under it.
    One row per curve: a swatch in the curve's colour and its short name; the full name in the tooltip."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.inner = QtWidgets.QWidget()
        self.rows = QtWidgets.QVBoxLayout(self.inner)
        self.rows.setContentsMargins(4, 4, 4, 4)
        self.rows.setSpacing(2)
        self.setWidget(self.inner)
        self.labels = []

    def set_entries(self, entries):
        """``entries``: (text, colour, Qt pen style, tooltip) per curve."""
        for label in self.labels:
            label.deleteLater()
        self.labels = []
        while self.rows.count():
            self.rows.takeAt(0)
        for text, colour, style, tooltip in entries:
            swatch = _SWATCHES.get(style, "&#9472;&#9472;&#9472;")
            label = QtWidgets.QLabel(f"<span style='color:{colour}; font-weight:bold'>{swatch}</span>&nbsp;{_html(text)}",
                                     textFormat=QtCore.Qt.RichText)
            label.setToolTip(tooltip)
            self.rows.addWidget(label)
            self.labels.append(label)
        self.rows.addStretch(1)
        width = max([label.sizeHint().width() for label in self.labels] + [0]) + 16
        self.setFixedWidth(min(width, 240))
        self.setVisible(bool(self.labels))

    def texts(self):
        return [label.text().split("&nbsp;", 1)[1] for label in self.labels]


class CurvePlot(QtWidgets.QWidget):
    """A PlotWidget with legend, grid and a crosshair read-out of every curve at the mouse's x.

    Takes plain arrays only; colours follow the widget's palette, so it reads in light and dark themes.
    ``log_y`` draws y on a log axis with readable ticks; ``legend_outside`` puts the legend beside
    the plot (for many curves on a small plot, where a legend inside would hide them and be cut off).
    """

    def __init__(self, parent=None, log_y=False, legend_outside=False):
        super().__init__(parent)
        self._series = []      # (label, x, y, role), kept to redraw on palette change
        self._items = []
        self.tooltips = {}     # label -> full name, for the side legend
        self.plot_widget = pg.PlotWidget(axisItems={"left": LogAxis("left")} if log_y else None)
        if log_y:
            self.plot_widget.setLogMode(y=True)
        self.plot_widget.showGrid(x=True, y=True, alpha=0.2)
        self.plot_widget.setMinimumSize(240, 120)
        self.legend = self.plot_widget.addLegend(offset=(10, 10))
        self.vline = pg.InfiniteLine(angle=90, movable=False)
        self.vline.setVisible(False)
        self.plot_widget.addItem(self.vline, ignoreBounds=True)
        self.markers = pg.ScatterPlotItem(size=8)
        self.plot_widget.addItem(self.markers, ignoreBounds=True)
        self.message = QtWidgets.QLabel(alignment=QtCore.Qt.AlignCenter, wordWrap=True)
        self.message.setMargin(24)
        self.message.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self.stack = QtWidgets.QStackedWidget()
        self.stack.addWidget(self.plot_widget)
        self.stack.addWidget(self.message)
        self.readout = QtWidgets.QLabel(" ", textFormat=QtCore.Qt.RichText)
        self.readout.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.side_legend = SideLegend() if legend_outside else None
        self.body = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(self.body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.stack, 1)
        if self.side_legend is not None:
            self.legend.setVisible(False)
            self.side_legend.setVisible(False)
            row.addWidget(self.side_legend)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.body, 1)
        layout.addWidget(self.readout)
        # Rate-limited, as in pyqtgraph's crosshair example: mouse moves come far faster than repaints.
        self._proxy = pg.SignalProxy(self.plot_widget.scene().sigMouseMoved, rateLimit=60, slot=self._mouse_moved)
        self._apply_palette()

    # Data -----------------------------------------------------------------------------------------
    def set_series(self, series, tooltips=None):
        """Draw ``series``: (label, x, y, role) tuples; an empty list clears the plot. ``tooltips``
        maps a label to the full name the side legend shows on hover."""
        self.tooltips = dict(tooltips or {})
        self._series = [(label, np.asarray(x, float), np.asarray(y, float), role) for label, x, y, role in series]
        self._redraw()
        self.stack.setCurrentWidget(self.plot_widget)
        if self._series:
            self.plot_widget.enableAutoRange()
            if self.side_legend is None:
                self._place_legend()

    def _place_legend(self):
        # Put the legend in the corner the curves cross least: a fixed corner hides the ends of a
        # parabola or an exponential, the very part one looks at.
        xs = np.concatenate([x for _, x, _, _ in self._series])
        ys = np.concatenate([y for _, _, y, _ in self._series])
        keep = np.isfinite(xs) & np.isfinite(ys)
        xs, ys = xs[keep], ys[keep]
        if xs.size == 0:
            return
        u = (xs - xs.min()) / max(np.ptp(xs), 1e-300)
        v = (ys.max() - ys) / max(np.ptp(ys), 1e-300)   # 0 at the top, as on screen
        corners = [(0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        crowding = [np.count_nonzero((np.abs(u - cx) < 0.25) & (np.abs(v - cy) < 0.3)) for cx, cy in corners]
        cx, cy = corners[int(np.argmin(crowding))]
        offset = (10 - 20 * cx, 10 - 20 * cy)
        self.legend.anchor(itemPos=(cx, cy), parentPos=(cx, cy), offset=offset)

    def show_message(self, text):
        """Replace the plot by a sentence (nothing to draw yet, or nothing plottable)."""
        self.set_series([])
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def curves(self):
        return list(self._items)

    def colours(self):
        return _DARK_COLOURS if _is_dark(self.palette()) else _LIGHT_COLOURS

    def _redraw(self):
        for item in self._items:
            self.plot_widget.removeItem(item)
        self.legend.clear()
        self._items = []
        colours = self.colours()
        for i, (label, x, y, role) in enumerate(self._series):
            style, width = _curve_style(i, role, len(colours))
            pen = pg.mkPen(colours[i % len(colours)], width=width, style=style)
            # connect="finite": points where the value is inf/nan leave a gap instead of a wild line.
            item = self.plot_widget.plot(x, y, pen=pen, name=None if self.side_legend else label,
                                         connect="finite")
            self._items.append(item)
        if self.side_legend is not None:
            self.side_legend.set_entries([(label, colours[i % len(colours)],
                                           _curve_style(i, role, len(colours))[0], self.tooltips.get(label, label))
                                          for i, (label, _x, _y, role) in enumerate(self._series)])
        self.vline.setVisible(False)
        self.markers.clear()
        self.readout.setText(" ")

    # Read-out -------------------------------------------------------------------------------------
    def readout_values(self, x):
        """(x of the nearest point, [(label, colour, y)]) for each curve at the point nearest ``x``."""
        colours = self.colours()
        values, nearest_x = [], x
        for i, (label, xs, ys, _role) in enumerate(self._series):
            if xs.size == 0:
                continue
            index = int(np.clip(np.searchsorted(xs, x), 1, xs.size - 1)) if xs.size > 1 else 0
            if xs.size > 1 and abs(xs[index - 1] - x) <= abs(xs[index] - x):
                index -= 1
            nearest_x = xs[index]
            values.append((label, colours[i % len(colours)], float(xs[index]), float(ys[index])))
        return nearest_x, values

    def show_readout(self, x):
        nearest_x, values = self.readout_values(x)
        if not values:
            return
        self.vline.setPos(nearest_x)
        self.vline.setVisible(True)
        points = [{"pos": (vx, vy), "brush": pg.mkBrush(c), "pen": pg.mkPen(c)} for _, c, vx, vy in values
                  if math.isfinite(vy)]
        self.markers.setData(points)
        parts = [f"<b>x</b> = {nearest_x:.6g}"]
        for label, colour, _vx, vy in values:
            shown = f"{vy:.6g}" if math.isfinite(vy) else "—"
            parts.append(f"<span style='color:{colour}'>■</span> {_html(label)} = {shown}")
        self.readout.setText("&nbsp;&nbsp;&nbsp;".join(parts))

    def _mouse_moved(self, event):
        position = event[0]
        box = self.plot_widget.getPlotItem().vb
        if self._series and self.plot_widget.sceneBoundingRect().contains(position):
            self.show_readout(box.mapSceneToView(position).x())

    # Look -----------------------------------------------------------------------------------------
    def changeEvent(self, event):
        if event.type() == QtCore.QEvent.PaletteChange:
            self._apply_palette()
            self._redraw()
        super().changeEvent(event)

    def _apply_palette(self):
        palette = self.palette()
        background = palette.color(QtGui.QPalette.Base)
        foreground = palette.color(QtGui.QPalette.Text)
        self.plot_widget.setBackground(background)
        for name in ("left", "bottom"):
            axis = self.plot_widget.getPlotItem().getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        self.legend.setLabelTextColor(foreground)
        legend_background = QtGui.QColor(background)
        legend_background.setAlpha(220)
        self.legend.setBrush(pg.mkBrush(legend_background))
        self.legend.setPen(pg.mkPen(palette.color(QtGui.QPalette.Mid)))
        crosshair = QtGui.QColor(foreground)
        crosshair.setAlpha(140)
        self.vline.setPen(pg.mkPen(crosshair, width=1, style=QtCore.Qt.DotLine))

    def export_png(self, path):
        """Save what is shown (plot with legend, or the message) as a PNG; raises OSError on failure."""
        shown = self.body if self.stack.currentWidget() is self.plot_widget else self.stack.currentWidget()
        if not shown.grab().save(str(path), "PNG"):
            raise OSError(f"Could not write the image to {path}.")
        return str(path)


def _html(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class GradientPlot(QtWidgets.QWidget):
    """A recorded gradient call drawn as its function(s) and gradient(s) against the source's values."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QtWidgets.QLabel(wordWrap=True)
        self.plot = CurvePlot()
        self.notes = QtWidgets.QLabel(wordWrap=True)
        self.notes.setVisible(False)
        # However many sources a call has, its notes must not push the window taller.
        self.notes.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.notes.setMaximumHeight(60)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.notes)
        self.data = PlotData()
        self.plot.show_message("Choose a gradient call to plot it.")

    def show_call(self, run, call):
        self.data = gradient_plot_data(run, call)
        where = f" at line {call.location.line}" if call.location else ""
        self.title.setText(f"<b>Gradient call {call.id}</b> ({call.kind}{where})")
        skipped = skipped_summary(self.data.skipped)
        self.notes.setText("Not drawn: " + skipped if skipped else "")
        self.notes.setVisible(bool(skipped) and bool(self.data))  # with no curves the message says it
        if self.data:
            self.plot.set_series([(s.label, s.x, s.y, s.role) for s in self.data])
        else:
            reasons = skipped or "The call has no results."
            self.plot.show_message("Nothing to plot for this call: plots need a gradient with respect to a 1-D "
                                   f"tensor with a stored value, such as tf.linspace(...).\n\n{reasons}")

    def curves(self):
        return self.plot.curves()

    def export_png(self, path):
        return self.plot.export_png(path)


class _Signals(QtCore.QObject):
    done = QtCore.Signal(int, object)    # request number, (x, f, df, d2f, seconds)
    failed = QtCore.Signal(int, str)     # request number, message in plain words


class _DerivativeJob(QtCore.QRunnable):
    def __init__(self, number, expression, start, stop, num):
        super().__init__()
        self.setAutoDelete(False)  # the widget holds the job until its signal arrives
        self.number, self.args = number, (expression, start, stop, num)
        self.signals = _Signals()

    def run(self):
        began = time.perf_counter()
        try:
            arrays = compute_derivatives(*self.args, allow_nonfinite=True)
        except ValueError as error:
            self.signals.failed.emit(self.number, str(error))
        except Exception as error:  # noqa: BLE001 - a worker must report, never die silently
            self.signals.failed.emit(self.number, f"Unexpected error: {type(error).__name__}: {error}")
        else:
            self.signals.done.emit(self.number, (*arrays, time.perf_counter() - began))


class FunctionExplorer(QtWidgets.QWidget):
    """Type f(x); see f, f' and f'' computed by nested GradientTapes in a worker thread."""

    computed = QtCore.Signal()   # after each request ends, drawn or failed (for tests and scripts)

    def __init__(self, parent=None, expression="sin(x) * exp(-x**2 / 4)", start=-6.0, stop=6.0, num=241):
        super().__init__(parent)
        self.expression = QtWidgets.QLineEdit(expression)
        self.expression.setPlaceholderText("a formula in x, e.g. sin(x) * exp(-x**2 / 4)")
        self.expression.setToolTip("Names: x, pi, e, " + ", ".join(sorted(available_functions())))
        self.start, self.stop = self._spin(start), self._spin(stop)
        self.points = QtWidgets.QSpinBox(minimum=2, maximum=1_000_000, value=int(num))
        self.plot_button = QtWidgets.QPushButton("Plot")
        self.plot_button.setDefault(True)
        self.plot = CurvePlot()
        self.status = QtWidgets.QLabel(wordWrap=True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)

        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("f(x) ="))
        row.addWidget(self.expression, 1)
        for text, widget in (("from", self.start), ("to", self.stop), ("points", self.points)):
            row.addWidget(QtWidgets.QLabel(text))
            row.addWidget(widget)
        row.addWidget(self.plot_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.status)

        # Its own pool, parented here: destroying the widget waits for a running job instead of
        # letting it signal into a deleted object. One thread: newer requests replace queued ones.
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._jobs = {}
        self._latest = 0
        self.expression.returnPressed.connect(self.request_plot)
        self.plot_button.clicked.connect(self.request_plot)
        self.plot.show_message("Type a formula in x and press Enter or Plot.")

    @staticmethod
    def _spin(value):
        spin = QtWidgets.QDoubleSpinBox(minimum=-1e6, maximum=1e6, decimals=3, value=float(value))
        spin.setKeyboardTracking(False)
        return spin

    def busy(self):
        return bool(self._jobs)

    def request_plot(self):
        """Start computing the current expression in the background; the newest request wins."""
        self._latest += 1
        for number, old in list(self._jobs.items()):
            if self.pool.tryTake(old):  # not started yet: only the newest request matters
                del self._jobs[number]
        job = _DerivativeJob(self._latest, self.expression.text(), self.start.value(), self.stop.value(),
                             self.points.value())
        job.signals.done.connect(self._done)
        job.signals.failed.connect(self._failed)
        self._jobs[job.number] = job
        self._set_status(f"Computing f, f′ and f″ at {self.points.value()} points…")
        self.pool.start(job)

    def _done(self, number, result):
        self._jobs.pop(number, None)
        if number != self._latest:
            return
        x, f, df, d2f, seconds = result
        if not np.isfinite(f).any():
            self._failed(number, nonfinite_problem("f(x)", x, f) + " Nothing to draw.")
            return
        self.plot.set_series([("f(x)", x, f, "function"), ("f′(x)", x, df, "derivative"),
                              ("f″(x)", x, d2f, "second derivative")])
        bad = {name: int(np.count_nonzero(~np.isfinite(v))) for name, v in (("f", f), ("f′", df), ("f″", d2f))}
        bad_x = x[~(np.isfinite(f) & np.isfinite(df) & np.isfinite(d2f))]
        if bad_x.size:
            counts = ", ".join(f"{name} at {n}" for name, n in bad.items() if n)
            where = ", ".join(f"{v:.6g}" for v in bad_x[:3]) + (", …" if bad_x.size > 3 else "")
            self._set_status(f"Not finite (inf or nan) near x = {where}: {counts} of {x.size} points. "
                             "Those points are left out.", warning=True)
        else:
            self._set_status(f"f, f′ and f″ at {x.size} points, f″ from nested GradientTapes "
                             f"({seconds * 1000:.0f} ms).")
        self.computed.emit()

    def _failed(self, number, message):
        self._jobs.pop(number, None)
        if number != self._latest:
            return
        self.plot.show_message(f"Could not plot this formula.\n\n{message}")
        self._set_status(message, warning=True)
        self.computed.emit()

    def _set_status(self, text, warning=False):
        colour = ("#FF8A80" if _is_dark(self.palette()) else "#B00020") if warning else ""
        self.status.setStyleSheet(f"color: {colour};" if colour else "")
        self.status.setText(text)

    def curves(self):
        return self.plot.curves()

    def export_png(self, path):
        return self.plot.export_png(path)


class StepsPlot(QtWidgets.QWidget):
    """A training loop at a glance: the loss per step and every variable's gradient norm per step
    (log scale, so vanishing and exploding gradients stand out). A click on a step opens its tape."""

    step_chosen = QtCore.Signal(int)   # tape id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QtWidgets.QLabel(wordWrap=True)
        self.loss = self.norms = None
        self._row = QtWidgets.QHBoxLayout()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self._row, 1)
        self.tape_ids = []

    def build_step(self):
        """Make one of the two plots (each costs tens of milliseconds); True once both exist. Called on
        successive turns of the event loop, so the window never waits for both at once."""
        if self.loss is None:
            self.loss = self._new_plot(log=False)
            return False
        if self.norms is None:
            self.norms = self._new_plot(log=True)
        return True

    def _new_plot(self, log):
        plot = CurvePlot(log_y=log, legend_outside=log)
        plot.plot_widget.setLabel("bottom", "step")
        plot.plot_widget.scene().sigMouseClicked.connect(lambda event, p=plot: self._clicked(p, event))
        self._row.addWidget(plot)
        return plot

    def show_steps(self, run, tape_ids, where):
        while not self.build_step():
            pass
        self.tape_ids, loss, norms = steps_data(run, tape_ids)
        x = np.arange(1, len(self.tape_ids) + 1, dtype=float)
        if np.isfinite(loss).any():
            self.loss.set_series([("loss", x, loss, "function")])
        else:
            self.loss.show_message("The loop's gradient calls have no one-number target to plot as a loss.")
        measure, sizes = gradient_sizes(run, self.tape_ids)
        kept = [(name, values) for name, values in sizes.items() if np.isfinite(values).any()][:12]
        tails = short_names(name for name, _ in kept)   # "dense_1/kernel", not "sequent…ernel"
        shown = [(tails[name], x, values, "derivative") for name, values in kept]   # more says nothing
        self.title.setText(f"<b>{where} x{len(tape_ids)}</b>: loss, and each variable's {measure}, per "
                           "step; click a step to open its tape")
        if shown:
            self.norms.set_series(shown, tooltips={tails[name]: name for name, _ in kept})
        else:
            self.norms.show_message("No gradient values were kept for these steps.")
        return len(self.tape_ids)

    def _clicked(self, plot, event):
        if not self.tape_ids:
            return
        point = plot.plot_widget.getPlotItem().vb.mapSceneToView(event.scenePos())
        step = int(round(point.x())) - 1
        if 0 <= step < len(self.tape_ids):
            self.step_chosen.emit(self.tape_ids[step])


class HeatmapPlot(QtWidgets.QWidget):
    """A Jacobian (or Hessian) the run computed, as a heatmap: rows are target elements, columns source
    elements; a diverging colour map centred on zero, so signs read at a glance."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QtWidgets.QLabel(wordWrap=True)
        self.choice = QtWidgets.QComboBox()
        self.choice.currentIndexChanged.connect(self._show)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.invertY(True)     # row 0 at the top, as a matrix is written
        self.plot_widget.setAspectLocked(False)
        self.image = pg.ImageItem()
        self.plot_widget.addItem(self.image)
        self.bar = None
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.choice)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.plot_widget, 1)
        self.matrices = []

    def show_call(self, run, call):
        self.matrices = jacobian_matrices(run, call)
        where = f" at line {call.location.line}" if call.location else ""
        self.title.setText(f"<b>Jacobian call {call.id}</b>{where}: rows are target elements, columns source elements")
        self.choice.blockSignals(True)
        self.choice.clear()
        self.choice.addItems([label for label, _ in self.matrices])
        self.choice.blockSignals(False)
        self._show(0)
        return len(self.matrices)

    def _show(self, number):
        if not 0 <= number < len(self.matrices):
            self.image.clear()
            return
        matrix = self.matrices[number][1]
        finite = matrix[np.isfinite(matrix)]
        limit = float(np.max(np.abs(finite))) if finite.size else 1.0
        limit = limit or 1.0
        self.image.setImage(matrix.T, levels=(-limit, limit))   # ImageItem's first axis is x: columns
        self.image.setColorMap(pg.colormap.get("CET-D1"))
        if self.bar is None:
            self.bar = pg.ColorBarItem(values=(-limit, limit), colorMap=pg.colormap.get("CET-D1"), interactive=False)
            self.bar.setImageItem(self.image, insert_in=self.plot_widget.getPlotItem())
        else:
            self.bar.setLevels((-limit, limit))
        self.plot_widget.autoRange()

    def export_png(self, path):
        return self.plot_widget.grab().save(str(path))
