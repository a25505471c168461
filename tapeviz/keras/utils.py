"""``keras.utils``: ``set_random_seed``, ``to_categorical`` and the (x, y, sample_weight) packing a custom
``train_step`` uses."""
import random

import numpy as np

__all__ = ["set_random_seed", "to_categorical", "unpack_x_y_sample_weight", "pack_x_y_sample_weight"]


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from what ``train_step(data)`` receives: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``; the missing ones are None."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found: {data!r}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """What ``train_step`` receives for ``x``, ``y`` and ``sample_weight``, as Keras packs it: ``x`` alone (a
    tuple or list of inputs wrapped once), ``(x, y)`` or ``(x, y, sample_weight)``."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def set_random_seed(seed):
    """Seed Python's, numpy's and tapeviz's random streams at once (Keras's one call for reproducible runs)."""
    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed!r} (of type "
                         f"{type(seed).__name__})")
    from tapeviz.ops.random_ops import set_seed
    random.seed(seed)
    np.random.seed(seed)
    set_seed(seed)


def to_categorical(x, num_classes=None):
    """Integer labels to one-hot rows (float64 numpy, as Keras), ``num_classes`` wide (default: largest label + 1)."""
    labels = np.asarray(x, dtype=np.int64)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    one_hot = np.zeros(labels.shape + (num_classes,), dtype=np.float64)
    np.put_along_axis(one_hot, labels[..., None], 1.0, axis=-1)
    return one_hot


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.utils", name)
