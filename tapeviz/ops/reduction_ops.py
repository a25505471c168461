"""Reductions (sum, mean, max, ...) and arg-reductions, under TensorFlow's op-type names.

``axis`` is None (all axes), an int or a list/tuple of ints, negative counting from the end;
``keepdims`` keeps reduced axes with length 1. Gradient rules live in ``tapeviz.plugins.reduction_grad``.
"""
import math

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from . import math_ops
from ._dispatch import as_tensor, not_allowed

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_logsumexp",
           "reduce_all", "reduce_any", "argmax", "argmin"]


def _axis(axis):
    """None, or a tuple of ints: one form for attrs, so rules need not handle ints and lists apart."""
    if axis is None:
        return None
    if type(axis) is tuple and all(type(a) is int for a in axis):  # what gradient rules pass: no conversion
        return axis
    if type(axis) is int:
        return (axis,)
    if isinstance(axis, Tensor):
        axis = axis._value
    return tuple(int(a) for a in np.asarray(axis).reshape(-1))


def _numeric(op_type, x):
    x = as_tensor(x)
    if x._value.dtype.kind == "b":
        raise not_allowed(op_type, x, "numeric types",
                          "cast it first with tapeviz.cast(x, tapeviz.int32) (or use reduce_any / reduce_all)")
    return x


def _sum(x, axis, keepdims):
    if axis and x.size and x.dtype in _BLAS_FLOATS and x.flags.c_contiguous and _leading(axis, x.ndim):
        # A bias's gradient sums rows: numpy adds them one row at a time (0.8 ms for 43,264 x 32),
        # a BLAS product with ones takes a quarter of that and is closer to the exact sum.
        rows = math.prod(x.shape[:len(axis)])
        total = np.ones(rows, x.dtype) @ x.reshape(rows, -1)
        return total.reshape((1,) * len(axis) + x.shape[len(axis):] if keepdims else x.shape[len(axis):])
    # np.sum's own work, minus its Python wrapper; dtype: numpy would widen int32 to int64.
    return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _leading(axis, ndim):
    """Whether ``axis`` names the first axes, and not all of them (a full sum stays pairwise)."""
    return len(axis) < ndim and sorted(a % ndim for a in axis) == list(range(len(axis)))


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    x = _numeric("Sum", input_tensor)
    return execute("Sum", _sum, (x,), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def _mean(x, axis, keepdims):
    if x.dtype.kind == "f":
        if x.dtype.itemsize < 4:
            # TF rounds the float16 total (inf past 65504) before dividing: mean([60000, 60000]) is inf.
            # The total is summed in float32 here; TF's partial sums are float16, so a partial sum past
            # 65504 that the rest brings back below it is inf in TF only.
            total = np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
            count = x.size // max(np.size(total), 1)
            return np.asarray(total / x.dtype.type(count), x.dtype)[()] if count else total * x.dtype.type(np.nan)
        if x.size == 0:
            return np.mean(x, axis=axis, keepdims=keepdims)  # empty means warn
        # np.mean's arithmetic, rounding included, without its Python wrapper.
        total = np.add.reduce(x, axis=axis, keepdims=keepdims)
        count = np.intp(x.size // max(np.size(total), 1))
        if type(total) is np.ndarray:
            return np.true_divide(total, count, out=total, casting="unsafe")
        return total.dtype.type(total / count)
    total = np.sum(x, axis=axis, keepdims=keepdims, dtype=np.int64)
    count = max(x.size // max(np.size(total), 1), 1)
    return (np.sign(total) * (np.abs(total) // count)).astype(x.dtype)  # integer mean truncates toward zero, as TF


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    x = _numeric("Mean", input_tensor)
    return execute("Mean", _mean, (x,), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def _extreme(reducer, lowest):
    """max or min; over no entries, the identity TF gives: -inf/inf for floats, the dtype's min/max for ints."""
    def forward(x, axis, keepdims):
        if x.size:
            return reducer(x, axis=axis, keepdims=keepdims)
        identity = (-np.inf if lowest else np.inf) if x.dtype.kind == "f" else (
            np.iinfo(x.dtype).min if lowest else np.iinfo(x.dtype).max)
        return reducer(x, axis=axis, keepdims=keepdims, initial=identity)
    return forward


_max, _min = _extreme(np.max, lowest=True), _extreme(np.min, lowest=False)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    return execute("Max", _max, (as_tensor(input_tensor),), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    return execute("Min", _min, (as_tensor(input_tensor),), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def _prod(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    x = _numeric("Prod", input_tensor)
    return execute("Prod", _prod, (x,), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) without overflow, composed as TF composes it (so every order of gradient follows)."""
    x = as_tensor(input_tensor)
    axis = _axis(axis)
    peak = np.max(x._value, axis=axis, keepdims=True)
    # The shift is a constant (TF wraps it in stop_gradient); infinite maxima shift by 0 to avoid inf - inf.
    shift = np.where(np.isfinite(peak), peak, 0).astype(x._value.dtype)
    total = reduce_sum(math_ops.exp(math_ops.subtract(x, Tensor(shift))), axis=axis, keepdims=keepdims)
    return math_ops.add(math_ops.log(total), Tensor(shift.reshape(total._value.shape)))


def _boolean(op_type, x):
    x = as_tensor(x)
    if not x.dtype.is_bool:
        raise TypeError(f"{op_type} needs a bool tensor, got {x.dtype.name}; compare first (e.g. x > 0).")
    return x


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    return execute("All", np.all, (_boolean("All", input_tensor),), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    return execute("Any", np.any, (_boolean("Any", input_tensor),), {"axis": _axis(axis), "keepdims": bool(keepdims)})


def _arg(reducer):
    def forward(x, axis, output_type):
        return reducer(x, axis=axis).astype(output_type)
    return forward


_argmax, _argmin = _arg(np.argmax), _arg(np.argmin)


def argmax(input, axis=None, output_type=dtypes.int64, name=None):  # noqa: A002 - TF's name
    """The index of the largest value along ``axis`` (0 when None, as in TF); the first one on ties."""
    attrs = {"axis": 0 if axis is None else int(axis), "output_type": dtypes.as_dtype(output_type).name}
    return execute("ArgMax", _argmax, (as_tensor(input),), attrs)


def argmin(input, axis=None, output_type=dtypes.int64, name=None):  # noqa: A002 - TF's name
    attrs = {"axis": 0 if axis is None else int(axis), "output_type": dtypes.as_dtype(output_type).name}
    return execute("ArgMin", _argmin, (as_tensor(input),), attrs)
