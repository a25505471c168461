"""The gradient rule for MatrixTriangularSolve, as TensorFlow's linalg_grad.py writes it: the
right-hand side gets a solve with the adjoint; the matrix gets -grad_b @ X^T cut to its triangle.

It takes a vectorized pass's gradients (``batched=True``): the solve broadcasts the matrix over the
leading batch dimension, and ``unbroadcast`` sums the matrix's gradient back to its shape.
"""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import matrix_ops as M
from tapeviz.ops import triangular_ops as T
from tapeviz.ops.linalg_ops import matmul

from ._helpers import randn, skips, unbroadcast


def _triangular_solve_grad(op, grad):
    a, c = op.inputs[0], op.outputs[0]
    lower, adjoint = op.get_attr("lower"), op.get_attr("adjoint")
    grad_b = T.triangular_solve(a, grad, lower=lower, adjoint=not adjoint)
    grad_a = None
    if not skips(op, 0):
        grad_a = -matmul(c, grad_b, adjoint_b=True) if adjoint else -matmul(grad_b, c, adjoint_b=True)
        grad_a = M.band_part(grad_a, -1, 0) if lower else M.band_part(grad_a, 0, -1)
        grad_a = unbroadcast(grad_a, a)
    return grad_a, unbroadcast(grad_b, op.inputs[1])


def _triangular(*shape, seed):
    """A well-conditioned matrix: a dominant diagonal, so every triangle is far from singular."""
    n = shape[-1]
    return randn(*shape, seed=seed) * 0.3 + 2.0 * np.eye(n)


@hookimpl
def register_gradients(register):
    register("MatrixTriangularSolve", _triangular_solve_grad, batched=True, checks=[
        CheckCase(T.triangular_solve, (_triangular(3, 3, seed=1), randn(3, 2, seed=2)), name="lower"),
        CheckCase(lambda a, b: T.triangular_solve(a, b, lower=False, adjoint=True),
                  (_triangular(3, 3, seed=3), randn(3, 1, seed=4)), name="upper, adjoint"),
        CheckCase(lambda a, b: T.triangular_solve(a, b, adjoint=True),
                  (_triangular(2, 2, 2, seed=5), randn(2, 2, 2, seed=6)), name="batch of 2, adjoint"),
        CheckCase(T.triangular_solve, (_triangular(3, 3, seed=7), randn(2, 3, 2, seed=8)), name="broadcast matrix")])
