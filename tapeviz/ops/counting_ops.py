"""Masks and counts: ``sequence_mask``, ``math.count_nonzero``, ``math.in_top_k`` / ``nn.in_top_k`` and
``math.confusion_matrix``.

Their results are booleans or integers, built with numpy from their inputs' values: no gradient
passes through them, as in TF.
"""
import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from ._dispatch import as_tensor

__all__ = []


def _axes(axis, rank):
    if axis is None:
        return tuple(range(rank))
    axes = [int(a) for a in np.asarray(axis._value if isinstance(axis, Tensor) else axis).reshape(-1)]
    for a in axes:
        if not -max(rank, 1) <= a < max(rank, 1):
            raise InvalidArgumentError(f"Invalid reduction dimension {a} for input with {rank} dimension(s); pass "
                                       f"an axis in [-{rank}, {rank}).")
    return tuple(sorted({a % max(rank, 1) for a in axes}))


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool_, name=None):
    """mask[..., j] = j < lengths[...]: True for the first ``lengths`` entries of each row of ``maxlen``
    (default: the longest length)."""
    lengths = as_tensor(lengths)
    if lengths.dtype.is_bool or lengths.dtype.name == "string":
        raise TypeError(f"sequence_mask needs numeric lengths, got {lengths.dtype.name}; cast them with "
                        "tapeviz.cast(lengths, tapeviz.int32).")
    values = lengths._value
    size = int(values.max()) if maxlen is None and values.size else int(0 if maxlen is None else
                                                                      np.asarray(getattr(maxlen, "_value", maxlen)))
    mask = np.arange(size) < values[..., None]
    return Tensor(mask.astype(dtypes.as_dtype(dtype).name))


def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):  # noqa: A002 - TF's name
    """How many entries are not zero (not False, not ''), over ``axis`` (all axes when None)."""
    x = as_tensor(input)
    values = x._value
    nonzero = values != (b"" if values.dtype.kind == "O" else 0)
    count = np.sum(nonzero, axis=_axes(axis, values.ndim), keepdims=bool(keepdims))
    return Tensor(np.asarray(count).astype(dtypes.as_dtype(dtype).name))


def in_top_k(targets, predictions, k, name=None):
    """For each row: is the target class's prediction among the ``k`` largest? Ties at the boundary
    count as in, and a non-finite prediction is never in, as TF's kernel decides."""
    targets, predictions = as_tensor(targets), as_tensor(predictions)
    if predictions.ndim != 2 or targets.ndim != 1 or targets.shape[0] != predictions.shape[0]:
        raise InvalidArgumentError(f"in_top_k needs predictions [batch, classes] and targets [batch], got "
                                   f"{list(predictions.shape)} and {list(targets.shape)}.")
    # An op (TF's InTopKV2, not differentiable): the answer stays linked to the predictions, so a loss
    # built from it is explained by this op rather than as a loss that does not use the model.
    return execute("InTopKV2", _in_top_k, (predictions, targets), {"k": int(k)})


def _in_top_k(scores, targets, k):
    wanted = targets.astype(np.int64)
    classes = scores.shape[1]
    inside = (wanted >= 0) & (wanted < classes)
    target_scores = np.where(inside, scores[np.arange(len(wanted)), np.clip(wanted, 0, classes - 1)], np.nan)
    better = np.sum(scores > target_scores[:, None], axis=1)
    return inside & np.isfinite(target_scores) & (better < k)


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=dtypes.int32, name=None):
    """matrix[label, prediction] summed over the pairs (of ``weights``, or 1 each)."""
    labels, predictions = as_tensor(labels)._value.reshape(-1), as_tensor(predictions)._value.reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions must have the same number of entries, got {labels.size} and "
                         f"{predictions.size}.")
    if (labels.size and labels.min() < 0) or (predictions.size and predictions.min() < 0):
        raise InvalidArgumentError("`labels` and `predictions` contain negative values; classes are 0, 1, ...")
    count = int(num_classes) if num_classes is not None else int(max(labels.max(initial=-1),
                                                                      predictions.max(initial=-1)) + 1)
    if labels.size and max(labels.max(), predictions.max()) >= count:
        raise InvalidArgumentError(f"`labels` and `predictions` must be less than num_classes ({count}).")
    np_dtype = np.dtype(dtypes.as_dtype(dtype).name)
    amounts = np.ones(labels.shape) if weights is None else as_tensor(weights)._value.reshape(-1)
    matrix = np.zeros((count, count), np_dtype)
    np.add.at(matrix, (labels.astype(np.int64), predictions.astype(np.int64)), amounts.astype(np_dtype))
    return Tensor(matrix)
