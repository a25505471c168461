"""Gradient rules for matrix multiplication (MatMul, and BatchMatMulV2 for batched operands).

An operand nobody differentiates (an MLP's input batch) gets no gradient computed at all. MatMul
also takes batch_jacobian's diagonal gradients, where its gradient needs no matrix product.
"""
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops.array_ops import reshape, transpose
from tapeviz.ops.linalg_ops import matmul

from ._helpers import batch_dims, randn, skips, unbroadcast


def _grads(op, grad, ta, tb):
    """TF's _MatMulGrad: each operand's gradient as one product, with transposes as flags (no copies)."""
    a, b = op.inputs
    grad_a = grad_b = None
    if not skips(op, 0) and not ta and batch_dims() and b._value.ndim == 2:
        grad_a = _rows_times(grad, b, not tb)  # one 2-D product instead of one per row of the batch
    elif not skips(op, 0):
        grad_a = (matmul(b, grad, transpose_a=True, transpose_b=True) if ta and tb else
                  matmul(b, grad, transpose_b=True) if ta else
                  matmul(grad, b, transpose_b=not tb))
    if not skips(op, 1):
        grad_b = (matmul(grad, a, transpose_a=True, transpose_b=True) if ta and tb else
                  matmul(grad, a, transpose_a=True) if tb else
                  matmul(a, grad, transpose_a=not ta))
    return grad_a, grad_b


def _rows_times(grad, b, transpose_b):
    """grad @ b (or b^T) for a gradient with leading dimensions, as one 2-D product of its stacked rows."""
    shape = grad._value.shape
    product = matmul(reshape(grad, (-1, shape[-1])), b, transpose_b=transpose_b)
    return reshape(product, shape[:-1] + product._value.shape[-1:])


def _matmul_grad(op, grad):
    return _grads(op, grad, op.attrs["transpose_a"], op.attrs["transpose_b"])


def _matmul_diagonal_grad(op, grad):
    """MatMul's rule for batch_jacobian's diagonal gradients (tapeviz.core.batching.DiagonalGradient).

    Row r of the gradient of a @ b is zero but for column r, ``grad.values[:, r]``; times b^T that
    is row r of b^T scaled per batch row: an outer product instead of a (rows * B, P) @ (P, K)
    product. Declines where the structure does not fit (a transposed a, or b differentiated too).
    """
    a, b = op.inputs
    if op.attrs["transpose_a"] or not skips(op, 1) or a._value.ndim != 2:
        return NotImplemented
    if skips(op, 0):
        return None, None
    start, stop, (batch, positions) = grad.start, grad.stop, grad.shape
    rows_of_b_t = b if op.attrs["transpose_b"] else transpose(b)  # (positions, K)
    scales = transpose(grad.values)  # (positions, B)
    if (start, stop) != (0, positions):  # one pass of several (parallel_iterations)
        rows_of_b_t, scales = rows_of_b_t[start:stop], scales[start:stop]
    # numpy lays a product out as its operands are: the scales are copied into row-major order (a
    # flattening reshape) so that the (rows, B, K) gradient comes out row-major for the next rules
    scales = reshape(reshape(scales, [-1]), (stop - start, batch, 1))
    return scales * reshape(rows_of_b_t, (stop - start, 1, rows_of_b_t._value.shape[-1])), None


def _batch_matmul_grad(op, grad):
    # Batch dimensions broadcast, so each gradient is summed back down to its operand's shape.
    grad_a, grad_b = _grads(op, grad, op.attrs["adj_x"], op.attrs["adj_y"])
    a, b = op.inputs
    return (None if grad_a is None else unbroadcast(grad_a, a._value.shape),
            None if grad_b is None else unbroadcast(grad_b, b._value.shape))


def _cases(a_shape, b_shape):
    def swap(shape):
        return shape[:-2] + (shape[-1], shape[-2])

    cases = []
    for ta in (False, True):
        for tb in (False, True):
            inputs = (randn(*(swap(a_shape) if ta else a_shape)), randn(*(swap(b_shape) if tb else b_shape), seed=1))
            cases.append(CheckCase(lambda a, b, ta=ta, tb=tb: matmul(a, b, transpose_a=ta, transpose_b=tb), inputs,
                                   name=f"{a_shape} @ {b_shape}, transpose_a={ta}, transpose_b={tb}"))
    return cases


@hookimpl
def register_gradients(register):
    register("MatMul", _matmul_grad, checks=_cases((2, 3), (3, 4)) + _cases((1, 3), (3, 1)), needs_outputs=False,
             batched=True, diagonal=_matmul_diagonal_grad)
    register("BatchMatMulV2", _batch_matmul_grad, batched=True, checks=_cases((2, 2, 3), (2, 3, 4)) + [
        CheckCase(lambda a, b: matmul(a, b), (randn(2, 1, 2, 3), randn(3, 3, 2, seed=1)), name="broadcast batch"),
        CheckCase(lambda a, b: matmul(a, b), (randn(2, 3), randn(4, 3, 2, seed=1)), name="matrix @ batch")],
        needs_outputs=False)
