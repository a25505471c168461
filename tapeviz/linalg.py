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

__all__ += ["matvec", "l2_normalize"]


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


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.linalg', name)
