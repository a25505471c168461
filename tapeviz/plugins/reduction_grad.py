"""Gradient rules for reductions: each broadcasts the output gradient back over the reduced axes."""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.core.tensor import Tensor
from tapeviz.ops import array_ops as A, reduction_ops as R

from ._helpers import batch_dims, randn


def _reduced(op):
    """The input's shape, the reduced axes (non-negative) and the output shape with those axes kept as 1."""
    shape, axis = op.inputs[0]._value.shape, op.get_attr("axis")
    if axis is None:
        return shape, list(range(len(shape))), (1,) * len(shape)
    axes = sorted({a % len(shape) for a in axis})
    return shape, axes, tuple([1 if i in axes else n for i, n in enumerate(shape)])


def _spread(op, grad, reduced=None):
    shape, _, kept = reduced or _reduced(op)
    lead = grad._value.shape[:batch_dims()]
    if lead:  # a vectorized pass: the batch dimensions stay in front
        return A.broadcast_to(A.reshape(grad, lead + kept) if grad._value.shape[len(lead):] != kept else grad,
                              lead + shape)
    # A scalar (a full reduction) or a keepdims gradient broadcasts as it is; others need the 1s back.
    if grad._value.ndim and grad._value.shape != kept:
        grad = A.reshape(grad, kept)
    return A.broadcast_to(grad, shape)


def _mean_grad(op, grad):
    reduced = _reduced(op)
    shape, axes, _ = reduced
    count = 1
    for axis in axes:
        count *= shape[axis]
    # Scaled before it is spread: one multiply per output element rather than per input element.
    return _spread(op, grad * (1 / max(count, 1)), reduced)


def _min_or_max_grad(op, grad):
    # Tied extremes share the gradient equally, as in TF. The weights are piecewise constant in x, so a
    # constant is exact at every order.
    x, y = op.inputs[0]._value, op.outputs[0]._value
    selected = (x == np.reshape(y, _reduced(op)[2])).astype(x.dtype)
    return _spread(op, grad) * Tensor(selected / np.sum(selected, axis=op.get_attr("axis"), keepdims=True))


def _prod_grad(op, grad):
    # d prod / d x_i is the product of the others; computing it as such (not prod / x_i) stays exact where
    # entries are 0. The reduced axes are flattened into a last axis of n; an n x n copy with ones on the
    # diagonal multiplies out each "product of the others". O(n^2), but composed of ops with rules (TF
    # uses exclusive cumprods instead).
    x = op.inputs[0]
    shape, reduced, _ = _reduced(op)
    kept = [i for i in range(len(shape)) if i not in reduced]
    perm = kept + reduced
    outer, n = [shape[i] for i in kept], int(np.prod([shape[i] for i in reduced], dtype=np.int64))
    rows = A.reshape(A.transpose(x, perm), outer + [n])
    square = A.broadcast_to(A.expand_dims(rows, -2), outer + [n, n])
    others = R.reduce_prod(A.where(Tensor(np.eye(n, dtype=bool)), A.ones_like(square), square), axis=-1)
    lead = list(grad._value.shape[:batch_dims()])
    moved = A.reshape(A.reshape(grad, lead + outer + [1]) * others, lead + [shape[i] for i in perm])
    return A.transpose(moved, list(range(len(lead))) + [len(lead) + int(p) for p in np.argsort(perm)])


def _cases(fn, positive=False):
    low, high = (0.5, 1.5) if positive else (None, None)
    return [CheckCase(lambda x: fn(x), (randn(2, 3, low=low, high=high),), name="all axes"),
            CheckCase(lambda x: fn(x, axis=1), (randn(2, 3, low=low, high=high),), name="axis 1"),
            CheckCase(lambda x: fn(x, axis=-1, keepdims=True), (randn(2, 3, 4, low=low, high=high),),
                      name="axis -1, keepdims"),
            CheckCase(lambda x: fn(x, axis=(0, 2)), (randn(2, 3, 4, low=low, high=high),), name="axes (0, 2)"),
            CheckCase(lambda x: fn(x, keepdims=True), (randn(3, low=low, high=high),), name="vector, keepdims"),
            CheckCase(lambda x: fn(x), (randn(low=low, high=high),), name="scalar")]


@hookimpl
def register_gradients(register):
    register("Sum", _spread, checks=_cases(R.reduce_sum), needs_inputs=False, needs_outputs=False, batched=True)
    register("Mean", _mean_grad, checks=_cases(R.reduce_mean), needs_inputs=False, needs_outputs=False, batched=True)
    register("Max", _min_or_max_grad, checks=_cases(R.reduce_max), batched=True)
    register("Min", _min_or_max_grad, checks=_cases(R.reduce_min), batched=True)
    register("Prod", _prod_grad, batched=True, checks=_cases(R.reduce_prod, positive=True) + [
        CheckCase(lambda x: R.reduce_prod(x, axis=0), (np.array([[0.0, 2.0], [3.0, 0.0], [1.5, 0.5]]),),
                  name="with zeros")], needs_outputs=False)
    register.not_differentiable("ArgMax")
    register.not_differentiable("ArgMin")
    register.not_differentiable("Multinomial")  # tf.random.categorical: sampled class indices
    register.not_differentiable("OneHot")  # of integer indices (on/off values are constants here)
