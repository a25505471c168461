"""Gradient rules for TensorScatterUpdate, TensorScatterAdd, TensorScatterSub and Roll, as
TensorFlow's array_grad.py and manip_grad.py write them: a scatter's gradient gathers at its indices
(and, for an update, zeroes the overwritten entries of the copy); a roll's is the opposite roll.

All take a vectorized pass's gradients (``batched=True``): the scatters move the rows of the pass to
the last axis, out of the way of the leading indices, and back; a roll moves its axes past them.
"""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import array_ops as A
from tapeviz.ops import index_ops as I
from tapeviz.ops import selection_ops as S

from ._helpers import batch_dims, randn, rows_first, rows_last, skips


def _gathered(grad, indices):
    """gather_nd(grad, indices) with the pass's rows kept in front."""
    if batch_dims():
        return rows_first(I.gather_nd(rows_last(grad), indices))
    return I.gather_nd(grad, indices)


def _scatter_update_grad(op, grad):
    _, indices, updates = op.inputs
    tensor_grad = None
    if not skips(op, 0):
        if batch_dims():
            zeros = A.zeros(updates._value.shape + grad._value.shape[:1], grad.dtype)
            tensor_grad = rows_first(S.tensor_scatter_nd_update(rows_last(grad), indices, zeros))
        else:
            tensor_grad = S.tensor_scatter_nd_update(grad, indices, A.zeros(updates._value.shape, grad.dtype))
    return tensor_grad, None, None if skips(op, 2) else _gathered(grad, indices)


def _scatter_add_grad(op, grad):
    return grad, None, None if skips(op, 2) else _gathered(grad, op.inputs[1])


def _scatter_sub_grad(op, grad):
    return grad, None, None if skips(op, 2) else -_gathered(grad, op.inputs[1])


def _roll_grad(op, grad):
    lead = batch_dims()
    return S.roll(grad, [-s for s in op.get_attr("shift")], [a + lead for a in op.get_attr("axis")])


ELEMENTS = np.array([[0, 1], [2, 0], [0, 1]])  # a repeated index: updates to it add, or the last one wins
ROWS = np.array([[2], [0]])


def _scatter_cases(fn):
    return [CheckCase(lambda t, u: fn(t, ROWS, u), (randn(3, 2, seed=1), randn(2, 2, seed=2)), name="rows"),
            CheckCase(lambda t, u: fn(t, ELEMENTS[:2], u), (randn(3, 2, seed=3), randn(2, seed=4)), name="elements")]


@hookimpl
def register_gradients(register):
    reads_indices = dict(batched=True, needs_inputs=(1,), needs_outputs=False)
    register("TensorScatterUpdate", _scatter_update_grad, checks=_scatter_cases(S.tensor_scatter_nd_update),
             **reads_indices)
    register("TensorScatterAdd", _scatter_add_grad, checks=_scatter_cases(S.tensor_scatter_nd_add) + [
        CheckCase(lambda t, u: S.tensor_scatter_nd_add(t, ELEMENTS, u), (randn(3, 2, seed=5), randn(3, seed=6)),
                  name="repeated index")], **reads_indices)
    register("TensorScatterSub", _scatter_sub_grad, checks=_scatter_cases(S.tensor_scatter_nd_sub), **reads_indices)
    register("Roll", _roll_grad, batched=True, needs_inputs=False, needs_outputs=False, checks=[
        CheckCase(lambda x: S.roll(x, 2, 0), (randn(5, seed=7),), name="vector"),
        CheckCase(lambda x: S.roll(x, [1, -1], [0, 1]), (randn(3, 4, seed=8),), name="two axes"),
        CheckCase(lambda x: S.roll(x, 1, -1), (randn(2, 3, seed=9),), name="axis -1")])
    for op_type in ("LowerBound", "UpperBound"):
        register.not_differentiable(op_type)
