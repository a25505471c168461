"""The few shape ops the core runs itself (jacobians, the per-row fallback of vectorized passes).

Recorded under TensorFlow's op-type names with the attributes ``tapeviz.ops`` gives them, so the
registered rules differentiate them like any other op (nested tapes see jacobians too). Kept here,
below ``tapeviz.ops``, so that the core imports nothing built on it.
"""
import numpy as np

from .execute import execute


def _stack(*values, axis):
    return np.stack(values, axis=axis)


def _concat(*values, axis):
    return np.concatenate(values, axis=axis)


def _strided_slice(x, key):
    return x[key]


def reshape(tensor, shape):
    return execute("Reshape", np.reshape, (tensor,), {"shape": tuple(int(n) for n in shape)})


def stack(tensors, axis=0):
    return execute("Pack", _stack, tuple(tensors), {"axis": axis})


def concat(tensors, axis=0):
    return execute("ConcatV2", _concat, tuple(tensors), {"axis": axis})


def transpose(tensor, perm):
    return execute("Transpose", np.transpose, (tensor,), {"axes": tuple(perm)})


def row(tensor, index):
    """``tensor[index]`` along the first axis."""
    return execute("StridedSlice", _strided_slice, (tensor,), {"key": (int(index),)})
