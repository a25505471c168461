"""More element-wise and reducing math: ``math.atan2``, ``xlogy`` / ``xdivy``, ``nn.softsign``,
``math.reduce_euclidean_norm``, ``math.cumulative_logsumexp``, ``math.l2_normalize`` and
``linalg.matvec``.

``Atan2``, ``Xlogy``, ``Xdivy``, ``Softsign``, ``EuclideanNorm`` and ``CumulativeLogsumexp`` are ops
under TensorFlow's op-type names (rules in ``tapeviz.plugins.more_math_grad``); ``l2_normalize``
and ``matvec`` are composed of other ops as TensorFlow composes them, so gradients come for free.
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from . import array_ops, linalg_ops, math_ops, reduction_ops
from ._dispatch import as_tensor, binary, binary_inputs, floating_only, not_allowed

__all__ = []


def _floating_binary(op_type, forward):
    """An element-wise op of two operands that TF defines on floating types only."""
    op = binary(op_type, forward)

    def floating_op(x, y, name=None):
        x, y = binary_inputs(op_type, x, y)
        if x._value.dtype.kind != "f":
            raise not_allowed(op_type, x, "bfloat16, half, float, double")
        return op(x, y)
    floating_op.__name__ = op_type
    floating_op.__doc__ = op.__doc__
    return floating_op


def _xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, np.zeros((), x.dtype), x * np.log(y)).astype(x.dtype)


def _xdivy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, np.zeros((), x.dtype), x / y).astype(x.dtype)


atan2 = _floating_binary("Atan2", np.arctan2)
atan2.__doc__ = "The angle of the point (x, y): ``atan2(y, x)``, element-wise (op Atan2)."
xlogy = _floating_binary("Xlogy", _xlogy)
xlogy.__doc__ = "x * log(y), and 0 where x is 0 (even where y is 0), element-wise (op Xlogy)."
xdivy = _floating_binary("Xdivy", _xdivy)
xdivy.__doc__ = "x / y, and 0 where x is 0 (even where y is 0), element-wise (op Xdivy)."


def _mul_no_nan(x, y):
    with np.errstate(invalid="ignore"):
        return np.where(y == 0, np.zeros((), x.dtype), x * y).astype(x.dtype)


multiply_no_nan = _floating_binary("MulNoNan", _mul_no_nan)
multiply_no_nan.__doc__ = "x * y, and 0 where y is 0 (even where x is inf or nan), element-wise (op MulNoNan)."


def reciprocal_no_nan(x, name=None):
    """1 / x, and 0 where x is 0: TF's composition, div_no_nan(1, x)."""
    from .stat_ops import divide_no_nan
    x = as_tensor(x)
    return divide_no_nan(Tensor(np.ones((), x._value.dtype)), x)


def _softsign(x):
    return x / (1 + np.abs(x))


def softsign(features, name=None):
    """features / (1 + |features|) (op Softsign)."""
    x = as_tensor(features)
    floating_only("Softsign", x)
    return execute("Softsign", _softsign, (x,))


def _euclidean_norm(x, axis, keep_dims):
    # Squares summed in float64 for float16/float32 would differ from TF's float32 sums in the last
    # digit; numpy's pairwise sum in the input's dtype is what TF's reduction does.
    return np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keep_dims)).astype(x.dtype)


def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x ** 2)) over ``axis`` (all axes when None) (op EuclideanNorm)."""
    x = as_tensor(input_tensor)
    if x.dtype.is_bool:
        raise not_allowed("EuclideanNorm", x, "numeric types")
    rank = max(x.ndim, 1)
    axes = list(range(x.ndim)) if axis is None else [
        int(a) for a in np.asarray(axis._value if isinstance(axis, Tensor) else axis).reshape(-1)]
    for a in axes:
        if not -rank <= a < rank:
            raise InvalidArgumentError(f"Invalid reduction dimension ({a} for input with {x.ndim} dimension(s) "
                                       f"[Op:EuclideanNorm]; pass an axis in [-{rank}, {rank}).")
    return execute("EuclideanNorm", _euclidean_norm, (x,),
                   {"axis": tuple(sorted({a % rank for a in axes})), "keep_dims": bool(keepdims)})


def _cumulative_logsumexp(x, axis, exclusive, reverse):
    if reverse:
        x = np.flip(x, axis)
    with np.errstate(invalid="ignore"):  # -inf + -inf: logaddexp gives -inf, numpy warns
        out = np.logaddexp.accumulate(x, axis=axis, dtype=x.dtype)
    if exclusive:
        lowest = np.full_like(np.take(out, [0], axis=axis), -np.inf)
        out = np.concatenate([lowest, np.delete(out, -1, axis=axis)], axis=axis)
    return np.ascontiguousarray(np.flip(out, axis) if reverse else out)


def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    """log(cumsum(exp(x))) along ``axis``, computed without overflow (op CumulativeLogsumexp);
    ``exclusive`` and ``reverse`` as in ``cumsum`` (an exclusive first entry is -inf)."""
    x = as_tensor(x)
    floating_only("CumulativeLogsumexp", x)
    if x.ndim == 0:
        raise InvalidArgumentError("CumulativeLogsumexp needs a tensor of rank >= 1, got a scalar "
                                             "[Op:CumulativeLogsumexp]; reshape it to [1] first.")
    axis = int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise InvalidArgumentError(f"CumulativeLogsumexp: axis {axis} is out of range for a tensor of "
                                             f"rank {x.ndim} [Op:CumulativeLogsumexp].")
    return execute("CumulativeLogsumexp", _cumulative_logsumexp, (x,),
                   {"axis": axis % x.ndim, "exclusive": bool(exclusive), "reverse": bool(reverse)})


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2), epsilon)) over ``axis`` (all axes when None): TF's composition."""
    x = as_tensor(x)
    floating_only("l2_normalize", x)
    axis = dim if axis is None else axis
    square_sum = reduction_ops.reduce_sum(math_ops.square(x), axis=axis, keepdims=True)
    inverse_norm = math_ops.rsqrt(math_ops.maximum(square_sum, epsilon))
    return math_ops.multiply(x, inverse_norm)


def matvec(a, b, transpose_a=False, adjoint_a=False, a_is_sparse=False, b_is_sparse=False, name=None):
    """The matrix-vector product of the last two dimensions of ``a`` with the last of ``b``: TF's
    composition, ``squeeze(matmul(a, expand_dims(b, -1)), -1)``; leading dimensions broadcast."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim < 2 or b.ndim < 1:
        raise ValueError(f"matvec needs a matrix (rank >= 2) and a vector (rank >= 1), got shapes {list(a.shape)} "
                         f"and {list(b.shape)}; use tapeviz.matmul for two matrices.")
    product = linalg_ops.matmul(a, array_ops.expand_dims(b, -1), transpose_a=transpose_a, adjoint_a=adjoint_a)
    return array_ops.squeeze(product, axis=-1)
