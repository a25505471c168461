"""Matrix multiplication, norms and clipping by norm.

``matmul`` is the one op here (MatMul, or BatchMatMulV2 for rank > 2, as TF names them); norm and
clip_by_norm are composed from other ops as TF composes them, so their gradients of every order
come from those ops' rules. Gradient rules live in ``tapeviz.plugins.linalg_grad``.
"""
import numpy as np

from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from . import array_ops, math_ops, reduction_ops
from ._dispatch import as_tensor, binary_inputs
from .operators import install

__all__ = ["matmul", "norm", "clip_by_norm"]

# Up to this many multiply-adds a float32 product is accumulated in float64 and rounded once: exactly
# rounded whatever the BLAS kernel, so small results print as TensorFlow prints them. Above it, BLAS speed.
EXACT_FLOAT32_MAX = 65536


def _swap(x):
    return x.T if x.ndim == 2 else np.swapaxes(x, -1, -2)


def _product(a, b):
    kind = a.dtype.char
    # Multiply-adds are batch * m * k * n; either operand's size times the other's free dimension bounds it.
    if kind == "f" and max(a.size * b.shape[-1], b.size * a.shape[-2]) <= EXACT_FLOAT32_MAX:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
    if kind == "e":  # float16 accumulates in float32, as TF's kernels do
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.float16)
    return np.matmul(a, b)


def _matmul(a, b, transpose_a, transpose_b):
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(_size_error(a, b, a, b, transpose_a, transpose_b))
    a_t, b_t = (_swap(a) if transpose_a else a), (_swap(b) if transpose_b else b)
    try:
        return _product(a_t, b_t)
    except ValueError:  # numpy's message names no operand; ours says which dimensions disagree
        raise ValueError(_size_error(a, b, a_t, b_t, transpose_a, transpose_b)) from None


def _batch_matmul(a, b, adj_x, adj_y):
    return _matmul(a, b, adj_x, adj_y)


def _size_error(a, b, a_t, b_t, transpose_a, transpose_b):
    shapes = f"In[0]: [{','.join(map(str, a.shape))}], In[1]: [{','.join(map(str, b.shape))}]"
    if a.ndim < 2 or b.ndim < 2:
        return (f"Matrix size-incompatible: {shapes}. matmul needs tensors of rank >= 2; reshape a vector v "
                "to a row [1, n] (tapeviz.reshape(v, (1, -1))) or a column [n, 1] first.")
    if a_t.shape[-1] != b_t.shape[-2]:
        return (f"Matrix size-incompatible: {shapes}. The inner dimensions must agree: a has {a_t.shape[-1]} "
                f"columns{' after transpose_a' if transpose_a else ''} but b has {b_t.shape[-2]} rows"
                f"{' after transpose_b' if transpose_b else ''}; transpose an operand (transpose_a/transpose_b) "
                "or fix its shape.")
    return (f"Matrix size-incompatible: {shapes}. The batch dimensions {list(a.shape[:-2])} and "
            f"{list(b.shape[:-2])} do not broadcast.")


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, name=None, **unused):
    """The matrix product a @ b of the last two dimensions; leading (batch) dimensions broadcast."""
    if type(a) is not Tensor or type(b) is not Tensor or a._value.dtype is not b._value.dtype:
        a, b = binary_inputs("MatMul", a, b)
    flags = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    if a._value.ndim > 2 or b._value.ndim > 2:
        return execute("BatchMatMulV2", _batch_matmul, (a, b), _BATCH_ATTRS[flags])
    return execute("MatMul", _matmul, (a, b), _MATMUL_ATTRS[flags])


# One shared attrs dict per flag pair (attrs are read-only once recorded): a dict per call is measurable
# in a training step's dozens of products.
_FLAG_PAIRS = [(ta, tb) for ta in (False, True) for tb in (False, True)]
_MATMUL_ATTRS = {(ta, tb): {"transpose_a": ta, "transpose_b": tb} for ta, tb in _FLAG_PAIRS}
_BATCH_ATTRS = {(ta, tb): {"adj_x": ta, "adj_y": tb} for ta, tb in _FLAG_PAIRS}


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):  # noqa: A002 - TF's name
    """Vector norms (ord 'euclidean', 1, 2, np.inf or any p > 0) over ``axis``, or matrix norms over a
    pair of axes ('fro'/'euclidean', 1, np.inf), as tf.norm; None axis means all entries as one vector."""
    x = as_tensor(tensor)
    axes = None if axis is None else reduction_ops._axis(axis)
    if axes is not None and len(axes) == 2:
        result = _matrix_norm(x, ord, axes)
    elif axes is None or len(axes) == 1:
        result = _vector_norm(x, ord, axes)
    else:
        raise ValueError(f"norm's axis must be None, an int or a pair of ints, got {axis!r}.")
    if keepdims:
        reduced = range(x.ndim) if axes is None else [a % x.ndim for a in axes]
        result = array_ops.reshape(result, [1 if i in reduced else n for i, n in enumerate(x.shape)])
    return result


def _vector_norm(x, ord, axes):
    if ord in ("euclidean", 2, 2.0, "fro"):
        return math_ops.sqrt(reduction_ops.reduce_sum(x * x, axis=axes))
    if ord == np.inf:
        return reduction_ops.reduce_max(math_ops.abs(x), axis=axes)
    if isinstance(ord, (int, float)) and ord > 0:
        if ord == 1:
            return reduction_ops.reduce_sum(math_ops.abs(x), axis=axes)
        return reduction_ops.reduce_sum(math_ops.abs(x) ** float(ord), axis=axes) ** (1.0 / ord)
    raise ValueError(f"norm's ord must be 'euclidean', 'fro', a number > 0 or np.inf, got {ord!r}.")


def _matrix_norm(x, ord, axes):
    rows, cols = (a % x.ndim for a in axes)
    if ord in ("euclidean", "fro"):
        return math_ops.sqrt(reduction_ops.reduce_sum(x * x, axis=axes))
    if ord == 1:  # the largest column sum
        return reduction_ops.reduce_max(reduction_ops.reduce_sum(math_ops.abs(x), axis=rows, keepdims=True),
                                        axis=axes)
    if ord == np.inf:  # the largest row sum
        return reduction_ops.reduce_max(reduction_ops.reduce_sum(math_ops.abs(x), axis=cols, keepdims=True),
                                        axis=axes)
    raise ValueError(f"Matrix norms (axis={list(axes)}) support ord 'euclidean', 'fro', 1 and np.inf, got {ord!r}; "
                     "the spectral norm (ord=2) is not implemented.")


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t`` scaled so that its L2 norm over ``axes`` is at most ``clip_norm``; TF's composition, which keeps
    the gradient finite where the norm is 0."""
    t = as_tensor(t)
    clip_norm = array_ops.cast(clip_norm, t.dtype)
    l2sum = reduction_ops.reduce_sum(t * t, axis=axes, keepdims=True)
    positive = l2sum > 0
    l2sum_safe = array_ops.where(positive, l2sum, array_ops.ones_like(l2sum))
    l2norm = array_ops.where(positive, math_ops.sqrt(l2sum_safe), l2sum)
    return array_ops.identity(t * clip_norm / math_ops.maximum(l2norm, clip_norm))


install("matmul", matmul)
