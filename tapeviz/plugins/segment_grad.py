"""Gradient rules for the segment reductions, as TensorFlow's math_grad.py writes them: each row's
gradient is its segment's gradient gathered back (divided by the segment's size for a mean; for a
max or min, shared among the rows that reached it).

All take a vectorized pass's gradients (``batched=True``): the gather runs on the axis after the
leading batch dimension. Which rows reached a max is piecewise constant in the data (its derivative
is 0 wherever it exists), so the rules compute it from values, as constants.
"""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.core.tensor import Tensor
from tapeviz.ops import array_ops as A
from tapeviz.ops import segment_ops as S

from ._helpers import batch_dims, randn


def _gather_rows(grad, ids):
    """grad's segment rows at ``ids`` (negative ids give zero rows): TF's _GatherDropNegatives."""
    lead = batch_dims()
    ids_value = ids._value
    if not np.any(ids_value < 0):
        return A.gather(grad, ids, axis=lead)
    gathered = A.gather(grad, Tensor(np.maximum(ids_value, 0)), axis=lead)
    rest = gathered._value.ndim - lead - ids_value.ndim
    kept = Tensor((ids_value >= 0).reshape(ids_value.shape + (1,) * rest))
    return A.where(kept, gathered, A.zeros_like(gathered))


def _sum_grad(op, grad):
    return _gather_rows(grad, op.inputs[1]), None


def _mean_grad(op, grad):
    data, ids = op.inputs
    sizes = np.bincount(ids._value, minlength=grad._value.shape[batch_dims()])
    shape = (-1,) + (1,) * (data._value.ndim - 1)
    scale = Tensor((1.0 / np.maximum(sizes, 1)).reshape(shape).astype(grad._value.dtype))
    return _gather_rows(grad * scale, ids), None


def _min_or_max_grad(op, grad):
    # TF's _SegmentMinOrMaxGrad: the gradient is shared equally among the rows equal to their segment's result.
    data, ids = op.inputs[0]._value, op.inputs[1]._value
    output = op.outputs[0]._value
    count = output.shape[0]
    safe_ids = np.maximum(ids, 0)
    selected = (data == output[safe_ids]) & (ids >= 0).reshape(ids.shape + (1,) * (data.ndim - ids.ndim))
    rows = selected.reshape((-1,) + data.shape[ids.ndim:]).astype(grad._value.dtype)
    shares = np.zeros((count,) + rows.shape[1:], rows.dtype)
    np.add.at(shares, ids.reshape(-1)[ids.reshape(-1) >= 0], rows[ids.reshape(-1) >= 0])
    weighted = grad / Tensor(np.maximum(shares, 1))  # an empty segment is never gathered; 1 keeps it finite
    gathered = _gather_rows(weighted, op.inputs[1])
    return A.where(Tensor(selected), gathered, A.zeros_like(gathered)), *([None] * (len(op.inputs) - 1))


def _unsorted_sum_grad(op, grad):
    return _gather_rows(grad, op.inputs[1]), None


SORTED_IDS = np.array([0, 0, 2, 3, 3])
UNSORTED_IDS = np.array([2, -1, 0, 2, 0])
# Every segment of a max or min gets a row: an empty one holds the dtype's lowest value, where
# finite differences overflow.
COVERING_IDS = np.array([2, -1, 0, 2, 1])


def _cases(fn, ids, count=None, ids_2d=None):
    call = (lambda d: fn(d, ids)) if count is None else (lambda d: fn(d, ids, count))
    cases = [CheckCase(call, (randn(5, seed=1),), name="vector"),
             CheckCase(call, (randn(5, 2, seed=2),), name="rows of 2")]
    if ids_2d is not None:
        cases.append(CheckCase(lambda d: fn(d, ids_2d, count), (randn(2, 2, 3, seed=3),), name="2-D ids"))
    return cases


@hookimpl
def register_gradients(register):
    reads_ids = dict(batched=True, needs_inputs=(1,), needs_outputs=False)
    register("SegmentSum", _sum_grad, checks=_cases(S.segment_sum, SORTED_IDS), **reads_ids)
    register("SegmentMean", _mean_grad, checks=_cases(S.segment_mean, SORTED_IDS), **reads_ids)
    register("UnsortedSegmentSum", _unsorted_sum_grad, checks=_cases(S.unsorted_segment_sum, UNSORTED_IDS, 4, np.array([[2, -1], [0, 2]])),
             **reads_ids)
    for op_type, fn in [("SegmentMax", S.segment_max), ("SegmentMin", S.segment_min)]:
        register(op_type, _min_or_max_grad, batched=True, checks=_cases(fn, SORTED_IDS))
    for op_type, fn in [("UnsortedSegmentMax", S.unsorted_segment_max), ("UnsortedSegmentMin", S.unsorted_segment_min)]:
        register(op_type, _min_or_max_grad, batched=True,
                 checks=_cases(fn, COVERING_IDS, 3, np.array([[2, 1], [0, 2]])))
