"""Triangular solves: ``linalg.triangular_solve`` (TF's ``MatrixTriangularSolve`` op, rule in
``tapeviz.plugins.triangular_grad``) and ``linalg.cholesky_solve``, composed of two of them as in TF.

Only the named triangle of the matrix is read, as in TF: the other one may hold anything.
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute

from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = []


def _triangular_solve(matrix, rhs, lower, adjoint):
    triangle = np.tril(matrix) if lower else np.triu(matrix)
    if adjoint:
        triangle = np.swapaxes(triangle, -1, -2)
    diagonal = np.diagonal(matrix, axis1=-2, axis2=-1)
    if np.any(diagonal == 0):
        raise ValueError("Input matrix is not invertible: a triangular matrix with a zero on its diagonal; "
                         "triangular_solve needs a non-zero diagonal.")
    return np.linalg.solve(triangle, rhs).astype(rhs.dtype)


def triangular_solve(matrix, rhs, lower=True, adjoint=False, name=None):
    """X with T @ X = rhs, T the lower (or upper) triangle of ``matrix`` (its adjoint when ``adjoint``);
    ``rhs`` is [..., M, K] and leading dimensions broadcast."""
    matrix, rhs = binary_inputs("MatrixTriangularSolve", matrix, rhs)
    floating_only("MatrixTriangularSolve", matrix)
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise InvalidArgumentError(f"Input matrix must be square, got shape {list(matrix.shape)} "
                                   "[Op:MatrixTriangularSolve]; pass [..., M, M].")
    if rhs.ndim < 2 or rhs.shape[-2] != matrix.shape[-1]:
        raise InvalidArgumentError(f"Input matrix and right-hand side must have the same number of rows: "
                                   f"{list(matrix.shape)} vs. {list(rhs.shape)} [Op:MatrixTriangularSolve]; a vector "
                                   "b is b[:, None].")
    return execute("MatrixTriangularSolve", _triangular_solve, (matrix, rhs),
                   {"lower": bool(lower), "adjoint": bool(adjoint)})


def cholesky_solve(chol, rhs, name=None):
    """X with A @ X = rhs, given ``chol`` = cholesky(A): two triangular solves, as TF composes it."""
    chol = as_tensor(chol)
    y = triangular_solve(chol, rhs, lower=True, adjoint=False)
    return triangular_solve(chol, y, lower=True, adjoint=True)
