"""``tapeviz.linalg``, as ``tf.linalg``: matmul, norm, eye, matrix_transpose, trace."""
from tapeviz.ops.array_ops import eye, transpose
from tapeviz.ops.linalg_ops import matmul, norm
from tapeviz.ops.reduction_ops import reduce_sum
from tapeviz.ops.einsum_ops import einsum  # noqa: E402
from tapeviz.ops.matrix_ops import (  # noqa: E402
    band_part, cholesky, det, diag, diag_part, inv, logdet, set_diag, slogdet, solve, tensordot,
)
from tapeviz.ops.stat_ops import global_norm  # noqa: E402

__all__ = ["matmul", "norm", "eye", "matrix_transpose", "trace"]
__all__ += ["inv", "det", "slogdet", "logdet", "solve", "cholesky", "diag", "diag_part", "set_diag", "band_part",
            "tensordot", "einsum", "global_norm"]
from tapeviz.ops.more_math_ops import l2_normalize, matvec  # noqa: E402
from tapeviz.ops.triangular_ops import cholesky_solve, triangular_solve  # noqa: E402

__all__ += ["matvec", "l2_normalize", "triangular_solve", "cholesky_solve"]


def matrix_transpose(a, name=None, conjugate=False):
    """Swap the last two dimensions."""
    rank = len(a.shape)
    if rank < 2:
        raise ValueError(f"matrix_transpose needs a tensor of rank >= 2, got shape {list(a.shape)}.")
    return transpose(a, list(range(rank - 2)) + [rank - 1, rank - 2])


def trace(x, name=None):
    """Sum of the main diagonal of the last two dimensions; composed from ops that have gradients."""
    rows, cols = x.shape[-2:]
    return reduce_sum(x * eye(rows, cols, dtype=x.dtype), axis=(-2, -1))


def adjoint(matrix, name=None):
    """The conjugate transpose of the last two dimensions (the transpose, for real tensors)."""
    return matrix_transpose(matrix)


def cross(a, b, name=None):
    """The cross product of 3-vectors along the last dimension (leading dimensions pair up)."""
    from tapeviz.ops.array_ops import stack, unstack
    from tapeviz.ops._dispatch import binary_inputs
    a, b = binary_inputs("Cross", a, b)
    if a.shape[-1:] != (3,) or b.shape[-1:] != (3,):
        raise ValueError(f"cross needs vectors of 3 entries along the last dimension, got shapes {list(a.shape)} "
                         f"and {list(b.shape)}.")
    a0, a1, a2 = unstack(a, axis=-1)
    b0, b1, b2 = unstack(b, axis=-1)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def normalize(tensor, ord="euclidean", axis=None, name=None):  # noqa: A002 - TF's name
    """(tensor / its norm, the norm), the norm kept with the reduced dimensions: TF's composition."""
    from tapeviz.ops.array_ops import cast
    norm_value = cast(norm(tensor, ord=ord, axis=axis, keepdims=True), tensor.dtype)
    return tensor / norm_value, norm_value


__all__ += ["adjoint", "cross", "normalize"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.linalg', name)
