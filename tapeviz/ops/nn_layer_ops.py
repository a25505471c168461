"""The ``tf.nn`` functions layers and losses are made of: ``bias_add``, ``dropout``, ``embedding_lookup``,
``batch_normalization``, ``weighted_moments`` / ``normalize_moments``, ``crelu``, ``local_response_normalization``,
``compute_average_loss``, ``scale_regularization_loss``, ``log_poisson_loss``.

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


def weighted_moments(x, axes, frequency_weights, keepdims=False, name=None):
    """(mean, variance) of ``x`` over ``axes`` with each entry counted ``frequency_weights`` times
    (broadcast over x): TF's two-pass composition, 0 where the weights sum to 0."""
    from . import reduction_ops, stat_ops
    x = as_tensor(x)
    weights = array_ops.cast(frequency_weights, x.dtype)
    axes = list(axes) if isinstance(axes, (list, tuple)) else [int(axes)]
    weighted_sum = reduction_ops.reduce_sum(weights * x, axis=axes, keepdims=True)
    weight_sum = reduction_ops.reduce_sum(weights + array_ops.zeros_like(x), axis=axes, keepdims=True)
    mean = stat_ops.divide_no_nan(weighted_sum, weight_sum)
    distance = reduction_ops.reduce_sum(weights * math_ops.squared_difference(x, mean), axis=axes, keepdims=True)
    variance = stat_ops.divide_no_nan(distance, weight_sum)
    if not keepdims:
        mean, variance = array_ops.squeeze(mean, axes), array_ops.squeeze(variance, axes)
    return mean, variance


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """(mean, variance) from a count and the (shifted) sums of values and squares, as TF composes it."""
    mean_ss = as_tensor(mean_ss)
    divisor = math_ops.reciprocal(array_ops.cast(counts, mean_ss.dtype))
    shifted_mean = mean_ss * divisor
    mean = shifted_mean if shift is None else shifted_mean + shift
    variance = as_tensor(variance_ss) * divisor - math_ops.square(shifted_mean)
    return mean, variance


def crelu(features, axis=-1, name=None):
    """relu of [features, -features] concatenated along ``axis``."""
    from .nn_ops import relu
    x = as_tensor(features)
    return relu(array_ops.concat([x, -x], axis))


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """The sum of the (weighted) per-example losses divided by the global batch size (the first
    dimension when not given; one replica)."""
    from . import reduction_ops, stat_ops
    loss = as_tensor(per_example_loss)
    if loss.ndim == 0:
        raise ValueError("Invalid value passed for `per_example_loss`. Expected a tensor with at least rank 1; "
                         "pass one loss per example.")
    if sample_weight is not None:
        loss = loss * array_ops.cast(sample_weight, loss.dtype)
    size = loss.shape[0] if global_batch_size is None else global_batch_size
    return stat_ops.divide_no_nan(reduction_ops.reduce_sum(loss), array_ops.cast(size, loss.dtype))


def scale_regularization_loss(regularization_loss):
    """The sum of the regularization losses, divided by the number of replicas (one)."""
    from . import reduction_ops
    if isinstance(regularization_loss, (list, tuple)):
        regularization_loss = math_ops.add_n([as_tensor(v) for v in regularization_loss])
    return reduction_ops.reduce_sum(regularization_loss)


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """exp(log_input) - log_input * targets, plus Stirling's term where targets > 1 when
    ``compute_full_loss``: TF's composition."""
    import math
    log_input, targets = binary_inputs("LogPoissonLoss", log_input, targets)
    result = math_ops.exp(log_input) - log_input * targets
    if compute_full_loss:
        stirling = targets * math_ops.log(targets) - targets + 0.5 * math_ops.log(2 * math.pi * targets)
        zeros = array_ops.zeros_like(targets)
        small = math_ops.logical_and(targets >= zeros, targets <= array_ops.ones_like(targets))
        result = result + array_ops.where(small, zeros, stirling)
    return result


def local_response_normalization(input, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, name=None):  # noqa: A002
    """x / (bias + alpha * sum of x^2 over the 2 * depth_radius + 1 nearest channels) ** beta, as TF's
    LRN kernel computes it; composed of ops, so its gradient is the exact one (TF's LRNGrad)."""
    x = as_tensor(input)
    if x.ndim != 4:
        raise InvalidArgumentError(f"input must be 4-dimensional [batch, height, width, channels], got shape "
                                   f"{list(x.shape)} [Op:LRN].")
    radius, channels = int(depth_radius), x.shape[3]
    padded = array_ops.pad(math_ops.square(x), [[0, 0], [0, 0], [0, 0], [radius, radius]])
    window_sum = math_ops.add_n([padded[..., i:i + channels] for i in range(2 * radius + 1)])
    return x * math_ops.pow(bias + alpha * window_sum, -float(beta))


lrn = local_response_normalization
