"""Matrix algebra for ``tf.linalg``: inv, det, slogdet, solve, cholesky, diag, diag_part, set_diag,
band_part, and ``tf.tensordot``.

Each works on the last two dimensions, with any leading (batch) dimensions, under TensorFlow's op
types (``MatrixInverse``, ``MatrixDeterminant``, ``LogMatrixDeterminant``, ``MatrixSolve``,
``Cholesky``, ``MatrixDiagV3``, ``MatrixDiagPartV3``); rules in ``tapeviz.plugins.matrix_grad``.
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute, execute_multi
from tapeviz.core.tensor import Tensor

from . import array_ops, linalg_ops
from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = ["tensordot"]


def _square(op_type, x):
    x = as_tensor(x)
    floating_only(op_type, x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op_type} needs square matrices in the last two dimensions, got shape {list(x.shape)}.")
    return x


def _inverse(a, adjoint):
    try:
        inverse = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("Input is not invertible. Check the matrix (its determinant is 0); use "
                                   "tapeviz.linalg.pinv-style regularisation (add a small multiple of eye).") from None
    return np.swapaxes(inverse, -1, -2).copy() if adjoint else inverse


def inv(input, adjoint=False, name=None):  # noqa: A002 - TF's name
    """The inverse of each square matrix (of its adjoint when ``adjoint``)."""
    return execute("MatrixInverse", _inverse, (_square("MatrixInverse", input),), {"adjoint": bool(adjoint)})


def _det(a):
    return np.linalg.det(a).astype(a.dtype)


def det(input, name=None):  # noqa: A002 - TF's name
    """The determinant of each square matrix."""
    return execute("MatrixDeterminant", _det, (_square("MatrixDeterminant", input),))


def _slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign.astype(a.dtype), logdet.astype(a.dtype)


def slogdet(input, name=None):  # noqa: A002 - TF's name
    """(sign, log|det|) of each square matrix, without overflow."""
    return tuple(execute_multi("LogMatrixDeterminant", _slogdet, (_square("LogMatrixDeterminant", input),)))


def logdet(matrix, name=None):
    """log(det(matrix)) of Hermitian positive-definite matrices, through the Cholesky factor."""
    chol = cholesky(matrix)
    from . import math_ops, reduction_ops
    return 2.0 * reduction_ops.reduce_sum(math_ops.log(diag_part(chol)), axis=-1)


def _solve(matrix, rhs, adjoint):
    if adjoint:
        matrix = np.swapaxes(matrix, -1, -2)
    try:
        return np.linalg.solve(matrix, rhs)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("Input matrix is not invertible; solve needs a non-singular matrix.") from None


def solve(matrix, rhs, adjoint=False, name=None):
    """X with matrix @ X = rhs (adjoint(matrix) @ X = rhs when ``adjoint``); rhs is [..., M, K]."""
    matrix, rhs = binary_inputs("MatrixSolve", _square("MatrixSolve", matrix), rhs)
    if rhs.ndim < 2 or rhs.shape[-2] != matrix.shape[-1]:
        raise ValueError(f"solve: rhs must be [..., {matrix.shape[-1]}, K] for a matrix of shape "
                         f"{list(matrix.shape)}, got {list(rhs.shape)} (a vector b is b[:, None]).")
    return execute("MatrixSolve", _solve, (matrix, rhs), {"adjoint": bool(adjoint)})


def _cholesky(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("Cholesky decomposition was not successful. The input might not be valid "
                                   "(it must be symmetric positive definite).") from None


def cholesky(input, name=None):  # noqa: A002 - TF's name
    """The lower-triangular L with L @ L^T = input, for symmetric positive-definite matrices."""
    return execute("Cholesky", _cholesky, (_square("Cholesky", input),))


def _matrix_diag(diagonal):
    n = diagonal.shape[-1]
    out = np.zeros(diagonal.shape + (n,), diagonal.dtype)
    out[..., np.arange(n), np.arange(n)] = diagonal
    return out


def diag(diagonal, name=None, k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"):
    """Square matrices with ``diagonal`` (its last dimension) on the main diagonal, zeros elsewhere."""
    if k != 0 or num_rows != -1 or num_cols != -1 or padding_value != 0:
        raise NotImplementedError("tapeviz's linalg.diag places the main diagonal only (k=0, default sizes and "
                                  "padding); build other bands with tapeviz.pad and multiplications by masks.")
    diagonal = as_tensor(diagonal)
    if diagonal.ndim < 1:
        raise ValueError("linalg.diag needs a tensor of rank >= 1 (the diagonal).")
    return execute("MatrixDiagV3", _matrix_diag, (diagonal,))


def _matrix_diag_part(x):
    return np.diagonal(x, axis1=-2, axis2=-1).copy()


def diag_part(input, name=None, k=0, padding_value=0, align="RIGHT_LEFT"):  # noqa: A002 - TF's name
    """The main diagonal of each matrix (the last two dimensions)."""
    if k != 0:
        raise NotImplementedError("tapeviz's linalg.diag_part reads the main diagonal only (k=0).")
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"diag_part needs a tensor of rank >= 2, got shape {list(x.shape)}.")
    return execute("MatrixDiagPartV3", _matrix_diag_part, (x,))


def set_diag(input, diagonal, name=None, k=0, align="RIGHT_LEFT"):  # noqa: A002 - TF's name
    """``input`` with its main diagonal replaced by ``diagonal``; composed, so gradients flow to both."""
    x = as_tensor(input)
    rows, cols = x.shape[-2:]
    mask = Tensor(np.eye(rows, cols, dtype=x.dtype.name))
    return x * (1 - mask) + diag(diagonal) * mask if rows == cols else x * (1 - mask) + array_ops.pad(
        diag(diagonal), [[0, 0]] * (x.ndim - 2) + [[0, rows - min(rows, cols)], [0, cols - min(rows, cols)]]) * mask


def band_part(input, num_lower, num_upper, name=None):  # noqa: A002 - TF's name
    """Zero everything outside a band: ``num_lower`` diagonals below the main one (-1: all), ``num_upper`` above."""
    x = as_tensor(input)
    rows, cols = x.shape[-2:]
    i, j = np.arange(rows)[:, None], np.arange(cols)[None, :]
    keep = ((num_lower < 0) | (i - j <= num_lower)) & ((num_upper < 0) | (j - i <= num_upper))
    return x * Tensor(keep.astype(x.dtype.name))


def tensordot(a, b, axes, name=None):
    """Sum of products over ``axes`` (an int: the last n of a with the first n of b; or two lists), as TF
    composes it: transpose, reshape, one matmul, reshape."""
    a, b = binary_inputs("MatMul", a, b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} must be between 0 and the smaller rank ({min(a.ndim, b.ndim)}).")
        a_axes, b_axes = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
        a_axes, b_axes = [int(x) % a.ndim for x in a_axes], [int(x) % b.ndim for x in b_axes]
    if len(a_axes) != len(b_axes) or any(a.shape[i] != b.shape[j] for i, j in zip(a_axes, b_axes)):
        raise ValueError(f"tensordot: the contracted dimensions must match, got {[a.shape[i] for i in a_axes]} of a "
                         f"{list(a.shape)} and {[b.shape[j] for j in b_axes]} of b {list(b.shape)}.")
    a_free = [i for i in range(a.ndim) if i not in a_axes]
    b_free = [j for j in range(b.ndim) if j not in b_axes]
    contracted = int(np.prod([a.shape[i] for i in a_axes]))
    a2 = array_ops.reshape(array_ops.transpose(a, a_free + a_axes), (-1, contracted))
    b2 = array_ops.reshape(array_ops.transpose(b, b_axes + b_free), (contracted, -1))
    product = linalg_ops.matmul(a2, b2)
    return array_ops.reshape(product, [a.shape[i] for i in a_free] + [b.shape[j] for j in b_free])
