"""``dynamic_partition`` and ``dynamic_stitch``: rows dealt out to partitions, and rows put back in order.

``dynamic_partition`` is a gather per partition, so its gradient comes from GatherV2's rule;
``dynamic_stitch`` is TF's ``DynamicStitch`` op (rule in ``tapeviz.plugins.partition_grad``), whose
gradient gathers each data row's entry back, as TF's rule does.
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute

from . import array_ops
from ._dispatch import as_tensor

__all__ = []


def _integers(what, value):
    value = as_tensor(value)
    if value.dtype.name not in ("int32", "int64"):
        raise TypeError(f"{what} must be int32 or int64, got {value.dtype.name}; cast with tapeviz.cast.")
    return value


def dynamic_partition(data, partitions, num_partitions, name=None):
    """A list of ``num_partitions`` tensors: partition i holds the rows of ``data`` whose entry of
    ``partitions`` (shaped like data's leading dimensions) is i, in order."""
    data, partitions = as_tensor(data), _integers("partitions", partitions)
    count, ids = int(num_partitions), partitions._value
    if tuple(data.shape[:ids.ndim]) != tuple(ids.shape):
        raise InvalidArgumentError(f"data.shape must start with partitions.shape, got data.shape = "
                                   f"{list(data.shape)}, partitions.shape = {list(ids.shape)} [Op:DynamicPartition].")
    if ids.size and (ids.min() < 0 or ids.max() >= count):
        bad = ids[(ids < 0) | (ids >= count)][0]
        raise InvalidArgumentError(f"partitions has the value {bad}, which is not in [0, {count}) "
                                   "[Op:DynamicPartition].")
    rows = array_ops.reshape(data, (-1,) + tuple(data.shape[ids.ndim:]))
    flat = array_ops.reshape(partitions, (-1,))
    # Each partition's positions by ops (Equal, Where, Squeeze), not as a new constant: partitions computed
    # from the model stay linked to the result, so a loss through them is explained by what cut them.
    return [array_ops.gather(rows, array_ops.squeeze(array_ops._where_indices(flat == i), axis=1))
            for i in range(count)]


def _dynamic_stitch(*values, count):
    indices, data = values[:count], values[count:]
    rows = int(max((int(i.max()) for i in indices if i.size), default=-1)) + 1
    tail = data[0].shape[indices[0].ndim:]
    out = np.zeros((rows,) + tuple(tail), data[0].dtype)
    for index, block in zip(indices, data):  # later blocks overwrite earlier ones, as in TF
        out[index.reshape(-1)] = block.reshape((-1,) + tuple(tail))
    return out


def dynamic_stitch(indices, data, name=None):
    """merged[indices[m][i]] = data[m][i]: the rows put back at their indices (a later one wins)."""
    indices = [_integers("indices", i) for i in indices]
    data = [as_tensor(d) for d in data]
    if len(indices) != len(data) or not data:
        raise ValueError(f"dynamic_stitch needs as many index tensors as data tensors (at least one), got "
                         f"{len(indices)} and {len(data)}.")
    first = data[0]
    tail = tuple(first.shape[indices[0].ndim:])
    for index, block in zip(indices, data):
        if tuple(block.shape) != tuple(index.shape) + tail or block.dtype is not first.dtype:
            raise InvalidArgumentError(f"data[m].shape must be indices[m].shape + {list(tail)} and the dtypes one; "
                                       f"got data {block.dtype.name}{list(block.shape)} for indices "
                                       f"{list(index.shape)} [Op:DynamicStitch].")
    return execute("DynamicStitch", _dynamic_stitch, tuple(indices) + tuple(data), {"count": len(indices)})
