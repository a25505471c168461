"""``image.resize`` with the bilinear and nearest-neighbour methods of TF 2 (half-pixel centres).

Composed of gathers along height and width and the interpolation arithmetic, in the order of TF's
ResizeBilinear kernel (along the width first, then the height), so gradients come from the GatherV2
rule and match TF's ResizeBilinearGrad.
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
