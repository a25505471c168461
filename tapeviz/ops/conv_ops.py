"""2-D convolution and pooling on NHWC tensors, under TensorFlow's op-type names.

``Conv2D`` gathers input patches (im2col: a copy of a strided window view) and multiplies them by
the filter; ``Conv2DBackpropFilter`` multiplies the same patches by the output gradient;
``Conv2DBackpropInput`` multiplies the output gradient by the filter and adds the products back at
their kernel offsets' places (with unit width stride, once per kernel row). All three work a
cache-sized block of images (or image rows) at a time in reused scratch space, so no patch matrix
is ever whole, and take large outputs from ``_recycling``. ``MaxPool``/``AvgPool`` reduce
window views; ``MaxPoolGrad``/``MaxPoolGradGrad``/``AvgPoolGrad`` are their gradients, and
are ops themselves so that second derivatives work. Padding follows TensorFlow: ``SAME`` pads
``total = max((ceil(n / s) - 1) s + (k - 1) d + 1 - n, 0)`` with ``total // 2`` before; average
pooling divides by the count of real (unpadded) elements. Rules: ``tapeviz.plugins.conv_grad``.
"""
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tapeviz.core.execute import execute

from . import _recycling
from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = []  # reached as tf.nn.conv2d, tf.nn.max_pool2d, ...


# -- geometry -------------------------------------------------------------------------------------
def _pads(size, kernel, stride, dilation, padding):
    """(output size, pad before, pad after) along one spatial axis."""
    span = (kernel - 1) * dilation + 1
    if padding == "VALID":
        if size < span:
            raise ValueError(f"the window ({span}) is larger than the input ({size}) with padding VALID; use "
                             "padding='SAME' or a smaller kernel.")
        return (size - span) // stride + 1, 0, 0
    if padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        return out, total // 2, total - total // 2
    before, after = padding
    padded = size + before + after
    if padded < span:
        raise ValueError(f"the window ({span}) is larger than the padded input ({padded}).")
    return (padded - span) // stride + 1, before, after


def _geometry(shape, kernel, strides, dilations, padding):
    """Output height and width and the padding of each spatial axis, for an NHWC ``shape``."""
    (oh, top, bottom), (ow, left, right) = [
        _pads(shape[1 + i], kernel[i], strides[i], dilations[i], padding if isinstance(padding, str) else padding[i])
        for i in range(2)]
    return oh, ow, ((0, 0), (top, bottom), (left, right), (0, 0))


def _windows(padded, kernel, strides, dilations, oh, ow):
    """A read-only view (N, OH, OW, KH, KW, C) of every window of a padded NHWC array."""
    n, _, _, c = padded.shape
    sn, sh, sw, sc = padded.strides
    return _read_only_view(padded, (n, oh, ow, kernel[0], kernel[1], c),
                           (sn, sh * strides[0], sw * strides[1], sh * dilations[0], sw * dilations[1], sc))


def _read_only_view(array, shape, strides):
    """``as_strided(array, shape, strides, writeable=False)``; a contiguous array's in a quarter of the
    time (2 us, not 7: convolutions make one per block)."""
    if not array.flags.c_contiguous:
        return as_strided(array, shape, strides, writeable=False)
    view = np.ndarray(shape, array.dtype, buffer=array, strides=strides)
    view.flags.writeable = False
    return view


def _pad(x, pads, value=0):
    if not any(before or after for before, after in pads):
        return x
    return np.pad(x, pads, constant_values=value)


def _offset_slices(kernel, strides, oh, ow, dilations=(1, 1)):
    """For each kernel offset (row-major), the strided slice of a padded array that it reads for every output."""
    for i in range(kernel[0]):
        top = i * dilations[0]
        for j in range(kernel[1]):
            left = j * dilations[1]
            yield (slice(None), slice(top, top + strides[0] * (oh - 1) + 1, strides[0]),
                   slice(left, left + strides[1] * (ow - 1) + 1, strides[1]), slice(None))


# -- scratch space and blocks -----------------------------------------------------------------------
# Convolutions gather their patches, and their input backprop its per-offset products, a block at
# a time into a per-thread scratch array that is reused from call to call: a block stays in cache
# between its copy and its matrix product, and no patch matrix nine times the input's size is
# allocated, faulted in and freed on every call (on the conv net of benchmarks/bench_training.py
# that churn cost more than the products). Scratch arrays never leave the kernel that fills them.
_SCRATCH = threading.local()

# Patches of about this many bytes per block. Whole images while they fit, else rows of one image.
PATCH_BLOCK_BYTES = 1 << 20
# Conv2DBackpropInput's per-offset products of about this many bytes per block of whole images:
# the block, its share of dy and its output region then stay in the core's own cache.
BACKPROP_INPUT_BLOCK_BYTES = 1 << 16


def _scratch(slot, shape, dtype):
    """A reusable uninitialized array of ``shape``, this thread's own for ``slot``; it grows on demand."""
    size = math.prod(shape)
    buffers = _SCRATCH.__dict__
    key = (slot, dtype)
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)


def _output_blocks(n, oh, row_bytes, budget):
    """(first image, last image + 1, first output row, last output row + 1) blocks of about ``budget`` bytes
    at ``row_bytes`` per output row: runs of whole images, or runs of rows of one image when an image is more."""
    rows = max(1, budget // max(1, row_bytes))
    if rows >= oh:
        per = rows // max(1, oh)
        return [(start, min(start + per, n), 0, oh) for start in range(0, n, per)]
    return [(image, image + 1, top, min(top + rows, oh)) for image in range(n) for top in range(0, oh, rows)]


def _input_rows(x, first, last, top, bottom, pads, slot):
    """Images [first, last) of NHWC ``x`` padded by ``pads``, rows [top, bottom) of the padded image: a view
    of ``x`` when no padding is in reach, else a scratch copy with zeros in the padding."""
    (pad_top, _), (pad_left, pad_right) = pads[1], pads[2]
    height, width = x.shape[1], x.shape[2]
    source_top, source_bottom = top - pad_top, bottom - pad_top
    if not pad_left and not pad_right and source_top >= 0 and source_bottom <= height:
        return x[first:last, source_top:source_bottom]
    block = _scratch(slot, (last - first, bottom - top, width + pad_left + pad_right, x.shape[3]), x.dtype)
    block.fill(0)
    inside_top, inside_bottom = max(source_top, 0), min(source_bottom, height)
    if inside_top < inside_bottom:
        block[:, inside_top - source_top:inside_bottom - source_top, pad_left:pad_left + width] = \
            x[first:last, inside_top:inside_bottom]
    return block


def _patch_blocks(x, kernel, strides, dilations, oh, ow, pads):
    """Yield (output rows, patches) for blocks of a convolution's output, flattened as (N * OH * OW) rows.

    ``patches`` is (rows, KH * KW * C), in the filter's (KH, KW, C) order: each output position's
    window as a row, ready for one product with the filter. It lives in scratch space until the
    next block. With few channels (a first layer's images) it is the transpose of a (KH * KW * C,
    rows) array, which one strided slice copy per kernel offset fills with long runs; the product
    reads either layout in place.
    """
    n, _, _, channels = x.shape
    depth = kernel[0] * kernel[1] * channels
    span = (kernel[0] - 1) * dilations[0] + 1
    for first, last, top, bottom in _output_blocks(n, oh, ow * depth * x.itemsize, PATCH_BLOCK_BYTES):
        images, rows = last - first, bottom - top
        source = _input_rows(x, first, last, top * strides[0], (bottom - 1) * strides[0] + span, pads, "conv input")
        if channels >= 8:  # numpy's copy of the window view moves C-long runs: fast when they are long
            block = _scratch("patches", (images, rows, ow, kernel[0], kernel[1], channels), x.dtype)
            np.copyto(block, _windows(source, kernel, strides, dilations, rows, ow))
            patches = block.reshape(images * rows * ow, depth)
        else:
            block = _scratch("patches", (kernel[0], kernel[1], channels, images, rows, ow), x.dtype)
            for k, index in enumerate(_offset_slices(kernel, strides, rows, ow, dilations)):
                np.copyto(block[k // kernel[1], k % kernel[1]], source[index].transpose(3, 0, 1, 2))
            patches = block.reshape(depth, images * rows * ow).T
        start = (first * oh + top) * ow
        yield slice(start, start + images * rows * ow), patches


def _scatter_windows(cols, shape, pads, kernel, strides, dilations):
    """The adjoint of _windows: add each window's values back at its place, then strip the padding."""
    n, oh, ow = cols.shape[:3]
    padded = np.zeros((shape[0], shape[1] + sum(pads[1]), shape[2] + sum(pads[2]), shape[3]), cols.dtype)
    for i in range(kernel[0]):
        top = i * dilations[0]
        for j in range(kernel[1]):
            left = j * dilations[1]
            padded[:, top:top + strides[0] * (oh - 1) + 1:strides[0],
                   left:left + strides[1] * (ow - 1) + 1:strides[1], :] += cols[:, :, :, i, j, :]
    (top, bottom), (left, right) = pads[1], pads[2]
    return padded[:, top:padded.shape[1] - bottom, left:padded.shape[2] - right, :]


# -- convolution ----------------------------------------------------------------------------------
def _conv2d(x, w, strides, padding, dilations):
    kernel = w.shape[:2]
    if x.shape[3] != w.shape[2]:
        raise ValueError(f"input depth ({x.shape[3]}) must equal the filter's in-channels dimension "
                         f"({w.shape[2]}); the filter's shape is [height, width, in_channels, out_channels].")
    oh, ow, pads = _geometry(x.shape, kernel, strides, dilations, padding)
    out_channels = w.shape[3]
    out = _recycling.empty((x.shape[0] * oh * ow, out_channels), np.result_type(x, w))
    filters = w.reshape(-1, out_channels)
    if filters.shape[0] == 0:  # no input channels: every sum is empty
        out.fill(0)
    else:
        for rows, patches in _patch_blocks(x, kernel, strides, dilations, oh, ow, pads):
            np.matmul(patches, filters, out=out[rows])
    return out.reshape(x.shape[0], oh, ow, out_channels)


def _check_out_backprop(dy, n, oh, ow, out_channels, op_type):
    if dy.shape != (n, oh, ow, out_channels):
        raise ValueError(f"{op_type}: out_backprop has shape {list(dy.shape)}, but the convolution's output is "
                         f"{[n, oh, ow, out_channels]}; pass the gradient of the conv2d output it belongs to.")


def _conv2d_backprop_input(w, dy, input_sizes, strides, padding, dilations):
    kernel = w.shape[:2]
    oh, ow, pads = _geometry(input_sizes, kernel, strides, dilations, padding)
    n, in_channels, out_channels = input_sizes[0], w.shape[2], w.shape[3]
    _check_out_backprop(dy, n, oh, ow, out_channels, "Conv2DBackpropInput")
    padded = _recycling.empty((n, input_sizes[1] + sum(pads[1]), input_sizes[2] + sum(pads[2]), in_channels),
                              np.result_type(w, dy))
    padded.fill(0)
    if strides[1] == 1 and dilations[1] == 1:
        _add_input_backprop_by_kernel_rows(padded, w, dy, strides[0], dilations[0])
    else:
        _add_input_backprop_by_offsets(padded, w, dy, strides, dilations)
    (top, bottom), (left, right) = pads[1], pads[2]
    return padded[:, top:padded.shape[1] - bottom, left:padded.shape[2] - right, :]


def _add_input_backprop_by_offsets(padded, w, dy, strides, dilations):
    """Add each kernel offset's contribution to the padded input gradient: one product of dy with
    the offset's filter slice into a small scratch block, added at its strided place, a few images
    at a time, so that the block, its dy rows and the output region it lands in stay in cache."""
    kernel, (n, oh, ow, out_channels), in_channels = w.shape[:2], dy.shape, w.shape[2]
    flat_dy = dy.reshape(-1, out_channels)
    span = (kernel[0] - 1) * dilations[0] + 1
    for first, last, top, bottom in _output_blocks(n, oh, ow * in_channels * padded.itemsize,
                                                   BACKPROP_INPUT_BLOCK_BYTES):
        images, rows = last - first, bottom - top
        start = (first * oh + top) * ow
        block_dy = flat_dy[start:start + images * rows * ow]
        block = _scratch("input backprop", (images * rows * ow, in_channels), padded.dtype)
        block_view = block.reshape(images, rows, ow, in_channels)
        region = padded[first:last, top * strides[0]:(bottom - 1) * strides[0] + span]
        for k, index in enumerate(_offset_slices(kernel, strides, rows, ow, dilations)):
            np.matmul(block_dy, w[k // kernel[1], k % kernel[1]].T, out=block)
            region[index] += block_view


def _add_input_backprop_by_kernel_rows(padded, w, dy, row_stride, row_dilation):
    """The same sum, for unit stride and dilation along the width, in a third of the additions.

    Input column x receives dy's columns x - j for the kernel columns j: gathering, for every x,
    those KW columns of dy (zero-padded at both ends) as one row makes every kernel row's whole
    contribution one product with the flipped filter, (KW * out) by (KH * in); each kernel row's
    share of the result is added, unstrided along the width, at the kernel row's place. A block of
    images (or rows) at a time, in scratch space.
    """
    (kh, kw, in_channels, out_channels), (n, oh, ow, _) = w.shape, dy.shape
    width = padded.shape[2]  # = ow + kw - 1: every padded input column receives something
    # flipped[(j, o), (i, c)] = w[i, kw - 1 - j, c, o]
    flipped = np.ascontiguousarray(w[:, ::-1].transpose(1, 3, 0, 2)).reshape(kw * out_channels, kh * in_channels)
    span = (kh - 1) * row_dilation + 1
    for first, last, top, bottom in _output_blocks(n, oh, width * kw * out_channels * dy.itemsize,
                                                   PATCH_BLOCK_BYTES):
        images, rows = last - first, bottom - top
        spread = _scratch("input backprop dy", (images, rows, ow + 2 * (kw - 1), out_channels), dy.dtype)
        spread[:, :, :kw - 1] = 0
        spread[:, :, kw - 1 + ow:] = 0
        spread[:, :, kw - 1:kw - 1 + ow] = dy[first:last, top:bottom]
        windows = _read_only_view(spread, (images, rows, width, kw * out_channels), spread.strides)
        gathered = _scratch("input backprop windows", windows.shape, dy.dtype)
        np.copyto(gathered, windows)
        product = _scratch("input backprop", (images * rows * width, kh * in_channels), padded.dtype)
        np.matmul(gathered.reshape(-1, kw * out_channels), flipped, out=product)
        by_kernel_row = product.reshape(images, rows, width, kh, in_channels)
        region = padded[first:last, top * row_stride:(bottom - 1) * row_stride + span]
        for i in range(kh):
            region[:, i * row_dilation:i * row_dilation + row_stride * (rows - 1) + 1:row_stride] += \
                by_kernel_row[:, :, :, i]


def _conv2d_backprop_filter(x, dy, filter_sizes, strides, padding, dilations):
    kernel = filter_sizes[:2]
    oh, ow, pads = _geometry(x.shape, kernel, strides, dilations, padding)
    out_channels = filter_sizes[3]
    _check_out_backprop(dy, x.shape[0], oh, ow, out_channels, "Conv2DBackpropFilter")
    flat_dy = dy.reshape(-1, out_channels)
    total = None
    for rows, patches in _patch_blocks(x, kernel, strides, dilations, oh, ow, pads):
        if total is None:
            total = np.matmul(patches.T, flat_dy[rows])
        else:
            partial = _scratch("filter partial", total.shape, total.dtype)
            np.matmul(patches.T, flat_dy[rows], out=partial)
            total += partial
    if total is None:  # an empty batch or output
        total = np.zeros((math.prod(filter_sizes[:3]), out_channels), np.result_type(x, dy))
    return total.reshape(filter_sizes)


def _four(value, name, rank_name="strides"):
    """TF's strides/dilations/ksize argument (an int, or 1, 2 or 4 numbers) as (height, width)."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    value = [int(v) for v in value]
    if len(value) == 1:
        return (value[0], value[0])
    if len(value) == 2:
        return tuple(value)
    if len(value) == 4:
        if value[0] != 1 or value[3] != 1:
            raise ValueError(f"{name} in the batch and depth dimensions must be 1, got {value}; only the "
                             "height and width entries may differ.")
        return (value[1], value[2])
    raise ValueError(f"{name} must be an int or a list of 1, 2 or 4 ints, got {value}.")


def _padding(padding):
    if isinstance(padding, str):
        padding = padding.upper()
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}.")
        return padding
    pairs = [tuple(int(v) for v in pair) for pair in padding]
    if len(pairs) == 2:  # already (height pair, width pair)
        return tuple(pairs)
    if len(pairs) != 4 or pairs[0] != (0, 0) or pairs[3] != (0, 0):
        raise ValueError(f"explicit padding is [[0, 0], [top, bottom], [left, right], [0, 0]] for NHWC, "
                         f"got {padding}.")
    return (pairs[1], pairs[2])


def _nhwc(data_format, op):
    if data_format not in (None, "NHWC"):
        raise ValueError(f"{op} supports data_format='NHWC' only (as TensorFlow on CPU), got {data_format!r}; "
                         "transpose the input to [batch, height, width, channels].")


def conv_attrs(strides, padding, dilations):
    return {"strides": strides, "padding": padding, "dilations": dilations}


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None, name=None):  # noqa: A002
    """``tf.nn.conv2d``: NHWC input, HWIO filters, ``SAME``/``VALID``/explicit padding, strides, dilations."""
    _nhwc(data_format, "conv2d")
    x, w = binary_inputs("Conv2D", input, filters)
    floating_only("Conv2D", x)
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise ValueError(f"conv2d needs a rank-4 input [batch, height, width, channels] and rank-4 filters "
                         f"[height, width, in_channels, out_channels], got {list(x.shape)} and {list(w.shape)}.")
    attrs = conv_attrs(_four(strides, "strides"), _padding(padding),
                       _four(1 if dilations is None else dilations, "dilations"))
    return execute("Conv2D", _conv2d, (x, w), attrs)


def conv2d_with_attrs(x, w, strides, padding, dilations):
    """Conv2D with already-normalised attributes (the backprops' rules call it)."""
    return execute("Conv2D", _conv2d, (x, w), conv_attrs(strides, padding, dilations))


def conv2d_backprop_input(input_sizes, filters, out_backprop, strides, padding, dilations=(1, 1), name=None):
    """The gradient of conv2d with respect to its input (TF's ``Conv2DBackpropInput``)."""
    w, dy = binary_inputs("Conv2DBackpropInput", filters, out_backprop)
    attrs = {"input_sizes": tuple(int(n) for n in input_sizes), **conv_attrs(_four(strides, "strides"),
                                                                             _padding(padding), _four(dilations, "dilations"))}
    return execute("Conv2DBackpropInput", _conv2d_backprop_input, (w, dy), attrs)


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, dilations=(1, 1), name=None):  # noqa: A002
    """The gradient of conv2d with respect to its filters (TF's ``Conv2DBackpropFilter``)."""
    x, dy = binary_inputs("Conv2DBackpropFilter", input, out_backprop)
    attrs = {"filter_sizes": tuple(int(n) for n in filter_sizes), **conv_attrs(_four(strides, "strides"),
                                                                               _padding(padding), _four(dilations, "dilations"))}
    return execute("Conv2DBackpropFilter", _conv2d_backprop_filter, (x, dy), attrs)


# -- pooling --------------------------------------------------------------------------------------
_ONE = (1, 1)


# Pooling and its gradient take this many bytes of input at a time (whole images): the window
# slices, the masks and the output block then stay in cache between the passes over them. On a
# 64x26x26x32 float32 batch: 0.78x the time of MaxPool over the whole batch at once, 0.80x for MaxPoolGrad.
POOL_BLOCK_BYTES = 1 << 20


def _image_blocks(array):
    """(start, stop) of runs of whole images of ``array`` (NHWC) of about POOL_BLOCK_BYTES each."""
    per = max(1, POOL_BLOCK_BYTES // max(1, array[:1].nbytes))
    return [(start, min(start + per, array.shape[0])) for start in range(0, array.shape[0], per)]


def _max_pool(x, ksize, strides, padding):
    # One elementwise maximum per kernel offset over output-sized strided slices: far faster than
    # reducing a 6-D window view, whose inner axes are tiny.
    oh, ow, pads = _geometry(x.shape, ksize, strides, _ONE, padding)
    padded = _pad(x, pads, -np.inf)
    out = _recycling.empty((x.shape[0], oh, ow, x.shape[3]), x.dtype)
    for start, stop in _image_blocks(padded):
        images, block = padded[start:stop], out[start:stop]
        slices = _offset_slices(ksize, strides, oh, ow)
        np.copyto(block, images[next(slices)])
        for index in slices:
            np.maximum(block, images[index], out=block)
    return out


def _first_maxima(x, y, ksize, strides, padding):
    """(padded shape, pads, [(slice, mask)]): for each kernel offset, where it holds its window's first
    maximum, scanning the window row by row as TF's kernel does (ties go to the first)."""
    oh, ow, pads = _geometry(x.shape, ksize, strides, _ONE, padding)
    padded = _pad(x, pads, -np.inf)
    masks = []
    remaining = None  # windows whose maximum no earlier offset has claimed
    last = ksize[0] * ksize[1] - 1
    for k, index in enumerate(_offset_slices(ksize, strides, oh, ow)):
        hit = padded[index] == y
        if remaining is None:
            remaining = ~hit
        else:
            hit &= remaining
            if k < last:
                remaining ^= hit
        masks.append((index, hit))
    return padded.shape, pads, masks


def _max_pool_grad(x, y, dy, ksize, strides, padding):
    oh, ow, pads = _geometry(x.shape, ksize, strides, _ONE, padding)
    shape = (x.shape[0], x.shape[1] + sum(pads[1]), x.shape[2] + sum(pads[2]), x.shape[3])
    tiled = strides[0] == ksize[0] and strides[1] == ksize[1] and shape[1] == y.shape[1] * strides[0] \
        and shape[2] == y.shape[2] * strides[1]
    # Windows that tile the (padded) input exactly write every element once: no zeros needed first.
    padded = _recycling.empty(shape, dy.dtype)
    if not tiled:
        padded.fill(0)
    disjoint = strides[0] >= ksize[0] and strides[1] >= ksize[1]  # windows do not overlap: write, do not add
    for start, stop in _image_blocks(x):
        _, _, masks = _first_maxima(x[start:stop], y[start:stop], ksize, strides, padding)
        images, gradients = padded[start:stop], dy[start:stop]
        for index, hit in masks:
            if disjoint:
                np.multiply(gradients, hit, out=images[index])
            else:
                images[index] += gradients * hit
    (top, bottom), (left, right) = pads[1], pads[2]
    return padded[:, top:shape[1] - bottom, left:shape[2] - right, :]


def _max_pool_grad_grad(x, y, ddx, ksize, strides, padding):
    _, pads, masks = _first_maxima(x, y, ksize, strides, padding)
    padded = _pad(ddx, pads)
    out = np.zeros(y.shape, ddx.dtype)
    for index, hit in masks:
        out += padded[index] * hit
    return out


def _window_counts(shape, ksize, strides, padding, dtype):
    """How many real (unpadded) elements each output's window covers: AvgPool's divisor."""
    oh, ow, pads = _geometry(shape, ksize, strides, _ONE, padding)
    if not any(before or after for before, after in pads):
        return np.asarray(ksize[0] * ksize[1], dtype), oh, ow, pads
    ones = _pad(np.ones((1, shape[1], shape[2], 1), dtype), pads)
    return _windows(ones, ksize, strides, _ONE, oh, ow).sum(axis=(3, 4)), oh, ow, pads


def _avg_pool(x, ksize, strides, padding):
    counts, oh, ow, pads = _window_counts(x.shape, ksize, strides, padding, x.dtype)
    return _windows(_pad(x, pads), ksize, strides, _ONE, oh, ow).sum(axis=(3, 4)) / counts


def _avg_pool_grad(dy, orig_input_shape, ksize, strides, padding):
    counts, oh, ow, pads = _window_counts(orig_input_shape, ksize, strides, padding, dy.dtype)
    share = dy / counts
    cols = np.broadcast_to(share[:, :, :, None, None, :], (dy.shape[0], oh, ow, ksize[0], ksize[1], dy.shape[3]))
    return _scatter_windows(cols, orig_input_shape, pads, ksize, strides, _ONE)


def _pool_attrs(ksize, strides, padding):
    return {"ksize": _four(ksize, "ksize"), "strides": _four(strides, "strides"), "padding": _padding(padding)}


def _pool_input(op_type, input, data_format):  # noqa: A002
    _nhwc(data_format, op_type)
    x = as_tensor(input)
    floating_only(op_type, x)
    if len(x.shape) != 4:
        raise ValueError(f"{op_type} needs a rank-4 input [batch, height, width, channels], got {list(x.shape)}.")
    return x


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """The maximum of each ``ksize`` window (``tf.nn.max_pool2d``; op type ``MaxPool``)."""
    x = _pool_input("MaxPool", input, data_format)
    return execute("MaxPool", _max_pool, (x,), _pool_attrs(ksize, strides, padding))


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """The mean of each ``ksize`` window over its real elements (``tf.nn.avg_pool2d``; op type ``AvgPool``)."""
    x = _pool_input("AvgPool", input, data_format)
    return execute("AvgPool", _avg_pool, (x,), _pool_attrs(ksize, strides, padding))


def max_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """``tf.nn.max_pool`` for rank-4 inputs (2-D pooling)."""
    return max_pool2d(input, ksize, strides, padding, data_format or "NHWC")


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """``tf.nn.avg_pool`` for rank-4 inputs (2-D pooling)."""
    return avg_pool2d(input, ksize, strides, padding, data_format or "NHWC")


def avg_pool_with_attrs(x, attrs):
    return execute("AvgPool", _avg_pool, (x,), attrs)


def max_pool_grad(orig_input, orig_output, grad, attrs):
    """TF's ``MaxPoolGrad``: ``grad`` routed to the first maximum of each window."""
    return execute("MaxPoolGrad", _max_pool_grad, (orig_input, orig_output, grad), attrs)


def max_pool_grad_grad(orig_input, orig_output, grad, attrs):
    """TF's ``MaxPoolGradGrad``: ``grad`` (input-shaped) read at each window's first maximum."""
    return execute("MaxPoolGradGrad", _max_pool_grad_grad, (orig_input, orig_output, grad), attrs)


def avg_pool_grad(orig_input_shape, grad, attrs):
    """TF's ``AvgPoolGrad``: each output's gradient shared equally over its window's real elements."""
    return execute("AvgPoolGrad", _avg_pool_grad, (grad,), {"orig_input_shape": tuple(orig_input_shape), **attrs})
