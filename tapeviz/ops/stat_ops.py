"""Statistics and running sums: ``nn.moments``, ``reduce_variance``/``reduce_std``, ``cumsum``/``cumprod``,
``divide_no_nan``, ``clip_by_global_norm``/``global_norm``.

``Cumsum``, ``Cumprod`` and ``DivNoNan`` are ops (rules in ``tapeviz.plugins.stat_grad``); the rest
are composed from other ops as TensorFlow composes them, so their gradients come for free.
"""
import numpy as np

from tapeviz.core.execute import execute

from . import array_ops, math_ops, reduction_ops
from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = ["reduce_variance", "reduce_std", "cumsum", "cumprod", "divide_no_nan", "clip_by_global_norm"]


def moments(x, axes, shift=None, keepdims=False, name=None):
    """(mean, variance) over ``axes``; the variance treats the mean as a constant, as TF's does."""
    x = as_tensor(x)
    floating_only("moments", x)
    axes = list(axes) if isinstance(axes, (list, tuple)) else [int(axes)]
    mean = reduction_ops.reduce_mean(x, axis=axes, keepdims=True)
    variance = reduction_ops.reduce_mean(math_ops.squared_difference(x, array_ops.stop_gradient(mean)), axis=axes,
                                         keepdims=True)
    if not keepdims:
        mean, variance = array_ops.squeeze(mean, axes), array_ops.squeeze(variance, axes)
    return mean, variance


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """mean((x - mean(x)) ** 2) over ``axis``."""
    x = as_tensor(input_tensor)
    floating_only("reduce_variance", x)
    means = reduction_ops.reduce_mean(x, axis=axis, keepdims=True)
    return reduction_ops.reduce_mean(math_ops.square(x - means), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(reduce_variance(x)) over ``axis``."""
    return math_ops.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def _cumulative(accumulate, identity):
    def forward(x, axis, exclusive, reverse):
        if reverse:
            x = np.flip(x, axis)
        out = accumulate(x, axis=axis, dtype=x.dtype)
        if exclusive:
            out = np.concatenate([np.full_like(np.take(out, [0], axis=axis), identity),
                                  np.delete(out, -1, axis=axis)], axis=axis)
        return np.flip(out, axis) if reverse else np.ascontiguousarray(out)
    return forward


_cumsum = _cumulative(np.cumsum, 0)
_cumprod = _cumulative(np.cumprod, 1)


def _scan(op_type, forward, x, axis, exclusive, reverse):
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError(f"{op_type} needs a tensor of rank >= 1, got a scalar.")
    axis = int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{op_type}: axis {axis} is out of range for a tensor of rank {x.ndim}.")
    return execute(op_type, forward, (x,), {"axis": axis % x.ndim, "exclusive": bool(exclusive),
                                            "reverse": bool(reverse)})


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Running sums along ``axis``; ``exclusive`` leaves each element out of its own sum, ``reverse`` runs backwards."""
    return _scan("Cumsum", _cumsum, x, axis, exclusive, reverse)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Running products along ``axis`` (``exclusive`` and ``reverse`` as in cumsum)."""
    return _scan("Cumprod", _cumprod, x, axis, exclusive, reverse)


def _div_no_nan(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y == 0, np.zeros((), x.dtype), x / np.where(y == 0, np.ones((), y.dtype), y))


def divide_no_nan(x, y, name=None):
    """x / y, and 0 where y is 0 (even when x is 0 or inf)."""
    x, y = binary_inputs("DivNoNan", x, y)
    floating_only("DivNoNan", x)
    return execute("DivNoNan", _div_no_nan, (x, y))


def global_norm(t_list, name=None):
    """sqrt of the sum of squares of every element of every tensor (None entries skipped)."""
    values = [as_tensor(t) for t in t_list if t is not None]
    if not values:
        raise ValueError("global_norm needs at least one tensor (got none, or only None).")
    return math_ops.sqrt(math_ops.add_n([reduction_ops.reduce_sum(v * v) for v in values]))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """(tensors scaled by min(1, clip_norm / global_norm), global_norm): TF's composition; None stays None."""
    if isinstance(t_list, (str, bytes)) or not hasattr(t_list, "__iter__"):
        raise TypeError("clip_by_global_norm takes a list of tensors (e.g. the gradients), not one tensor.")
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else as_tensor(use_norm)
    clip_norm = array_ops.cast(clip_norm, norm.dtype)
    scale = clip_norm * math_ops.minimum(1.0 / norm, 1.0 / clip_norm)
    return [None if t is None else as_tensor(t) * scale for t in t_list], norm
