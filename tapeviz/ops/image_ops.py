"""``tf.image``'s functions: ``resize`` with TF 2's bilinear and nearest-neighbour methods
(half-pixel centres), and the flips, rotations, crops, pads, standardization, conversions and colour
adjustments data pipelines use.

Everything is composed of ops as TF composes it: resizing gathers rows and columns and interpolates
in the order of TF's ResizeBilinear kernel (along the width, then the height), so gradients come
from the GatherV2 rule and match TF's ResizeBilinearGrad; the others are slices, pads, reverses and
arithmetic. ``adjust_contrast`` is TF's AdjustContrastv2 op, which has no gradient there or here.
Random crops and flips are reproducible with a seed, but are not TF's draws.
"""
import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.tensor import Tensor

from . import array_ops
from ._dispatch import as_tensor

__all__ = []

BILINEAR, NEAREST_NEIGHBOR = "bilinear", "nearest"


class ResizeMethod:
    """TF's names for the resize methods tapeviz has."""
    BILINEAR = BILINEAR
    NEAREST_NEIGHBOR = NEAREST_NEIGHBOR


def _bilinear_weights(in_size, out_size):
    """TF's compute_interpolation_weights with half-pixel centres: lower and upper source index and
    the weight of the upper one, for each output index."""
    scale = in_size / out_size
    position = (np.arange(out_size) + 0.5) * scale - 0.5
    floor = np.floor(position)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(position), in_size - 1).astype(np.int64)
    return lower, upper, (position - floor).astype(np.float32)


def _nearest_indices(in_size, out_size):
    scale = in_size / out_size
    return np.minimum(np.floor((np.arange(out_size) + 0.5) * np.float32(scale)), in_size - 1).astype(np.int64)


def _interpolate(x, axis, in_size, out_size):
    lower, upper, weight = _bilinear_weights(in_size, out_size)
    low = array_ops.gather(x, Tensor(lower), axis=axis)
    high = array_ops.gather(x, Tensor(upper), axis=axis)
    shape = [1] * x.ndim
    shape[axis] = out_size
    return low + (high - low) * Tensor(weight.reshape(shape))


def resize(images, size, method=BILINEAR, preserve_aspect_ratio=False, antialias=False, name=None):
    """Images ([batch,] height, width, channels) resized to ``size`` = [new_height, new_width].
    Bilinear gives float32, nearest keeps the dtype, as in TF."""
    x = as_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"'images' must have either 3 or 4 dimensions, got shape {list(x.shape)}.")
    size = [int(n) for n in np.asarray(size._value if isinstance(size, Tensor) else size).reshape(-1)]
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"size must be a 1-D list of 2 positive integers [new_height, new_width], got {size}.")
    method = getattr(method, "value", method)
    if method not in (BILINEAR, NEAREST_NEIGHBOR):
        raise NotImplementedError(f"image.resize supports method='bilinear' and 'nearest' in tapeviz, got "
                                  f"{method!r}; resize with one of those.")
    if antialias or preserve_aspect_ratio:
        raise NotImplementedError("image.resize with antialias or preserve_aspect_ratio is not supported in "
                                  "tapeviz; resize without them.")
    batched = x if x.ndim == 4 else array_ops.expand_dims(x, 0)
    height, width = batched.shape[1], batched.shape[2]
    if method == NEAREST_NEIGHBOR:
        out = array_ops.gather(batched, Tensor(_nearest_indices(height, size[0])), axis=1)
        out = array_ops.gather(out, Tensor(_nearest_indices(width, size[1])), axis=2)
    else:
        if batched.dtype is not dtypes.float32:
            batched = array_ops.cast(batched, dtypes.float32)
        out = _interpolate(_interpolate(batched, 2, width, size[1]), 1, height, size[0])
    return out if x.ndim == 4 else array_ops.squeeze(out, [0])


# Augmentation and conversion, composed as TF composes them ------------------------------------------------
def _image(images, what):
    x = as_tensor(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"{what}: 'image' must be at least three-dimensional ([height, width, channels] or "
                         f"[batch, height, width, channels]), got shape {list(x.shape)}.")
    return x


def flip_left_right(image):
    """The image mirrored left to right (its width reversed)."""
    return array_ops.reverse(_image(image, "flip_left_right"), [-2])


def flip_up_down(image):
    """The image mirrored top to bottom (its height reversed)."""
    return array_ops.reverse(_image(image, "flip_up_down"), [-3])


def rot90(image, k=1, name=None):
    """The image rotated by 90 degrees counter-clockwise ``k`` times, as TF composes it."""
    x = _image(image, "rot90")
    k = int(k) % 4
    height, width = x.ndim - 3, x.ndim - 2
    perm = list(range(x.ndim))
    perm[height], perm[width] = perm[width], perm[height]
    if k == 1:
        return array_ops.transpose(array_ops.reverse(x, [width]), perm)
    if k == 2:
        return array_ops.reverse(x, [height, width])
    if k == 3:
        return array_ops.reverse(array_ops.transpose(x, perm), [width])
    return x


def _floating(x):
    return x if x.dtype.is_floating else array_ops.cast(x, dtypes.float32)


def per_image_standardization(image):
    """Each image scaled to mean 0 and variance 1 (its standard deviation at least 1/sqrt(pixels))."""
    from . import math_ops, reduction_ops, stat_ops
    x = _floating(_image(image, "per_image_standardization"))
    pixels = int(np.prod(x.shape[-3:]))
    mean = reduction_ops.reduce_mean(x, axis=[-1, -2, -3], keepdims=True)
    stddev = stat_ops.reduce_std(x, axis=[-1, -2, -3], keepdims=True)
    adjusted = math_ops.maximum(stddev, np.float32(1.0 / np.sqrt(np.float32(pixels))))
    return math_ops.divide(x - mean, adjusted)


def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Between float images in [0, 1] and integer images in [0, dtype.max], as TF scales them."""
    x, dtype = as_tensor(image), dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    if x.dtype.is_floating and dtype.is_floating:
        return array_ops.cast(x, dtype)
    if x.dtype.is_floating and dtype.is_integer:
        scaled = x * (float(np.iinfo(dtype.name).max) + 0.5)  # TF's + 0.5 avoids rounding down in the cast
        if saturate:
            info = np.iinfo(dtype.name)
            scaled = array_ops.clip_by_value(scaled, float(info.min), float(info.max))
        return array_ops.cast(scaled, dtype)
    if x.dtype.is_integer and dtype.is_floating:
        return array_ops.cast(x, dtype) * (1.0 / np.iinfo(x.dtype.name).max)
    raise NotImplementedError(f"convert_image_dtype from {x.dtype.name} to {dtype.name} is not supported in tapeviz; "
                              "convert through float32.")


def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """The target_height x target_width part of the image starting at (offset_height, offset_width)."""
    x = _image(image, "crop_to_bounding_box")
    height, width = x.shape[-3], x.shape[-2]
    box = [int(offset_height), int(offset_width), int(target_height), int(target_width)]
    if min(box[:2]) < 0 or min(box[2:]) <= 0:
        raise ValueError(f"offset_height and offset_width must be >= 0 and the target sizes > 0, got offsets "
                         f"{box[:2]} and sizes {box[2:]}.")
    for what, size, offset, target in (("height", height, box[0], box[2]), ("width", width, box[1], box[3])):
        if offset + target > size:
            raise ValueError(f"{what} must be >= target + offset: the image's {what} is {size}, the box needs "
                             f"{offset} + {target}; shrink the box or move it.")
    key = (slice(None),) * (x.ndim - 3) + (slice(box[0], box[0] + box[2]), slice(box[1], box[1] + box[3]))
    return x[key]


def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """The image placed at (offset_height, offset_width) in zeros of target_height x target_width."""
    x = _image(image, "pad_to_bounding_box")
    height, width = x.shape[-3], x.shape[-2]
    after_height = int(target_height) - int(offset_height) - height
    after_width = int(target_width) - int(offset_width) - width
    if min(int(offset_height), int(offset_width), after_height, after_width) < 0:
        raise ValueError(f"The image of height {height} and width {width} at offset ({offset_height}, "
                         f"{offset_width}) does not fit in {target_height} x {target_width}: offsets must be >= 0 "
                         "and the target at least the offset plus the image.")
    paddings = [[0, 0]] * (x.ndim - 3) + [[int(offset_height), after_height], [int(offset_width), after_width], [0, 0]]
    return array_ops.pad(x, paddings)


def resize_with_crop_or_pad(image, target_height, target_width):
    """The image centred in target_height x target_width: cropped where larger, padded with zeros where smaller."""
    x = _image(image, "resize_with_crop_or_pad")
    height, width = x.shape[-3], x.shape[-2]
    height_diff, width_diff = int(target_height) - height, int(target_width) - width
    cropped = crop_to_bounding_box(x, max(-height_diff // 2, 0), max(-width_diff // 2, 0),
                                   min(int(target_height), height), min(int(target_width), width))
    return pad_to_bounding_box(cropped, max(height_diff // 2, 0), max(width_diff // 2, 0), int(target_height),
                               int(target_width))


def central_crop(image, central_fraction):
    """The central ``central_fraction`` of the image's height and width, as TF rounds it."""
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError("central_fraction must be within (0, 1]")
    x = _image(image, "central_crop")
    if central_fraction == 1.0:
        return x
    offset = int(1 / ((1 - central_fraction) / 2.0))
    height, width = x.shape[-3], x.shape[-2]
    top, left = height // offset, width // offset
    return crop_to_bounding_box(x, top, left, height - 2 * top, width - 2 * left)


def adjust_brightness(image, delta):
    """``image + delta`` (in float; an integer image is converted there and back, as in TF)."""
    x = as_tensor(image)
    if x.dtype.is_floating:
        return x + array_ops.cast(delta, x.dtype)
    return convert_image_dtype(convert_image_dtype(x, dtypes.float32) + float(delta), x.dtype, saturate=True)


def _adjust_contrast(images, factor):
    mean = images.mean(axis=(-3, -2), keepdims=True, dtype=np.float64).astype(images.dtype)
    return ((images - mean) * factor + mean).astype(images.dtype)


def adjust_contrast(images, contrast_factor):
    """(x - mean) * contrast_factor + mean per image and channel (op AdjustContrastv2, which has no
    gradient in TF: a LookupError if one is asked for, as there)."""
    from tapeviz.core.execute import execute
    x = _floating(_image(images, "adjust_contrast"))
    return execute("AdjustContrastv2", _adjust_contrast, (x,), {"factor": float(contrast_factor)})


def rgb_to_grayscale(images, name=None):
    """The luma of RGB images, 0.2989 R + 0.5870 G + 0.1140 B, with a channel axis of 1."""
    from .matrix_ops import tensordot
    x = _floating(as_tensor(images))
    weights = Tensor(np.array([0.2989, 0.5870, 0.1140], dtype=x._value.dtype))
    return array_ops.expand_dims(tensordot(x, weights, [[-1], [-1]]), -1)


def grayscale_to_rgb(images, name=None):
    """One-channel images with the channel repeated three times."""
    x = as_tensor(images)
    return array_ops.tile(x, [1] * (x.ndim - 1) + [3])


def random_crop(value, size, seed=None, name=None):
    """A random ``size`` block of ``value`` (every offset equally likely); the draws are not TF's."""
    from . import random_ops
    x = as_tensor(value)
    size = [int(n) for n in np.asarray(size._value if isinstance(size, Tensor) else size).reshape(-1)]
    if len(size) != x.ndim or any(s > n or s < 0 for s, n in zip(size, x.shape)):
        from tapeviz.core.errors import InvalidArgumentError
        raise InvalidArgumentError(f"Need value.shape >= size, got {list(x.shape)} and {size}: size needs one "
                                   "entry per dimension, each at most value's.")
    limits = np.array(x.shape) - np.array(size) + 1
    offsets = random_ops.uniform([x.ndim], 0, 2 ** 31 - 1, dtype=dtypes.int32, seed=seed)._value % limits
    return array_ops.slice(x, offsets.tolist(), size)


def _random_flip(image, seed, axis, what):
    from . import random_ops
    x = _image(image, what)
    flipped = array_ops.reverse(x, [axis])
    count = x.shape[0] if x.ndim == 4 else 1
    draws = random_ops.uniform([count], seed=seed)._value < 0.5
    if x.ndim == 3:
        return flipped if draws[0] else x
    return array_ops.where(Tensor(draws.reshape(-1, 1, 1, 1)), flipped, x)


def random_flip_left_right(image, seed=None):
    """Each image mirrored left to right with probability 1/2 (the draws are not TF's)."""
    return _random_flip(image, seed, -2, "random_flip_left_right")


def random_flip_up_down(image, seed=None):
    """Each image mirrored top to bottom with probability 1/2 (the draws are not TF's)."""
    return _random_flip(image, seed, -3, "random_flip_up_down")
