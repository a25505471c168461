"""Gradient rules for matrix inverse, determinants, solve, Cholesky and diagonals (TF's linalg_grad).

All take a vectorized pass's gradients (``batched=True``). The rules work on the last two axes and
their products broadcast leading dimensions (``BatchMatMulV2``'s rule sums them back), so the rows
ride along; MatrixSolve instead puts the rows beside the right-hand side's columns, so that one
solve (one factorisation) serves them all.
"""
import numpy as np

import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import matrix_ops as M
from tapeviz.ops.linalg_ops import matmul

from ._helpers import batch_dims, randn, unbroadcast, zeros_for


def _adjoint(x):
    rank = len(x.shape)
    return tv.transpose(x, list(range(rank - 2)) + [rank - 1, rank - 2])


def _inverse_grad(op, grad):
    ainv = op.outputs[0]
    adjoint = op.get_attr("adjoint")
    return -matmul(ainv, matmul(grad, ainv, adjoint_a=adjoint, adjoint_b=not adjoint), adjoint_a=not adjoint)


def _det_grad(op, grad):
    a, det = op.inputs[0], op.outputs[0]
    scale = tv.expand_dims(tv.expand_dims(grad * det, -1), -1)
    return scale * _adjoint(M.inv(a))


def _slogdet_grad(op, grad_sign, grad_logdet):
    scale = tv.expand_dims(tv.expand_dims(grad_logdet, -1), -1)
    return scale * _adjoint(M.inv(op.inputs[0]))


def _rows_beside_columns(grad):
    """(B, ..., M, K) -> (..., M, B * K): a vectorized pass's rows as more right-hand-side columns."""
    shape = grad._value.shape
    rank = len(shape)
    moved = tv.transpose(grad, list(range(1, rank - 1)) + [0, rank - 1])
    return tv.reshape(moved, shape[1:-1] + (shape[0] * shape[-1],))


def _rows_from_columns(x, rows):
    """The inverse of ``_rows_beside_columns``."""
    shape = x._value.shape
    split = tv.reshape(x, shape[:-1] + (rows, shape[-1] // rows))
    rank = len(shape) + 1
    return tv.transpose(split, [rank - 2] + list(range(rank - 2)) + [rank - 1])


def _solve_grad(op, grad):
    a, c = op.inputs[0], op.outputs[0]
    adjoint = op.get_attr("adjoint")
    if batch_dims():
        rows = grad._value.shape[0]
        grad_b = _rows_from_columns(M.solve(a, _rows_beside_columns(grad), adjoint=not adjoint), rows)
    else:
        grad_b = M.solve(a, grad, adjoint=not adjoint)
    grad_a = -matmul(c, grad_b, adjoint_b=True) if adjoint else -matmul(grad_b, c, adjoint_b=True)
    # Leading dimensions broadcast (a (3, 3) matrix against (2, 3, K) right-hand sides): summed back.
    return unbroadcast(grad_a, a), unbroadcast(grad_b, op.inputs[1])


def _cholesky_grad(op, grad):
    # TF's rule (Murray 2016): symmetric, so it is the gradient with respect to a symmetric input.
    chol = op.outputs[0]
    chol_inverse = M.inv(chol)
    middle = matmul(chol, grad, adjoint_a=True)
    middle = M.band_part(middle, -1, 0) - 0.5 * M.diag(M.diag_part(middle))
    grad_a = matmul(matmul(chol_inverse, middle, adjoint_a=True), chol_inverse)
    return 0.5 * (grad_a + _adjoint(grad_a))


def _diag_grad(op, grad):
    return M.diag_part(grad)


def _diag_part_grad(op, grad):
    rows, cols = op.inputs[0].shape[-2:]
    if rows != cols:
        return M.set_diag(zeros_for(grad, op.inputs[0]) if batch_dims() else tv.zeros(op.inputs[0].shape, grad.dtype),
                          grad)
    return M.diag(grad)


def _well_conditioned(*shape, seed):
    n = shape[-1]
    return randn(*shape, seed=seed) + 3.0 * np.eye(n)


def _symmetrised_cholesky(a):
    n = a.shape[-1]
    return M.cholesky(matmul(a, a, transpose_b=True) + tv.constant(float(n) * np.eye(n), tv.float64))


@hookimpl
def register_gradients(register):
    register("MatrixInverse", _inverse_grad, batched=True, checks=[
        CheckCase(M.inv, (_well_conditioned(3, 3, seed=1),), name="(3, 3)"),
        CheckCase(lambda a: M.inv(a, adjoint=True), (_well_conditioned(2, 2, 2, seed=2),), name="(2, 2, 2) adjoint")])
    register("MatrixDeterminant", _det_grad, batched=True, checks=[
        CheckCase(M.det, (_well_conditioned(3, 3, seed=3),), name="(3, 3)"),
        CheckCase(M.det, (_well_conditioned(2, 2, 2, seed=4),), name="(2, 2, 2)")])
    register("LogMatrixDeterminant", _slogdet_grad, batched=True, checks=[
        CheckCase(lambda a: M.slogdet(a)[1], (_well_conditioned(3, 3, seed=5),), name="(3, 3)")])
    register("MatrixSolve", _solve_grad, batched=True, checks=[
        CheckCase(M.solve, (_well_conditioned(3, 3, seed=6), randn(3, 2, seed=7)), name="(3, 3) (3, 2)"),
        CheckCase(lambda a, b: M.solve(a, b, adjoint=True),
                  (_well_conditioned(2, 2, 2, seed=8), randn(2, 2, 1, seed=9)), name="(2, 2, 2) (2, 2, 1) adjoint"),
        CheckCase(M.solve, (_well_conditioned(3, 3, seed=16), randn(2, 3, 2, seed=17)), name="(3, 3) (2, 3, 2)"),
        CheckCase(lambda a, b: M.solve(a, b, adjoint=True), (_well_conditioned(2, 1, 2, 2, seed=18),
                                                              randn(3, 2, 1, seed=19)),
                  name="(2, 1, 2, 2) (3, 2, 1) adjoint")])
    register("Cholesky", _cholesky_grad, batched=True, checks=[
        CheckCase(_symmetrised_cholesky, (randn(3, 3, seed=10),), name="(3, 3)"),
        CheckCase(_symmetrised_cholesky, (randn(2, 2, 2, seed=11),), name="(2, 2, 2)")])
    register("MatrixDiagV3", _diag_grad, batched=True, needs_inputs=False, needs_outputs=False,
             checks=[CheckCase(M.diag, (randn(3, seed=12),), name="(3,)"),
                     CheckCase(M.diag, (randn(2, 3, seed=13),), name="(2, 3)")])
    register("MatrixDiagPartV3", _diag_part_grad, batched=True, needs_inputs=False, needs_outputs=False,
             checks=[CheckCase(M.diag_part, (randn(3, 3, seed=14),), name="(3, 3)"),
                     CheckCase(M.diag_part, (randn(2, 3, 3, seed=15),), name="(2, 3, 3)"),
                     CheckCase(M.diag_part, (randn(2, 3, seed=20),), name="(2, 3)"),
                     CheckCase(M.diag_part, (randn(2, 3, 2, seed=21),), name="(2, 3, 2)")])
