"""Convolutions and pooling built from ``conv2d``, its input gradient and 2-D pooling, as TensorFlow
builds or defines them: ``nn.conv1d``, ``nn.depthwise_conv2d``, ``nn.separable_conv2d``,
``nn.atrous_conv2d``, ``nn.conv2d_transpose``, ``nn.max_pool1d`` / ``avg_pool1d``, and the block moves
``nn.space_to_depth`` / ``nn.depth_to_space``.

Each is composed of ops that have gradients (Conv2D, Conv2DBackpropInput, reshapes, transposes), so
gradients at every order come from their rules: ``conv1d`` is TF's own composition (a conv2d over
a height of 1), ``conv2d_transpose`` is TF's ``Conv2DBackpropInput``, and a depthwise convolution is
one conv2d with a block-diagonal filter (each input channel feeds only its own outputs).
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.tensor import Tensor

from . import array_ops, conv_ops
from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = []


def _stride_pair(value, name="strides"):
    """TF's strides/dilations argument (an int, or 1, 2 or 4 numbers) as (height, width)."""
    value = 1 if value is None else value
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    value = [int(v) for v in value]
    if len(value) in (1, 2):
        return (value[0], value[-1])
    if len(value) == 4 and value[0] == 1 and value[3] == 1:
        return (value[1], value[2])
    raise ValueError(f"{name} must be an int or 1, 2 or 4 ints (batch and depth entries 1), got {value}.")


def _padding_spec(padding):
    """'SAME', 'VALID', or explicit ((top, bottom), (left, right)) from TF's four NHWC pairs."""
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}.")
        return padding.upper()
    pairs = [tuple(int(v) for v in pair) for pair in padding]
    if len(pairs) == 4 and pairs[0] == (0, 0) and pairs[3] == (0, 0):
        pairs = pairs[1:3]
    if len(pairs) != 2:
        raise ValueError(f"explicit padding is [[0, 0], [top, bottom], [left, right], [0, 0]], got {padding}.")
    return tuple(pairs)


def _channels_last(data_format, op):
    if data_format not in (None, "NHWC"):
        raise ValueError(f"{op} supports data_format='NHWC' only (as TensorFlow on CPU), got {data_format!r}; "
                         "transpose the input to [batch, height, width, channels].")


def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None, name=None):  # noqa: A002 - TF's name
    """A 1-D convolution of [batch, width, channels] input with [width, in, out] filters: TF's
    composition, a conv2d over a height of 1."""
    if data_format not in (None, "NWC"):
        raise ValueError(f"conv1d supports data_format='NWC' only (as TensorFlow on CPU), got {data_format!r}; "
                         "transpose the input to [batch, width, channels].")
    x, w = binary_inputs("Conv2D", input, filters)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"conv1d needs a rank-3 input [batch, width, channels] and rank-3 filters [width, "
                         f"in_channels, out_channels], got {list(x.shape)} and {list(w.shape)}.")
    stride = stride if isinstance(stride, (int, np.integer)) else list(stride)[-2 if len(list(stride)) == 3 else 0]
    dilation = 1 if dilations is None else (dilations if isinstance(dilations, (int, np.integer))
                                            else list(dilations)[-2 if len(list(dilations)) == 3 else 0])
    out = conv_ops.conv2d(array_ops.expand_dims(x, 1), array_ops.expand_dims(w, 0), [1, 1, int(stride), 1], padding,
                          dilations=[1, 1, int(dilation), 1])
    return array_ops.squeeze(out, [1])


def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None, name=None):  # noqa: A002
    """Each input channel convolved with its own ``channel_multiplier`` filters ([h, w, in, multiplier]);
    output channel ``c * multiplier + m`` is channel c's m-th filter, as in TF."""
    if data_format not in (None, "NHWC"):
        raise ValueError(f"depthwise_conv2d supports data_format='NHWC' only, got {data_format!r}; transpose "
                         "the input to [batch, height, width, channels].")
    x, w = binary_inputs("DepthwiseConv2dNative", input, filter)
    floating_only("DepthwiseConv2dNative", x)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"depthwise_conv2d needs a rank-4 input [batch, height, width, channels] and rank-4 filters "
                         f"[height, width, in_channels, channel_multiplier], got {list(x.shape)} and {list(w.shape)}.")
    channels, multiplier = w.shape[2], w.shape[3]
    if x.shape[3] != channels:
        raise InvalidArgumentError(f"input and filter must have the same depth: {x.shape[3]} vs {channels} "
                                   "[Op:DepthwiseConv2dNative]; the filter needs one slice per input channel.")
    height, width = w.shape[0], w.shape[1]
    # filter[i, j, c, m] at [i, j, c, c * multiplier + m], zeros elsewhere: one conv2d does every channel.
    diagonal = Tensor(np.eye(channels, dtype=x._value.dtype).reshape(1, 1, channels, channels, 1))
    spread = array_ops.expand_dims(w, 3) * diagonal
    full = array_ops.reshape(spread, (height, width, channels, channels * multiplier))
    return conv_ops.conv2d(x, full, strides, padding, dilations=dilations)


def _conv_output_size(size, kernel, stride, dilation, padding):
    if padding == "SAME":
        return -(-size // stride)
    if padding == "VALID":
        return -(-(size - (kernel - 1) * dilation) // stride)
    before, after = padding
    return (size + before + after - (kernel - 1) * dilation - 1) // stride + 1


def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",  # noqa: A002
                     dilations=None, name=None):
    """The transpose of conv2d (the gradient of conv2d with respect to its input, TF's
    ``Conv2DBackpropInput``): ``filters`` are [h, w, out_channels, in_channels] and ``output_shape``
    is the shape of the conv2d input that would give ``input``."""
    _channels_last(data_format, "conv2d_transpose")
    x, w = binary_inputs("Conv2DBackpropInput", input, filters)
    floating_only("Conv2DBackpropInput", x)
    shape = [int(n) for n in np.asarray(output_shape._value if isinstance(output_shape, Tensor) else output_shape)]
    if x.ndim != 4 or w.ndim != 4 or len(shape) != 4:
        raise ValueError(f"conv2d_transpose needs a rank-4 input, rank-4 filters and a 4-entry output_shape, got "
                         f"{list(x.shape)}, {list(w.shape)} and {shape}.")
    if w.shape[3] != x.shape[3] or w.shape[2] != shape[3]:
        raise InvalidArgumentError(
            f"Conv2DBackpropInput: filters {list(w.shape)} must be [height, width, output channels ({shape[3]}), "
            f"input channels ({x.shape[3]})] [Op:Conv2DBackpropInput].")
    stride, dilation, pad = _stride_pair(strides), _stride_pair(dilations, "dilations"), _padding_spec(padding)
    for axis in (0, 1):
        computed = _conv_output_size(shape[1 + axis], w.shape[axis], stride[axis], dilation[axis],
                                     pad if isinstance(pad, str) else pad[axis])
        if computed != x.shape[1 + axis] or shape[0] != x.shape[0]:
            raise InvalidArgumentError(
                f"Conv2DSlowBackpropInput: Size of out_backprop doesn't match computed: actual = {x.shape[1 + axis]}, "
                f"computed = {computed} [Op:Conv2DBackpropInput]: a conv2d of an input of shape {shape} gives "
                f"{'height' if axis == 0 else 'width'} {computed}; fix output_shape, strides or padding.")
    return conv_ops.conv2d_backprop_input(shape, w, x, stride, pad, dilation)


def _block(op_type, x, block_size):
    x = as_tensor(x)
    block_size = int(block_size)
    if block_size < 2:
        raise InvalidArgumentError(f"Value for attr 'block_size' of {block_size} must be at least minimum 2 "
                                   f"[Op:{op_type}].")
    if x.ndim != 4:
        raise InvalidArgumentError(f"input rank should be 4 instead of {x.ndim} [Op:{op_type}]: pass "
                                   "[batch, height, width, channels].")
    return x, block_size


def space_to_depth(input, block_size, data_format="NHWC", name=None):  # noqa: A002 - TF's name
    """Each block_size x block_size block of pixels moved into the channels, in TF's order."""
    _channels_last(data_format, "space_to_depth")
    x, b = _block("SpaceToDepth", input, block_size)
    n, h, w, c = x.shape
    if h % b or w % b:
        raise InvalidArgumentError(f"Image height {h} and width {w} should be divisible by block_size: {b} "
                                   "[Op:SpaceToDepth]; pad or crop the image first.")
    blocks = array_ops.reshape(x, (n, h // b, b, w // b, b, c))
    return array_ops.reshape(array_ops.transpose(blocks, (0, 1, 3, 2, 4, 5)), (n, h // b, w // b, b * b * c))


def depth_to_space(input, block_size, data_format="NHWC", name=None):  # noqa: A002 - TF's name
    """The inverse of space_to_depth: channels moved back into block_size x block_size blocks of pixels."""
    _channels_last(data_format, "depth_to_space")
    x, b = _block("DepthToSpace", input, block_size)
    n, h, w, c = x.shape
    if c % (b * b):
        raise InvalidArgumentError(f"Input depth dimension {c} should be divisible by: {b * b} [Op:DepthToSpace].")
    blocks = array_ops.reshape(x, (n, h, w, b, b, c // (b * b)))
    return array_ops.reshape(array_ops.transpose(blocks, (0, 1, 3, 2, 4, 5)), (n, h * b, w * b, c // (b * b)))


def _pool1d(pool, x, ksize, strides, padding, data_format):
    if data_format not in (None, "NWC"):
        raise ValueError(f"1-D pooling supports data_format='NWC' only, got {data_format!r}; transpose the input "
                         "to [batch, width, channels].")
    x = as_tensor(x)
    if x.ndim != 3:
        raise ValueError(f"1-D pooling needs a rank-3 input [batch, width, channels], got shape {list(x.shape)}.")

    def width(value, name):
        values = [int(value)] if isinstance(value, (int, np.integer)) else [int(v) for v in value]
        return values[1] if len(values) == 3 else values[0]
    out = pool(array_ops.expand_dims(x, 1), [1, 1, width(ksize, "ksize"), 1], [1, 1, width(strides, "strides"), 1],
               padding)
    return array_ops.squeeze(out, [1])


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002 - TF's name
    """1-D max pooling over [batch, width, channels]: TF's composition, a max_pool2d over a height of 1."""
    return _pool1d(conv_ops.max_pool2d, input, ksize, strides, padding, data_format)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002 - TF's name
    """1-D average pooling over [batch, width, channels], as max_pool1d."""
    return _pool1d(conv_ops.avg_pool2d, input, ksize, strides, padding, data_format)


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, data_format=None,  # noqa: A002
                     dilations=None, name=None):
    """A depthwise convolution followed by a 1x1 convolution mixing its channels, as TF composes it."""
    depthwise = depthwise_conv2d(input, depthwise_filter, strides, padding, data_format, dilations)
    return conv_ops.conv2d(depthwise, pointwise_filter, 1, "VALID")


def atrous_conv2d(value, filters, rate, padding, name=None):
    """conv2d with the filters spread ``rate`` apart (dilations of ``rate``)."""
    return conv_ops.conv2d(value, filters, 1, padding, dilations=int(rate))
