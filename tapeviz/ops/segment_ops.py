"""Segment reductions: ``math.segment_sum`` / ``segment_mean`` / ``segment_max`` / ``segment_min`` and
their ``unsorted_`` forms (``unsorted_segment_mean`` and ``unsorted_segment_sqrt_n`` composed as
TensorFlow composes them).

Each reduction is an op under TensorFlow's op-type name (rules in ``tapeviz.plugins.segment_grad``);
segment ids are integers and get no gradient, as in TF.
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from . import math_ops
from ._dispatch import as_tensor, tf_type_name

__all__ = []


def _segment_ids(op_type, ids):
    ids = as_tensor(ids)
    if ids.dtype.name not in ("int32", "int64"):
        raise InvalidArgumentError(
            f"Value for attr 'Tindices' of {tf_type_name(ids._value.dtype)} is not in the list of allowed values: "
            f"int32, int64 [Op:{op_type}]. Segment ids are integers: cast them with tapeviz.cast(ids, tapeviz.int32).")
    return ids


def _data(op_type, data):
    data = as_tensor(data)
    if data.dtype.is_bool or data.dtype.name == "string":
        raise InvalidArgumentError(f"{op_type} has no kernel for {data.dtype.name} data [Op:{op_type}]; cast the "
                                   "data to a number type first.")
    if data.ndim == 0:
        raise InvalidArgumentError(f"{op_type} needs data of rank >= 1 (one row per segment id), got a scalar "
                                   f"[Op:{op_type}].")
    return data


# Identities of the reductions: the value an empty segment starts from.
def _lowest(dtype):
    return np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    return np.finfo(dtype).max if dtype.kind == "f" else np.iinfo(dtype).max


_KERNELS = {"sum": (np.add, lambda d: 0), "max": (np.maximum, _lowest), "min": (np.minimum, _highest)}


def _reduce_segments(data, ids, count, kind):
    """Reduce the rows of ``data`` (leading dimensions shaped like ``ids``) into ``count`` segments;
    negative ids are dropped. Returns (result, rows per segment)."""
    kernel, start = _KERNELS["sum" if kind == "mean" else kind]
    rows = data.reshape((-1,) + data.shape[ids.ndim:])
    flat = ids.reshape(-1)
    kept = flat >= 0
    rows, flat = rows[kept], flat[kept]
    out = np.full((count,) + rows.shape[1:], start(data.dtype), dtype=data.dtype)
    kernel.at(out, flat, rows)
    sizes = np.bincount(flat, minlength=count)[:count]
    if kind == "mean":
        shape = (-1,) + (1,) * (out.ndim - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(sizes.reshape(shape) > 0, out / np.maximum(sizes, 1).reshape(shape), 0).astype(data.dtype)
    return out, sizes


def _sorted_segments(kind):
    def forward(data, ids):
        if ids.ndim != 1:
            raise ValueError(f"segment_ids should be a vector, got shape {list(ids.shape)}.")
        if ids.shape[0] != data.shape[0]:
            raise ValueError("segment_ids should be the same size as dimension 0 of input: "
                             f"{ids.shape[0]} ids for {data.shape[0]} rows.")
        if ids.size and (ids[0] < 0 or np.any(np.diff(ids) < 0)):
            raise ValueError("segment ids are not increasing (sort the rows by segment id, or use "
                             "tapeviz.math.unsorted_segment_* with num_segments).")
        count = int(ids[-1]) + 1 if ids.size else 0
        out, sizes = _reduce_segments(data, ids, count, kind)
        if kind in ("max", "min"):  # TF's sorted kernels give 0 for an empty segment
            out[sizes == 0] = 0
        return out
    return forward


def _unsorted_segments(kind):
    def forward(data, ids, num_segments):
        if tuple(data.shape[:ids.ndim]) != tuple(ids.shape):
            raise ValueError(f"data.shape = {list(data.shape)} does not start with segment_ids.shape = "
                             f"{list(ids.shape)}: give one segment id per row.")
        bad = np.argwhere(ids >= num_segments)
        if bad.size:
            where = tuple(int(i) for i in bad[0])
            raise ValueError(f"segment_ids[{', '.join(map(str, where))}] = {ids[where]} is out of range "
                             f"[0, {num_segments}): raise num_segments or fix the id.")
        return _reduce_segments(data, ids, num_segments, kind)[0]
    return forward


_SORTED = {kind: _sorted_segments(kind) for kind in ("sum", "mean", "max", "min")}
_UNSORTED = {kind: _unsorted_segments(kind) for kind in ("sum", "max", "min")}


def _sorted(op_type, kind):
    def op(data, segment_ids, name=None):
        data, ids = _data(op_type, data), _segment_ids(op_type, segment_ids)
        return execute(op_type, _SORTED[kind], (data, ids))
    op.__name__ = op_type
    op.__doc__ = (f"The {kind} of the rows of ``data`` in each segment; ``segment_ids`` are sorted and give one "
                  f"segment per row (op {op_type}).")
    return op


def _unsorted(op_type, kind):
    def op(data, segment_ids, num_segments, name=None):
        data, ids = _data(op_type, data), _segment_ids(op_type, segment_ids)
        count = int(num_segments._value if isinstance(num_segments, Tensor) else num_segments)
        if count < 0:
            raise InvalidArgumentError(f"num_segments must be non-negative, got {count} [Op:{op_type}].")
        return execute(op_type, _UNSORTED[kind], (data, ids), {"num_segments": count})
    op.__name__ = op_type
    op.__doc__ = (f"The {kind} of the rows of ``data`` with each segment id, in any order, into ``num_segments`` "
                  f"segments; rows with a negative id are dropped (op {op_type}).")
    return op


segment_sum = _sorted("SegmentSum", "sum")
segment_mean = _sorted("SegmentMean", "mean")
segment_max = _sorted("SegmentMax", "max")
segment_min = _sorted("SegmentMin", "min")
unsorted_segment_sum = _unsorted("UnsortedSegmentSum", "sum")
unsorted_segment_max = _unsorted("UnsortedSegmentMax", "max")
unsorted_segment_min = _unsorted("UnsortedSegmentMin", "min")


def _segment_counts(data, segment_ids, num_segments):
    """How many rows each segment has, at least 1, shaped to broadcast over the summed rows (TF's _unsorted_segment_N)."""
    ids = _segment_ids("UnsortedSegmentSum", segment_ids)._value
    flat = ids.reshape(-1)
    sizes = np.bincount(flat[flat >= 0], minlength=num_segments)[:num_segments]
    shape = (num_segments,) + (1,) * (data.ndim - ids.ndim)
    return Tensor(np.maximum(sizes, 1).reshape(shape).astype(data._value.dtype))


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """unsorted_segment_sum divided by each segment's row count (0 for an empty segment): TF's composition."""
    data, count = _data("UnsortedSegmentSum", data), int(num_segments)
    return unsorted_segment_sum(data, segment_ids, count) / _segment_counts(data, segment_ids, count)


def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None):
    """unsorted_segment_sum divided by the square root of each segment's row count: TF's composition."""
    data, count = _data("UnsortedSegmentSum", data), int(num_segments)
    return unsorted_segment_sum(data, segment_ids, count) / math_ops.sqrt(_segment_counts(data, segment_ids, count))
