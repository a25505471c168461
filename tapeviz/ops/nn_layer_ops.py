"""The ``tf.nn`` functions layers are made of: ``bias_add``, ``dropout``, ``embedding_lookup``,
``batch_normalization``.

``BiasAdd`` and ``BiasAddGrad`` are ops under TensorFlow's names (rules in
``tapeviz.plugins.nn_layer_grad``); the others are composed of ops as TensorFlow composes them,
so their gradients come for free.
"""
import numbers

import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute

from . import array_ops, linalg_ops, math_ops, random_ops
from ._dispatch import as_tensor, binary_inputs

__all__ = []


def _channel_axis(data_format, rank):
    """The channel axis a data format names: last for NHWC-like formats, 1 for NCHW-like ones."""
    if data_format is None or (data_format.startswith("N") and data_format.endswith("C")):
        return rank - 1
    if data_format.startswith("NC"):
        return 1
    raise ValueError(f"data_format must be 'N...C' (channels last, the default) or 'NC...' (channels first), "
                     f"got {data_format!r}.")


def _bias_add(x, bias, channel_axis):
    shape = [1] * x.ndim
    shape[channel_axis] = -1
    return x + bias.reshape(shape)


def bias_add(value, bias, data_format=None, name=None):
    """``value`` plus the 1-D ``bias`` along its channel axis (the last unless ``data_format`` is 'NC...')."""
    x, bias = binary_inputs("BiasAdd", value, bias)
    if x.ndim < 2:
        raise InvalidArgumentError(f"Input tensor must be at least 2D: {list(x.shape)} [Op:BiasAdd]; bias_add adds "
                                   "a bias per channel of a batch, use + for a single vector.")
    if bias.ndim != 1:
        raise InvalidArgumentError(f"Biases must be 1D: {list(bias.shape)} [Op:BiasAdd]; pass one bias per channel.")
    axis = _channel_axis(data_format, x.ndim)
    if bias.shape[0] != x.shape[axis]:
        raise InvalidArgumentError(
            f"Must provide as many biases as the {'last' if axis == x.ndim - 1 else 'channel'} dimension of the input "
            f"tensor: {list(bias.shape)} vs. {list(x.shape)} [Op:BiasAdd]; the bias needs {x.shape[axis]} entries.")
    return execute("BiasAdd", _bias_add, (x, bias), {"channel_axis": axis})


def _bias_add_grad(grad, channel_axis):
    return np.sum(grad, axis=tuple(i for i in range(grad.ndim) if i != channel_axis), dtype=grad.dtype)


def bias_add_grad(out_backprop, channel_axis):
    """The sum of ``out_backprop`` over every axis but the channel axis: BiasAdd's gradient of its bias."""
    return execute("BiasAddGrad", _bias_add_grad, (as_tensor(out_backprop),), {"channel_axis": int(channel_axis)})


def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """``x`` with each entry zeroed with probability ``rate`` and the rest scaled by 1 / (1 - rate): TF's
    composition (``x * scale * cast(uniform >= rate)``). ``noise_shape`` (None entries take x's size)
    shares one draw along its size-1 axes. Reproducible with a seed, but not TF's draws."""
    if isinstance(rate, numbers.Real) and not 0 <= rate < 1:
        raise ValueError(f"`rate` must be a scalar tensor or a float in the range [0, 1). Received: rate={rate}")
    x = as_tensor(x)
    if not x.dtype.is_floating:
        raise ValueError(f"`x.dtype` must be a floating point tensor as `x` will be scaled. Received: "
                         f"x_dtype={x.dtype.name}; cast x with tapeviz.cast(x, tapeviz.float32) first.")
    if isinstance(rate, numbers.Real) and rate == 0:
        return x  # TF's fast path: the input itself
    rate = array_ops.cast(rate, x.dtype)
    shape = list(x.shape) if noise_shape is None else [
        x.shape[i] if n is None else int(n) for i, n in enumerate(_listed(noise_shape))]
    if len(shape) != x.ndim or any(n not in (1, m) for n, m in zip(shape, x.shape)):
        raise ValueError(f"noise_shape {shape} must have x's rank ({x.ndim}) and each entry 1 or x's size "
                         f"{list(x.shape)}, so one draw broadcasts over x.")
    scaled = x * (1.0 / (1.0 - rate))
    keep = random_ops.uniform(shape, dtype=x.dtype, seed=seed) >= rate
    return scaled * array_ops.cast(keep, x.dtype)


def _listed(shape):
    return list(shape.numpy()) if hasattr(shape, "numpy") else list(shape)


def embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows of ``params`` at ``ids`` (a gather). A list of tables is TF's "div" partition: the
    tables in order make one table. ``max_norm`` clips each looked-up embedding's L2 norm."""
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("embedding_lookup needs at least one table in params, got an empty list.")
        params = params[0] if len(params) == 1 else array_ops.concat(list(params), 0)
    params, ids = as_tensor(params), as_tensor(ids)
    result = array_ops.gather(params, ids)
    if max_norm is not None:
        result = linalg_ops.clip_by_norm(result, max_norm, axes=list(range(ids.ndim, result.ndim)))
    return result


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, as TF composes it (offset and scale may be None)."""
    x = as_tensor(x)
    inverse = math_ops.rsqrt(as_tensor(variance) + variance_epsilon)
    if scale is not None:
        inverse = inverse * scale
    shift = offset - mean * inverse if offset is not None else -mean * inverse
    return x * array_ops.cast(inverse, x.dtype) + array_ops.cast(shift, x.dtype)
