"""What a recorded gradient call gives to plot, as plain data (no Qt, no pyqtgraph).

Kept apart from ``plots.py`` so the window can decide whether a call has anything to plot without
importing pyqtgraph (half a second) until there is.
"""
from dataclasses import dataclass
from typing import Optional

import math

import numpy as np

from tapeviz.inspection.explain import describe
from tapeviz.inspection.names import call_names

MAX_LISTED = 3   # reasons listed by name; the rest are counted


# ------------------------------------------------------------------------------------------------
# Plain data: what a gradient call gives to plot (no Qt)
# ------------------------------------------------------------------------------------------------
@dataclass
class PlotSeries:
    label: str
    x: np.ndarray
    y: np.ndarray
    role: str                   # "function", "derivative" or "second derivative": picks the line style
    source: Optional[int] = None
    target: Optional[int] = None


@dataclass
class Skipped:
    source: int
    label: str
    reason: str
    detail: str = ""    # for a None gradient: the recorded explanation of why, in one sentence


class PlotData(list):
    """The series to draw (a plain list of PlotSeries) plus ``skipped``: results that gave none, and why."""

    def __init__(self, series=(), skipped=()):
        super().__init__(series)
        self.skipped = list(skipped)


def gradient_plot_data(run, call):
    """The curves of one gradient call: each target and its gradient against a 1-D source's values.

    A result is drawn when its source is 1-D with a stored value (a ``linspace``); the target is drawn
    beside it when it has one value per point. Every result that gives no curve is in ``.skipped``.
    """
    names = _call_names(run, call)
    data = PlotData()
    targets = list(call.targets)
    target_label = " + ".join(names.get(t, _short_name(run, t)) for t in targets)
    if len(targets) > 1:
        target_label = f"({target_label})"  # the gradient of several targets is that of their sum
    for result in call.results:
        source_label = names.get(result.source, _short_name(run, result.source))
        skip = _why_not_plottable(run, call, result)
        if skip:
            detail = " ".join(e.sentence for e in result.explanations.values())
            data.skipped.append(Skipped(result.source, f"d {target_label}/d {source_label}", skip, detail))
            continue
        source = run.tensors[result.source]
        x = np.asarray(source.value, dtype=np.float64).reshape(-1)
        gradient = np.asarray(result.value, dtype=np.float64)
        if call.kind == "jacobian":
            gradient = np.diagonal(gradient.reshape(x.size, x.size))
        order = np.argsort(x, kind="stable")  # unsorted x would draw zigzags across the plot
        for target_id in targets:
            target = run.tensors.get(target_id)
            if target is not None and target.value is not None and np.size(target.value) == x.size:
                y = np.asarray(target.value, dtype=np.float64).reshape(-1)
                data.append(PlotSeries(names.get(target_id, _short_name(run, target_id)), x[order], y[order],
                                       "function", result.source, target_id))
        data.append(PlotSeries(f"d {_wrap(target_label)}/d {source_label}", x[order],
                               gradient.reshape(-1)[order], "derivative", result.source,
                               targets[0] if len(targets) == 1 else None))
    return data


def _why_not_plottable(run, call, result):
    if result.is_none:
        return "gradient is None"
    source = run.tensors.get(result.source)
    if source is None:
        return "the source was not recorded"
    if len(source.shape) != 1:
        return f"the source has shape {tuple(source.shape)}, not one axis of points"
    if source.value is None:
        return f"the source's value was not kept (it has {source.summary.get('size', '?')} elements)"
    values = np.asarray(source.value)
    if values.size < 2 or not np.issubdtype(values.dtype, np.number) or np.ptp(values) == 0:
        return "the source's values do not vary, so there is no axis to plot against"
    if result.value is None:
        return "the gradient's value was not kept (too large)"
    n = int(np.size(source.value))
    if call.kind == "jacobian":
        value = np.asarray(result.value)
        if value.size != n * n:
            return "a jacobian is drawn only for a function of one value per point"
        square = value.reshape(n, n)
        if not np.allclose(square - np.diag(np.diagonal(square)), 0):
            return "the jacobian is not diagonal: each point depends on others"
    elif np.size(result.value) != n:
        return f"the gradient has shape {np.shape(result.value)}, not the source's"
    return ""


def _short_name(run, tensor_id):
    info = run.tensors.get(tensor_id)
    if info is not None and info.kind == "variable" and info.name:
        return info.name.split(":")[0]
    return describe(run, tensor_id)


def _wrap(label):
    return label if label.isidentifier() or label.startswith("(") else f"({label})"


def _call_names(run, call):
    """tensor id -> what the user called it in this call's ``tape.gradient(...)`` line."""
    loc = call.location
    if loc is None:
        return {}
    return call_names(run.sources.get(loc.file), loc.line, call.kind, call.targets, call.sources)


def plottable(run, call):
    """True when at least one of the call's results draws a curve (a 1-D source whose values vary)."""
    return any(not _why_not_plottable(run, call, result) for result in call.results)


def skipped_summary(skipped):
    """A few reasons by name and the count of the rest: one line that cannot grow without bound."""
    listed = [f"{s.label}: {s.reason}." for s in skipped[:MAX_LISTED]]
    if len(skipped) > MAX_LISTED:
        listed.append(f"and {len(skipped) - MAX_LISTED} more sources not drawn.")
    return " ".join(listed)


def steps_data(run, tape_ids):
    """A training loop's scalars per step, as TensorBoard shows them: ``(steps, loss, norms)``.

    For each tape (one step) the last gradient call made on it counts: ``loss`` is its target's value
    (NaN where it was not one number or not kept) and ``norms`` maps each source's name to the
    gradient's L2 norm per step, from its value or, for a large one kept only as statistics, from its
    summary (NaN where the gradient was None, or saved by a tapeviz that kept no norm). ``steps``
    counts from 1.
    """
    last = {}
    for call in run.calls:
        if call.tape in tape_ids:
            last[call.tape] = call
    steps = [t for t in tape_ids if t in last]
    loss = np.full(len(steps), np.nan)
    norms = {}
    for i, tape_id in enumerate(steps):
        call = last[tape_id]
        if len(call.targets) == 1:
            target = run.tensors.get(call.targets[0])
            if target is not None and target.value is not None and np.size(target.value) == 1:
                loss[i] = float(np.asarray(target.value, dtype=np.float64).reshape(()))
        for result in call.results:
            name = _short_name(run, result.source)
            series = norms.setdefault(name, np.full(len(steps), np.nan))
            if result.is_none:
                continue
            if result.value is not None:
                series[i] = float(np.linalg.norm(np.asarray(result.value, dtype=np.float64)))
            elif (result.summary or {}).get("norm") is not None:
                series[i] = result.summary["norm"]
    return steps, loss, norms


def jacobian_matrices(run, call):
    """[(label, 2-D array)] for a jacobian call's kept results: rows are target elements, columns
    source elements (a Hessian, when the target was itself a gradient)."""
    if call.kind != "jacobian" or len(call.targets) != 1:
        return []
    names = _call_names(run, call)
    target = run.tensors.get(call.targets[0])
    rows = int(np.prod(target.shape)) if target is not None else None
    found = []
    for result in call.results:
        if result.is_none or result.value is None:
            continue
        value = np.asarray(result.value, dtype=np.float64)
        source = run.tensors.get(result.source)
        columns = int(np.prod(source.shape)) if source is not None else None
        if rows and columns and value.size == rows * columns:
            matrix = value.reshape(rows, columns)
        else:
            matrix = value.reshape(value.shape[0], -1) if value.ndim else value.reshape(1, 1)
        target_label = names.get(call.targets[0], _short_name(run, call.targets[0]))
        source_label = names.get(result.source, _short_name(run, result.source))
        found.append((f"d {target_label} / d {source_label}", matrix))
    return found


def gradient_sizes(run, tape_ids):
    """``(measure, {source name: size per step})`` for a training loop's gradients, one curve per variable.

    The L2 norm, which every gradient's value or statistics give; for a file saved before the norm
    was kept in the statistics, where large kernels have none, the largest absolute value, which
    every gradient's statistics hold, so that no variable drops out of the plot and all curves
    measure the same thing."""
    steps, _, norms = steps_data(run, tape_ids)
    if all(np.isfinite(values).all() for values in norms.values()):
        return "gradient norm", norms
    last = {}
    for call in run.calls:
        if call.tape in tape_ids:
            last[call.tape] = call
    largest = {}
    for i, tape_id in enumerate(steps):
        for result in last[tape_id].results:
            series = largest.setdefault(_short_name(run, result.source), np.full(len(steps), np.nan))
            summary = result.summary or {}
            if not result.is_none and "min" in summary and "max" in summary:
                series[i] = max(abs(summary["min"]), abs(summary["max"]))
    return "largest |gradient|", largest


def log_ticks(low, high, pixels, spacing=20):
    """Tick levels for a log axis over log10 values ``low``..``high`` drawn ``pixels`` long: decades
    (every second or third when there are many), or 1-2-5 within a decade, never closer than
    ``spacing`` pixels, so labels cannot pile up into one unreadable stack."""
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return [(1.0, [])]
    room = max(2, int(pixels // spacing))
    decades = [k for k in range(math.floor(low), math.ceil(high) + 1) if low <= k <= high]
    if len(decades) >= 2:
        step = math.ceil(len(decades) / room)
        return [(float(step), decades[::step])]
    values = sorted(k + math.log10(m) for k in range(math.floor(low) - 1, math.ceil(high) + 1) for m in (1, 2, 5)
                    if low <= k + math.log10(m) <= high)
    if not values:   # a narrow range between 1-2-5 values: one label in the middle says where it is
        return [(None, [(low + high) / 2])]
    step = math.ceil(len(values) / room)
    return [(None, values[::step])]


def steps_with_common_sources(run, tape_ids):
    """How many of the tapes end in a gradient call with the same sources as the most: a training
    loop differentiates the same variables at every step; a loop over cases makes new ones each time."""
    last = {}
    for call in run.calls:
        if call.tape in tape_ids:
            last[call.tape] = call
    counts = {}
    for call in last.values():
        key = tuple(call.sources)
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0)
