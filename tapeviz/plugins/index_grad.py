"""Gradient rules for GatherNd, ScatterNd and TopKV2 (each other's scatters and gathers, as in TF).

All take a vectorized pass's gradients (``batched=True``): GatherNd and ScatterNd index the leading
axes, so the rows move to the last axis (a trailing slice dimension to gather or scatter) and
back; TopKV2's rule works on the last axes and broadcasts.
"""
import numpy as np

import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import index_ops as I

from ._helpers import batch_dims, randn, rows_first, rows_last


def _gather_nd_grad(op, grad):
    params, indices = op.inputs
    if batch_dims():
        shape = tuple(params._value.shape) + grad._value.shape[:1]
        return rows_first(I.scatter_nd(indices, rows_last(grad), shape)), None
    return I.scatter_nd(indices, grad, params.shape), None


def _scatter_nd_grad(op, grad):
    if batch_dims():
        return None, rows_first(I.gather_nd(rows_last(grad), op.inputs[0]))
    return None, I.gather_nd(grad, op.inputs[0])


def _top_k_grad(op, grad_values, grad_indices):
    # Each value's gradient goes back to the position it was taken from: a one-hot sum over the k picks.
    n = op.inputs[0].shape[-1]
    hot = tv.one_hot(op.outputs[1], n, dtype=grad_values.dtype)
    return tv.reduce_sum(tv.expand_dims(grad_values, -1) * hot, axis=-2)


GATHER_INDICES = np.array([[0, 1], [2, 0], [1, 1]])


@hookimpl
def register_gradients(register):
    register("GatherNd", _gather_nd_grad, batched=True, needs_outputs=False, checks=[
        CheckCase(lambda p: I.gather_nd(p, GATHER_INDICES), (randn(3, 2, seed=1),), name="elements"),
        CheckCase(lambda p: I.gather_nd(p, np.array([[1], [0], [1]])), (randn(2, 3, seed=2),), name="rows, repeated"),
    ])
    register("ScatterNd", _scatter_nd_grad, batched=True, needs_outputs=False, checks=[
        CheckCase(lambda u: I.scatter_nd(GATHER_INDICES, u, [3, 2]), (randn(3, seed=3),), name="elements"),
        CheckCase(lambda u: I.scatter_nd(np.array([[1], [1]]), u, [3, 4]), (randn(2, 4, seed=4),),
                  name="rows, repeated"),
    ])
    register("TopKV2", _top_k_grad, batched=True, checks=[
        CheckCase(lambda x: I.top_k(x, 2).values, (randn(5, seed=5),), name="(5,) k=2"),
        CheckCase(lambda x: I.top_k(x, 3).values, (randn(2, 4, seed=6),), name="(2, 4) k=3"),
        CheckCase(lambda x: I.sort(x, axis=0), (randn(3, 2, seed=7),), name="sort axis 0"),
    ])
