"""Selection and rearrangement ops beside ``gather``: ``tensor_scatter_nd_update`` / ``_add`` / ``_sub``,
``roll``, ``gather`` with ``batch_dims``, and the integer-valued ``unique``, ``math.bincount`` and
``searchsorted``.

``TensorScatterUpdate``, ``TensorScatterAdd``, ``TensorScatterSub`` and ``Roll`` are ops under
TensorFlow's names (rules in ``tapeviz.plugins.selection_grad``); a batched gather is composed of
reshapes, transposes and one ``GatherV2``, so its gradient comes for free. ``Unique``,
``DenseBincount``, ``LowerBound`` and ``UpperBound`` have no gradient, as in TF.
"""
from collections import namedtuple

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute, execute_multi
from tapeviz.core.tensor import Tensor

from . import array_ops
from ._dispatch import as_tensor, binary_inputs

__all__ = []

Unique = namedtuple("Unique", ["y", "idx"])
UniqueWithCounts = namedtuple("UniqueWithCounts", ["y", "idx", "count"])


# Scatter into a copy ------------------------------------------------------------------------------------------
def _check_scatter(tensor, indices, updates):
    depth = indices.shape[-1] if indices.ndim else 0
    expected = tuple(indices.shape[:-1]) + tuple(tensor.shape[depth:])
    if depth > tensor.ndim or tuple(updates.shape) != expected:
        raise ValueError(f"Inner dimensions of output shape must match inner dimensions of updates shape. Output: "
                         f"{list(tensor.shape)} updates: {list(updates.shape)}; updates must have shape "
                         f"indices.shape[:-1] + tensor.shape[indices.shape[-1]:] = {list(expected)}.")
    limits = np.asarray(tensor.shape[:depth])
    bad = np.any((indices < 0) | (indices >= limits), axis=-1)
    if np.any(bad):
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"indices{list(where)} = {indices[where].tolist()} does not index into shape "
                         f"{list(tensor.shape)}.")
    return tuple(np.moveaxis(indices, -1, 0))


def _scatter_update(tensor, indices, updates):
    out = np.array(tensor)
    out[_check_scatter(tensor, indices, updates)] = updates  # repeated indices: the last update wins
    return out


def _scatter_add(tensor, indices, updates):
    out = np.array(tensor)
    np.add.at(out, _check_scatter(tensor, indices, updates), updates)  # repeated indices add up
    return out


def _scatter_sub(tensor, indices, updates):
    out = np.array(tensor)
    np.subtract.at(out, _check_scatter(tensor, indices, updates), updates)
    return out


def _tensor_scatter(op_type, forward):
    def op(tensor, indices, updates, name=None):
        indices = as_tensor(indices)
        if indices.dtype.name not in ("int32", "int64"):
            raise TypeError(f"{op_type} needs int32 or int64 indices, got {indices.dtype.name}; cast them with "
                            "tapeviz.cast(indices, tapeviz.int32).")
        tensor, updates = binary_inputs(op_type, tensor, updates)
        return execute(op_type, forward, (tensor, indices, updates))
    op.__name__ = op_type
    return op


tensor_scatter_nd_update = _tensor_scatter("TensorScatterUpdate", _scatter_update)
tensor_scatter_nd_update.__doc__ = "A copy of ``tensor`` with ``updates`` written at ``indices`` (op TensorScatterUpdate)."
tensor_scatter_nd_add = _tensor_scatter("TensorScatterAdd", _scatter_add)
tensor_scatter_nd_add.__doc__ = "A copy of ``tensor`` with ``updates`` added at ``indices`` (op TensorScatterAdd)."
tensor_scatter_nd_sub = _tensor_scatter("TensorScatterSub", _scatter_sub)
tensor_scatter_nd_sub.__doc__ = "A copy of ``tensor`` with ``updates`` subtracted at ``indices`` (op TensorScatterSub)."


# Roll -----------------------------------------------------------------------------------------------------------
def _roll(x, shift, axis):
    return np.roll(x, shift, axis)


def roll(input, shift, axis, name=None):  # noqa: A002 - TF's name
    """``input`` with its entries moved ``shift`` places along each of ``axis``, wrapping around (op Roll)."""
    x = as_tensor(input)
    shifts = [int(s) for s in np.asarray(shift._value if isinstance(shift, Tensor) else shift).reshape(-1)]
    axes = [int(a) for a in np.asarray(axis._value if isinstance(axis, Tensor) else axis).reshape(-1)]
    if len(shifts) != len(axes):
        raise InvalidArgumentError(f"shift and axis must have the same size [Op:Roll]: {len(shifts)} shifts for "
                                   f"{len(axes)} axes; give one shift per axis.")
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise InvalidArgumentError(f"axis {a} is out of range for a tensor of rank {x.ndim} [Op:Roll].")
    return execute("Roll", _roll, (x,), {"shift": tuple(shifts), "axis": tuple(a % x.ndim for a in axes)})


# gather with batch_dims ---------------------------------------------------------------------------------------
def batch_gather(params, indices, axis, batch_dims):
    """tf.gather with ``batch_dims`` leading dimensions shared by params and indices: params' rows are
    flattened with their batch position, so one GatherV2 picks every batch's entries."""
    params, indices = as_tensor(params), as_tensor(indices)
    if batch_dims < 0:
        batch_dims += indices.ndim
    axis = batch_dims if axis is None else int(axis) % max(params.ndim, 1)
    if not 0 <= batch_dims <= indices.ndim or batch_dims > axis:
        raise ValueError(f"batch_dims ({batch_dims}) must be in [0, rank(indices) = {indices.ndim}] and at most "
                         f"axis ({axis}).")
    for i in range(batch_dims):
        if params.shape[i] != indices.shape[i]:
            raise InvalidArgumentError(f"params.shape[{i}]: {params.shape[i]} should be equal to indices.shape[{i}]: "
                                       f"{indices.shape[i]} [Op:GatherV2]; batch_dims dimensions must match.")
    size = params.shape[axis]
    values = indices._value
    bad = np.argwhere((values < 0) | (values >= size))
    if bad.size:
        where = tuple(int(i) for i in bad[0])
        raise InvalidArgumentError(f"indices{list(where)} = {values[where]} is not in [0, {size}) [Op:GatherV2].")
    batch_shape = tuple(params.shape[:batch_dims])
    batch = int(np.prod(batch_shape, dtype=np.int64))
    # Move the gathered axis next to the batch dimensions: params -> [batch, size, middle..., rest...].
    middle = list(range(batch_dims, axis))
    perm = list(range(batch_dims)) + [axis] + middle + list(range(axis + 1, params.ndim))
    moved = array_ops.transpose(params, perm) if perm != list(range(params.ndim)) else params
    tail = tuple(moved.shape[batch_dims + 1:])
    flat = array_ops.reshape(moved, (batch * size,) + tail)
    index_shape = tuple(indices.shape[batch_dims:])
    offsets = (np.arange(batch, dtype=values.dtype) * size).reshape((batch,) + (1,) * len(index_shape))
    # Ops (Reshape, AddV2), not a new constant: indices computed from the model (an argmax) stay linked
    # to the result, so a loss through them is explained by the argmax.
    flat_indices = array_ops.reshape(indices, (batch,) + index_shape) + Tensor(offsets)
    picked = array_ops.gather(flat, flat_indices)  # [batch, index..., middle..., rest...]
    picked = array_ops.reshape(picked, batch_shape + index_shape + tail)
    if not middle:
        return picked
    # TF's order is [batch..., middle..., index..., rest...].
    b, n, m = batch_dims, len(index_shape), len(middle)
    order = list(range(b)) + list(range(b + n, b + n + m)) + list(range(b, b + n)) + list(
        range(b + n + m, picked.ndim))
    return array_ops.transpose(picked, order)


# Integer-valued results -----------------------------------------------------------------------------------------
def _unique(x, out_idx):
    values, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    order = np.argsort(first, kind="stable")  # TF lists values in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return values[order], rank[inverse.reshape(-1)].astype(out_idx), counts[order].astype(out_idx)


def _vector(op_type, x):
    x = as_tensor(x)
    if x.ndim != 1:
        raise InvalidArgumentError(f"unique expects a 1D vector. [Op:{op_type}] Got shape {list(x.shape)}: "
                                   "reshape it with tapeviz.reshape(x, [-1]) first.")
    return x


def unique(x, out_idx=dtypes.int32, name=None):
    """The distinct values of a vector in order of first appearance, and each entry's position among them."""
    y, idx, _ = execute_multi("Unique", _unique, (_vector("Unique", x),), {"out_idx": dtypes.as_dtype(out_idx).name})
    return Unique(y, idx)


def unique_with_counts(x, out_idx=dtypes.int32, name=None):
    """``unique``'s values and positions, and how often each value occurs."""
    return UniqueWithCounts(*execute_multi("UniqueWithCounts", _unique, (_vector("UniqueWithCounts", x),),
                                           {"out_idx": dtypes.as_dtype(out_idx).name}))


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=dtypes.int32, name=None, axis=None,
             binary_output=False):
    """How often each value 0, 1, ... occurs in the non-negative integers ``arr`` (or the sum of their
    ``weights``); ``axis=-1`` counts each row of a 2-D ``arr`` separately. With weights it is TF's
    DenseBincount op, which has no gradient (a LookupError if one is asked for, as in TF)."""
    arr = as_tensor(arr)
    if arr.dtype.name not in ("int32", "int64"):
        raise TypeError(f"bincount counts int32 or int64 values, got {arr.dtype.name}; cast arr with "
                        "tapeviz.cast(arr, tapeviz.int32).")
    values = arr._value
    if values.size and values.min() < 0:
        raise InvalidArgumentError("Input arr must be non-negative! [Op:DenseBincount]: bincount counts the values "
                                   "0, 1, ...; drop or shift the negative entries.")
    length = int(values.max()) + 1 if values.size else 0
    length = max(length, int(minlength)) if minlength is not None else length
    length = min(length, int(maxlength)) if maxlength is not None else length
    per_row = axis is not None and int(axis) in (-1, 1) and values.ndim == 2
    if axis is not None and not per_row and int(axis) != 0:
        raise ValueError(f"bincount supports axis=None (count every value) or axis=-1 (count each row of a 2-D "
                         f"arr), got axis={axis}.")
    attrs = {"size": length, "binary_output": bool(binary_output), "per_row": per_row}
    if weights is None:
        # The op DenseBincount with no weights, as in TF: the counts stay linked to ``arr``, so counts of
        # argmax(logits) in a loss are explained by the argmax.
        return execute("DenseBincount", _unweighted_bincount, (arr,),
                       dict(attrs, output_dtype=dtypes.as_dtype(dtype).name))
    weights = as_tensor(weights)
    if tuple(weights.shape) != tuple(arr.shape):
        raise InvalidArgumentError(f"weights {list(weights.shape)} must have the shape of arr {list(arr.shape)} "
                                   "[Op:DenseBincount]: one weight per value.")
    return execute("DenseBincount", _bincount, (arr, weights), attrs)


def _unweighted_bincount(values, size, binary_output, per_row, output_dtype):
    return _bincount(values, None, size, binary_output, per_row).astype(output_dtype)


def _bincount(values, weights, size, binary_output, per_row):
    dtype = values.dtype if weights is None else weights.dtype
    if per_row:
        rows = [_count(row, None if weights is None else weights[i], size, binary_output)
                for i, row in enumerate(values)]
        return np.stack(rows).astype(dtype) if rows else np.zeros((0, size), dtype)
    flat_weights = None if weights is None else weights.reshape(-1)
    return _count(values.reshape(-1), flat_weights, size, binary_output).astype(dtype)


def _count(values, weights, length, binary_output):
    kept = values < length
    counts = np.bincount(values[kept], weights=None if weights is None else weights[kept], minlength=length)
    return (counts > 0).astype(counts.dtype) if binary_output else counts


def _searchsorted(sorted_sequence, values, side, out_type):
    rows = sorted_sequence.reshape(-1, sorted_sequence.shape[-1])
    wanted = values.reshape(rows.shape[0], -1) if values.size else values.reshape(rows.shape[0], 0)
    found = np.stack([np.searchsorted(row, row_values, side=side) for row, row_values in zip(rows, wanted)])
    return found.reshape(values.shape).astype(out_type)


def searchsorted(sorted_sequence, values, side="left", out_type=dtypes.int32, name=None):
    """Where each of ``values`` would go in each row of ``sorted_sequence`` (the last dimension) to keep
    it sorted: before equal entries with ``side='left'`` (op LowerBound), after them with 'right' (UpperBound)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be either 'right' or 'left'. Saw: {side}.")
    sorted_sequence, values = binary_inputs("LowerBound", sorted_sequence, values)
    if sorted_sequence.ndim == 0 or values.ndim == 0:
        raise ValueError("searchsorted needs sorted_sequence and values of rank >= 1 (rows along the last "
                         "dimension).")
    if sorted_sequence.ndim == 1 and values.ndim > 1 or tuple(sorted_sequence.shape[:-1]) != tuple(
            values.shape[:-1]) and sorted_sequence.ndim > 1:
        raise InvalidArgumentError(f"sorted_sequence {list(sorted_sequence.shape)} and values {list(values.shape)} "
                                   "must have the same leading dimensions (one row of values per sorted row).")
    if sorted_sequence.ndim == 1:
        sorted_sequence = array_ops.reshape(sorted_sequence, (1, -1))
        flat_values = array_ops.reshape(values, (1, -1))
        found = execute("LowerBound" if side == "left" else "UpperBound", _searchsorted, (sorted_sequence, flat_values),
                        {"side": side, "out_type": dtypes.as_dtype(out_type).name})
        return array_ops.reshape(found, values.shape)
    return execute("LowerBound" if side == "left" else "UpperBound", _searchsorted, (sorted_sequence, values),
                   {"side": side, "out_type": dtypes.as_dtype(out_type).name})
