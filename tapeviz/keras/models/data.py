"""The batches ``fit`` / ``evaluate`` / ``predict`` iterate over, from arrays, tensors or a dataset.

Arrays are cast as Keras 3 casts them (floating data to float32, integers kept) and cut into batches of
``batch_size`` (default 32), shuffled each epoch from tapeviz's random stream when asked (so
``tapeviz.random.set_seed`` makes ``fit`` repeatable; the order is not TensorFlow's). Anything else
iterable (a ``tf.data`` dataset of batches, a generator) yields ``x``, ``(x, y)`` or ``(x, y, sample_weight)``.
"""
import math

import numpy as np

from tapeviz.core import nest
from tapeviz.core.tensor import _TensorLike

__all__ = ["is_array_data", "as_arrays", "array_batches", "dataset_batches", "unpack", "split_validation",
           "class_weights_to_sample_weights"]


def _is_dataset(value):
    return hasattr(value, "__iter__") and not isinstance(value, (np.ndarray, _TensorLike, list, tuple, dict, str))


def is_array_data(x):
    return not _is_dataset(x)


def _as_array(value):
    array = np.asarray(value)
    if array.dtype.kind == "f" and array.dtype != np.float32:
        array = array.astype(np.float32)
    elif array.dtype.kind not in "fiub":
        raise ValueError(f"Unsupported data of dtype {array.dtype}: fit, evaluate and predict take numbers.")
    return array


def as_arrays(structure):
    """Every leaf of ``x`` (an array, a list of arrays for several inputs, a dict) as a numpy array."""
    if structure is None:
        return None
    if isinstance(structure, dict) or (isinstance(structure, (list, tuple)) and structure
                                       and all(isinstance(v, (np.ndarray, _TensorLike)) for v in structure)):
        return nest.pack_sequence_as(structure, [_as_array(v) for v in nest.flatten(structure)])
    return _as_array(structure)


def _length(structure):
    lengths = {len(leaf) for leaf in nest.flatten(structure)} if isinstance(structure, (list, tuple, dict)) \
        else {len(structure)}
    if len(lengths) != 1:
        raise ValueError(f"Data cardinality is ambiguous: the arrays have different numbers of samples "
                         f"{sorted(lengths)}. Make sure all arrays contain the same number of samples.")
    return lengths.pop()


def _take(structure, index):
    if structure is None:
        return None
    if isinstance(structure, (list, tuple, dict)):
        return nest.pack_sequence_as(structure, [leaf[index] for leaf in nest.flatten(structure)])
    return structure[index]


def array_batches(x, y=None, sample_weight=None, batch_size=32, shuffle=False, max_steps=None):
    """(steps, iterator of (x, y, sample_weight) batches) over arrays; ``max_steps`` stops early."""
    count = _length(x)
    if y is not None and _length(y) != count:
        raise ValueError(f"Data cardinality is ambiguous: x has {count} samples, y has {_length(y)}. Make sure "
                         "all arrays contain the same number of samples.")
    steps = math.ceil(count / batch_size)
    if max_steps is not None:
        steps = min(steps, int(max_steps))
    if shuffle:
        from tapeviz.ops.random_ops import _generator
        order = _generator(None).permutation(count)
    else:
        order = None

    def batches():
        for step in range(steps):
            index = slice(step * batch_size, (step + 1) * batch_size)
            if order is not None:
                index = order[index]
            yield _take(x, index), _take(y, index), _take(sample_weight, index)
    return steps, batches()


def unpack(batch):
    """``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` as a triple."""
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(f"Data is expected to be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of "
                         f"{len(batch)} elements.")
    return batch, None, None


def dataset_batches(dataset, steps=None):
    """(steps or None, iterator of (x, y, sample_weight)) over a dataset of batches."""
    if steps is None:
        try:
            steps = len(dataset)
        except TypeError:
            steps = None

    def batches():
        for step, batch in enumerate(dataset):
            if steps is not None and step >= steps:
                return
            yield unpack(batch)
    return steps, batches()


def split_validation(x, y, sample_weight, fraction):
    """The last ``fraction`` of the samples held out for validation, as Keras does (before shuffling)."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}.")
    count = _length(x)
    split = int(count * (1.0 - fraction))
    head, tail = slice(0, split), slice(split, None)
    return ((_take(x, head), _take(y, head), _take(sample_weight, head)),
            (_take(x, tail), _take(y, tail), _take(sample_weight, tail)))


def class_weights_to_sample_weights(y, class_weight, sample_weight=None):
    """Each sample weighted by its class's weight (labels, or the argmax of one-hot rows), as Keras does."""
    if y is None or not is_array_data(y) or isinstance(y, (dict,)):
        raise ValueError("`class_weight` needs the targets `y` as one array of labels (or one-hot rows).")
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1).astype(np.int64)
    missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
    if missing:
        raise ValueError(f"`class_weight` has no weight for the classes {missing} found in `y`; give every class a "
                         "weight.")
    weights = np.array([class_weight[label] for label in labels.tolist()], dtype=np.float32)
    return weights if sample_weight is None else weights * np.asarray(sample_weight, dtype=np.float32)
