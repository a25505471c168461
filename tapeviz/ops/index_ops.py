"""Indexing, ordering and sampling ops: ``gather_nd``, ``scatter_nd``, ``math.top_k``, ``sort``,
``argsort``, ``repeat``, ``meshgrid``, ``random.categorical``.

``GatherNd``, ``ScatterNd`` and ``TopKV2`` are ops (rules in ``tapeviz.plugins.index_grad``);
``sort`` and ``argsort`` are ``top_k`` over the whole axis, as in TensorFlow (argsort's int32 indices
carry no gradient but stay linked to the values, so a loss built from them is explained), and
``repeat`` and ``meshgrid`` are composed from other ops, so gradients flow through all of them.
"""
from collections import namedtuple

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute, execute_multi
from tapeviz.core.tensor import Tensor

from . import array_ops, random_ops
from .math_ops import logical_not
from ._dispatch import as_tensor

__all__ = ["gather_nd", "scatter_nd", "sort", "argsort", "repeat", "meshgrid"]

TopKV2 = namedtuple("TopKV2", ["values", "indices"])


def _integer_indices(op_type, indices):
    indices = as_tensor(indices)
    if indices.dtype.name not in ("int32", "int64"):
        raise TypeError(f"{op_type} needs int32 or int64 indices, got {indices.dtype.name}; cast them with "
                        "tapeviz.cast(indices, tapeviz.int32).")
    return indices


def _gather_nd(params, indices):
    depth = indices.shape[-1]
    if depth > params.ndim:
        raise ValueError(f"index innermost dimension length ({depth}) must be <= the params rank ({params.ndim}).")
    limits = np.asarray(params.shape[:depth])
    bad = np.any((indices < 0) | (indices >= limits), axis=-1)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidArgumentError(f"indices{list(where)} = {indices[where].tolist()} does not index into param "
                                   f"shape {list(params.shape)}.")
    return params[tuple(np.moveaxis(indices, -1, 0))]


def gather_nd(params, indices, batch_dims=0, name=None):
    """params[indices[..., 0], indices[..., 1], ...]: each innermost index vector picks an element or slice."""
    if batch_dims:
        raise NotImplementedError("gather_nd with batch_dims != 0 is not supported; add the batch index to "
                                  "each index vector instead.")
    params, indices = as_tensor(params), _integer_indices("GatherNd", indices)
    return execute("GatherNd", _gather_nd, (params, indices))


def _scatter_nd(indices, updates, shape):
    out = np.zeros(shape, updates.dtype)
    depth = indices.shape[-1]
    limits = np.asarray(shape[:depth])
    if np.any((indices < 0) | (indices >= limits)):
        raise InvalidArgumentError(f"indices has an entry outside the output shape {list(shape)}.")
    np.add.at(out, tuple(np.moveaxis(indices, -1, 0)), updates)  # repeated indices add up, as in TF
    return out


def scatter_nd(indices, updates, shape, name=None):
    """Zeros of ``shape`` with ``updates`` added at ``indices`` (repeated indices accumulate)."""
    indices, updates = _integer_indices("ScatterNd", indices), as_tensor(updates)
    shape = tuple(int(n) for n in (shape.numpy() if isinstance(shape, Tensor) else shape))
    return execute("ScatterNd", _scatter_nd, (indices, updates), {"shape": shape})


def _top_k(x, k, sorted):  # noqa: A002 - TF's attribute name
    if k > x.shape[-1]:
        raise ValueError(f"input must have at least k={k} columns, got {x.shape[-1]}.")
    # A stable sort of the negated values: ties keep their order (lower index first), as TF's kernel.
    indices = np.argsort(-x if x.dtype.kind != "b" else ~x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, indices, axis=-1), indices.astype(np.int32)


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):  # noqa: A002 - TF's names
    """The ``k`` largest entries of the last dimension and their indices (ties: the lower index first)."""
    x = as_tensor(input)
    if x.ndim == 0:
        raise ValueError("top_k needs a tensor of rank >= 1.")
    values, indices = execute_multi("TopKV2", _top_k, (x,), {"k": int(k), "sorted": bool(sorted)})
    if dtypes.as_dtype(index_type).name != "int32":
        indices = array_ops.cast(indices, index_type)
    return TopKV2(values, indices)


def _last_axis(x, axis):
    axis = int(axis) % x.ndim
    if axis == x.ndim - 1:
        return x, None
    perm = list(range(x.ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return array_ops.transpose(x, perm), perm


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """``values`` sorted along ``axis``; through top_k, so the gradient goes back to where each value came from."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}.")
    x, perm = _last_axis(as_tensor(values), axis)
    n = x.shape[-1]
    result = top_k(x, n).values if direction == "DESCENDING" else -top_k(-x, n).values
    return result if perm is None else array_ops.transpose(result, perm)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The int32 indices that sort ``values`` along ``axis`` (equal values keep their order)."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}.")
    x = as_tensor(values)
    if x.ndim == 0:
        raise ValueError("argsort needs a tensor of rank >= 1.")
    # TF's composition: TopKV2 over the whole axis (of the negated values when ascending), moved to the
    # last axis and back. Its indices stay linked to the values, so a loss built from them is explained by
    # the int32 indices, not as a loss that does not use the model. top_k's stable sort of -(-x) is
    # numpy's stable argsort of x: the same order as before, ties lower index first.
    if not -x.ndim <= int(axis) < x.ndim:
        raise InvalidArgumentError(f"axis {int(axis)} is out of range for a tensor of rank {x.ndim}; pass an axis "
                                   f"in [-{x.ndim}, {x.ndim}).")
    x, perm = _last_axis(x, axis)
    if direction == "DESCENDING":
        keys = x
    else:  # bools have no Neg: False first is True first of their negation
        keys = logical_not(x) if x.dtype.is_bool else -x
    indices = top_k(keys, keys.shape[-1]).indices
    return indices if perm is None else array_ops.transpose(indices, perm)


def repeat(input, repeats, axis=None, name=None):  # noqa: A002 - TF's name
    """Each element (or slice along ``axis``) repeated ``repeats`` times; ``axis=None`` flattens first."""
    x = as_tensor(input)
    if axis is None:
        x, axis = array_ops.reshape(x, [-1]), 0
    axis = int(axis) % max(x.ndim, 1)
    counts = np.asarray(repeats._value if isinstance(repeats, Tensor) else repeats)
    if counts.ndim == 0:
        counts = np.full(x.shape[axis], int(counts))
    if counts.shape != (x.shape[axis],):
        raise ValueError(f"repeats must be a scalar or have one entry per element along axis {axis} "
                         f"({x.shape[axis]}), got shape {list(counts.shape)}.")
    return array_ops.gather(x, Tensor(np.repeat(np.arange(x.shape[axis]), counts).astype(np.int64)), axis=axis)


def meshgrid(*args, indexing="xy", name=None):
    """Coordinate grids from 1-D tensors (``indexing='xy'`` swaps the first two outputs' axes, as numpy)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij', got {indexing!r}.")
    tensors = [array_ops.reshape(as_tensor(a), [-1]) for a in args]
    sizes = [t.shape[0] for t in tensors]
    if indexing == "xy" and len(tensors) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    outputs = []
    for i, t in enumerate(tensors):
        axis = (1 - i if i < 2 else i) if indexing == "xy" and len(tensors) > 1 else i
        shape = [1] * len(tensors)
        shape[axis] = -1
        outputs.append(array_ops.broadcast_to(array_ops.reshape(t, shape), sizes))
    return outputs


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """``num_samples`` class indices per row of ``logits`` (unnormalised log-probabilities); int64.

    Reproducible with a seed or after tf.random.set_seed, but not TensorFlow's draws.
    """
    logits = as_tensor(logits)
    if logits._value.ndim != 2:
        raise ValueError(f"logits must be 2-D [batch_size, num_classes], got shape {list(logits._value.shape)}.")
    rng = random_ops._generator(seed)

    def draw(values, num_samples, output_dtype):
        shifted = values - values.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted.astype(np.float64))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        cumulative = np.cumsum(probabilities, axis=1)
        draws = rng.random((values.shape[0], num_samples))
        samples = np.minimum((draws[:, :, None] > cumulative[:, None, :]).sum(axis=2), values.shape[1] - 1)
        return samples.astype(output_dtype)

    # An op (TF's Multinomial, not differentiable): the samples stay linked to the logits, so a loss
    # written with the sampled actions instead of their log-probabilities is explained as such.
    attrs = {"num_samples": int(num_samples), "output_dtype": dtypes.as_dtype(dtype or dtypes.int64).name}
    return execute("Multinomial", draw, (logits,), attrs)
