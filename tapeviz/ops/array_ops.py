"""Shape and layout ops (reshape, stack, ...) and tensor creation, under TensorFlow's op-type names."""
import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor, convert_to_tensor

from ._dispatch import as_tensor

__all__ = ["constant", "reshape", "stack", "reduce_sum", "ones", "zeros"]


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor; Python floats become float32 and ints int32 unless ``dtype`` says otherwise."""
    tensor = convert_to_tensor(value, dtype=dtype)
    if shape is not None:
        value = tensor._value
        shape = tuple(shape)
        if value.size == 1:
            value = np.broadcast_to(value.reshape(()), shape).copy()
        elif value.size == int(np.prod(shape)):
            value = value.reshape(shape)
        else:
            raise TypeError(f"Eager execution of tapeviz.constant with unsupported shape: value has "
                            f"{value.size} elements, shape {list(shape)} needs {int(np.prod(shape))}.")
        tensor = Tensor(value)
    return tensor


def reshape(tensor, shape, name=None):
    shape = tuple(int(n) for n in np.asarray(shape).reshape(-1))
    return execute("Reshape", np.reshape, (as_tensor(tensor),), {"shape": shape})


def stack(values, axis=0, name=None):
    tensors = [as_tensor(v) for v in values]
    return execute("Pack", lambda *xs, axis: np.stack(xs, axis=axis), tuple(tensors), {"axis": axis})


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return execute("Sum", np.sum, (as_tensor(input_tensor),), {"axis": axis, "keepdims": keepdims})


def ones(shape, dtype=dtypes.float32, name=None):
    return Tensor(np.ones(_shape(shape), dtype=dtypes.as_dtype(dtype).name))


def zeros(shape, dtype=dtypes.float32, name=None):
    return Tensor(np.zeros(_shape(shape), dtype=dtypes.as_dtype(dtype).name))


def _shape(shape):
    if isinstance(shape, Tensor):
        shape = shape.numpy()
    return tuple(int(n) for n in np.asarray(shape).reshape(-1)) if np.ndim(shape) else (int(shape),)
