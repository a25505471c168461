"""Masks and counts: ``sequence_mask``, ``math.count_nonzero``, ``math.in_top_k`` / ``nn.in_top_k`` and
``math.confusion_matrix``.

Their results are booleans or integers: no gradient passes through them, as in TF. They are ops (or
TF's composition of ops), so a loss built from them stays linked to the model and its None is
explained by the op that cuts it, not as a loss that does not use the model. ``confusion_matrix`` is
TF's ScatterNd of the weights, through which float weights get their gradient, as in TF.
"""
import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from . import array_ops, index_ops, math_ops, reduction_ops
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
    # TF's composition: Less(Range, Cast(ExpandDims(lengths))), then Cast to ``dtype``; compared in a dtype
    # that holds both the lengths and the positions (numpy's comparison of the two).
    common = np.promote_types(values.dtype, np.int64)
    positions = Tensor(np.arange(size, dtype=common))
    mask = math_ops.less(positions, array_ops.cast(array_ops.expand_dims(lengths, -1), common.name))
    return array_ops.cast(mask, dtype)


def count_nonzero(input, axis=None, keepdims=None, dtype=dtypes.int64, name=None):  # noqa: A002 - TF's name
    """How many entries are not zero (not False, not ''), over ``axis`` (all axes when None)."""
    x = as_tensor(input)
    axes = _axes(axis, x._value.ndim)
    # TF's composition: Sum(Cast(NotEqual(input, zero), int64)), then Cast to ``dtype``.
    nonzero = execute("NotEqual", _nonzero, (x,))
    counts = reduction_ops.reduce_sum(array_ops.cast(nonzero, dtypes.int64), axis=axes, keepdims=bool(keepdims))
    return array_ops.cast(counts, dtype)


def _nonzero(values):
    return np.asarray(values != (b"" if values.dtype.kind == "O" else 0))


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
    label_tensor, prediction_tensor = as_tensor(labels), as_tensor(predictions)
    labels, predictions = label_tensor._value.reshape(-1), prediction_tensor._value.reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels and predictions must have the same number of entries, got {labels.size} and "
                         f"{predictions.size}.")
    if (labels.size and labels.min() < 0) or (predictions.size and predictions.min() < 0):
        raise InvalidArgumentError("`labels` and `predictions` contain negative values; classes are 0, 1, ...")
    count = int(num_classes) if num_classes is not None else int(max(labels.max(initial=-1),
                                                                      predictions.max(initial=-1)) + 1)
    if labels.size and max(labels.max(), predictions.max()) >= count:
        raise InvalidArgumentError(f"`labels` and `predictions` must be less than num_classes ({count}).")
    # TF's composition: ScatterNd of the (cast) weights at the stacked (label, prediction) pairs; repeated
    # pairs add up. Linked to the labels and predictions (a confusion matrix of argmax(logits) in a loss is
    # explained by the argmax), and float weights get ScatterNd's gradient, as in TF.
    dtype = dtypes.as_dtype(dtype)
    pairs = array_ops.stack([array_ops.cast(array_ops.reshape(t, (-1,)), dtypes.int64)
                             for t in (label_tensor, prediction_tensor)], axis=1)
    amounts = (Tensor(np.ones(labels.shape, dtype.name)) if weights is None else
               array_ops.cast(array_ops.reshape(as_tensor(weights), (-1,)), dtype))
    return index_ops.scatter_nd(pairs, amounts, (count, count))
