"""Elementwise optimizer arithmetic in cache-sized blocks: the same float32 operations, fewer trips to memory.

An Adam update is a dozen elementwise numpy operations over arrays as large as the weights. Done
whole-array, each operation streams megabytes through main memory; done block by block, the dozen
operations run on slices that stay in the core's L2 cache, so each array is read and written once.
Every operation is elementwise on arrays of one shape, so the result is bit for bit the whole-array
result (same operations, same order, same rounding per element).
"""
import numpy as np

# Elements per block: 128 KiB per float32 slice; an update touches about six slices at once (gradient,
# two moments, weights, two scratch buffers), which fit a 1-2 MiB L2 cache. Measured on a 784x512
# float32 Adam update: 32768 ran it in 0.63x the whole-array time, 4096 (Python overhead) in 0.94x.
BLOCK = 32768


def flat_blocks(length):
    """(start, stop) of each block of a flat array of ``length`` elements."""
    return [(start, min(start + BLOCK, length)) for start in range(0, length, BLOCK)] or [(0, 0)]


def contiguous_writable(array):
    """``array`` when it is C-contiguous and writable, else a C-contiguous copy of it (0-d arrays too)."""
    if isinstance(array, np.ndarray) and array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.array(array, order="C")


class Scratch:
    """Two reusable block-sized buffers per dtype: no allocation per update, and they stay in cache."""

    def __init__(self):
        self._buffers = {}

    def pair(self, dtype, size):
        buffers = self._buffers.get(dtype)
        if buffers is None:
            buffers = self._buffers[dtype] = (np.empty(BLOCK, dtype), np.empty(BLOCK, dtype))
        if size == BLOCK:
            return buffers
        return buffers[0][:size], buffers[1][:size]
