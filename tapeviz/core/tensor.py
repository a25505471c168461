"""Tensors (immutable values with an identity the tape can follow) and Variables (mutable state).

A Tensor wraps one numpy value. Its ``_id`` is what tapes record; a Variable's reads all share the
variable's id, so every read of a variable adds to one gradient, as in TensorFlow. Operators
(``+``, ``@``, ``[...]``, ...) are installed by ``tapeviz.ops`` so this file knows no op.
"""
import itertools

import numpy as np

from . import dtypes
from .context import notify, observers, state, variable_accessed

_next_id = itertools.count(1).__next__
_INT32 = np.iinfo(np.int32)


class TensorShape(tuple):
    """A tuple of dimensions, printed as TensorFlow prints shapes: ``(4, 3)``."""

    __slots__ = ()

    @property
    def rank(self):
        return len(self)

    ndims = rank

    def as_list(self):
        return list(self)

    def num_elements(self):
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):
        return tuple.__repr__(self)


def _numpy_text(value, is_repr=False):
    if np.ndim(value) == 0:
        text = str(value[()] if isinstance(value, np.ndarray) else value)
        if value.dtype.kind == "b":
            text = "True" if value else "False"
    else:
        text = repr(value) if is_repr else str(value)
    return "\n" + text if "\n" in text else text


class _TensorLike:
    """What Tensors and Variables share: metadata, numpy interop and Python conversions."""

    __slots__ = ()
    # Makes ``ndarray * tensor`` defer to the tensor's reflected operator, as TF's tensors do.
    __array_priority__ = 100

    @property
    def dtype(self):
        return dtypes.from_numpy(self._value_for_read().dtype)

    @property
    def shape(self):
        return TensorShape(self._value_for_read().shape)

    def get_shape(self):
        return self.shape

    @property
    def ndim(self):
        return self._value_for_read().ndim

    def numpy(self):
        if observers:
            notify("tensor_converted", self, "numpy")
        value = self._value_for_read()
        return value[()] if value.ndim == 0 else value

    def __array__(self, dtype=None, copy=None):
        if observers:
            notify("tensor_converted", self, "numpy array")
        value = np.asarray(self._value_for_read())
        return value if dtype is None else value.astype(dtype)

    def __len__(self):
        shape = self._value_for_read().shape
        if not shape:
            raise TypeError("len() of a scalar (rank-0) tensor is not defined; it has no first dimension.")
        return shape[0]

    def __iter__(self):
        if not self._value_for_read().shape:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        if observers:
            notify("tensor_converted", self, "bool")
        return bool(self._value_for_read())

    def __float__(self):
        if observers:
            notify("tensor_converted", self, "float")
        return float(self._value_for_read())

    def __int__(self):
        if observers:
            notify("tensor_converted", self, "int")
        return int(self._value_for_read())

    def __index__(self):
        value = self._value_for_read()
        if value.dtype.kind not in "iu" or value.ndim:
            raise TypeError(f"Only integer scalar tensors can be used as an index, not {self.dtype.name} of shape {self.shape}.")
        return int(value)

    __hash__ = None  # ``==`` is element-wise, so tensors cannot be dict keys (use ``.ref()``), as in TF.

    def ref(self):
        """A hashable reference to this object, for use as a dict key or set member."""
        return _Ref(self)


class _Ref:
    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other._obj is self._obj


class Tensor(_TensorLike):
    """An immutable value, the output of an op or a constant."""

    __slots__ = ("_value", "_id", "__weakref__")

    def __init__(self, value):
        self._value = value
        self._id = _next_id()

    def _value_for_read(self):
        return self._value

    def __str__(self):
        return f"tapeviz.Tensor({_numpy_text(self._value)}, shape={self.shape}, dtype={self.dtype.name})"

    def __repr__(self):
        return f"<tapeviz.Tensor: shape={self.shape}, dtype={self.dtype.name}, numpy={_numpy_text(self._value, True)}>"


class Variable(_TensorLike):
    """Mutable state. Trainable variables read inside a tape are watched automatically."""

    __slots__ = ("_snapshot", "_id", "_name", "_trainable", "__weakref__")

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None):
        if initial_value is None:
            raise ValueError("initial_value must be specified: Variable(initial_value, ...).")
        if callable(initial_value):
            initial_value = initial_value()
        value = convert_to_tensor(initial_value, dtype=dtype)._value
        if shape is not None and tuple(shape) != value.shape:
            raise ValueError(f"Variable shape {tuple(shape)} does not match its initial value's shape {value.shape}.")
        self._id = _next_id()
        self._snapshot = _snapshot(np.array(value) if isinstance(value, np.ndarray) else value, self._id)
        self._name = state.name_scope + (name or "Variable") + ":0"
        self._trainable = bool(trainable)
        if observers:
            notify("variable_created", self)

    @property
    def name(self):
        return self._name

    @property
    def trainable(self):
        return self._trainable

    def _value_for_read(self):
        return self._snapshot._value

    def _read(self):
        """The variable's current value as a Tensor; tells recording tapes it was read."""
        if state.tapes or state.variable_watchers:
            variable_accessed(self)
        return self._snapshot

    def value(self):
        return self._read()

    read_value = value

    def assign(self, value, read_value=True):
        self._set(value)
        if observers:
            notify("variable_assigned", self, value, "assign")
        return self

    def assign_add(self, delta, read_value=True):
        self._set(self._snapshot._value + convert_to_tensor(delta, dtype=self.dtype)._value)
        if observers:
            notify("variable_assigned", self, delta, "assign_add")
        return self

    def assign_sub(self, delta, read_value=True):
        self._set(self._snapshot._value - convert_to_tensor(delta, dtype=self.dtype)._value)
        if observers:
            notify("variable_assigned", self, delta, "assign_sub")
        return self

    def _set(self, value):
        new = convert_to_tensor(value, dtype=self.dtype)._value
        old = self._snapshot._value
        if new.shape != old.shape:
            raise ValueError(
                f"Cannot assign a value of shape {new.shape} to variable '{self._name}' of shape {old.shape}; "
                "shapes must be equal (reshape the value, or create a new Variable)."
            )
        # A new snapshot, not an in-place write: tensors read earlier keep the values they had.
        self._snapshot = _snapshot(np.array(new) if isinstance(new, np.ndarray) else new, self._id)

    def __str__(self):
        return self.__repr__()

    def __repr__(self):
        return (f"<tapeviz.Variable '{self._name}' shape={self.shape} dtype={self.dtype.name}, "
                f"numpy={_numpy_text(self._snapshot._value, True)}>")


def _snapshot(value, variable_id):
    tensor = Tensor(value)
    tensor._id = variable_id
    return tensor


def _infer_value(value):
    """numpy value for a Python value with TF's defaults: float -> float32, int -> int32."""
    array = np.asarray(value)
    kind = array.dtype.kind
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return array if isinstance(value, np.ndarray) else value
    if kind == "f":
        return array.astype(np.float32)
    if kind in "iu":
        if array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
            return array.astype(np.int64)
        return array.astype(np.int32)
    if kind in "bUS":
        return array
    raise TypeError(
        f"Cannot convert {value!r} to a tensor: tapeviz tensors hold numbers or bools "
        f"(got numpy dtype {array.dtype})."
    )


def _cast_checked(value, np_dtype):
    """Convert ``value`` to ``np_dtype``, refusing lossy float -> int conversions as TF does."""
    array = np.asarray(value)
    if array.dtype == np_dtype:
        return array
    if np_dtype.kind in "iub" and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtypes.from_numpy(np_dtype).name}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtypes.from_numpy(np_dtype).name}")
    return array.astype(np_dtype)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """A Tensor for ``value``: tensors pass through, variables are read, Python values converted."""
    if isinstance(value, Tensor):
        if dtype is not None and dtypes.as_dtype(dtype) is not value.dtype:
            raise ValueError(
                f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} for Tensor with dtype "
                f"{value.dtype.name}; use tapeviz.cast to change a tensor's dtype."
            )
        return value
    if isinstance(value, Variable):
        return convert_to_tensor(value._read(), dtype=dtype)
    if isinstance(value, (list, tuple)) and any(isinstance(v, _TensorLike) for v in _flat_items(value)):
        value = _nested_numpy(value)
    if dtype is not None:
        return Tensor(_cast_checked(value, np.dtype(dtypes.as_dtype(dtype).name)))
    inferred = _infer_value(value)
    if dtype_hint is not None and not isinstance(value, (np.ndarray, np.generic)):
        try:
            inferred = _cast_checked(value, np.dtype(dtypes.as_dtype(dtype_hint).name))
        except TypeError:
            pass
    dtypes.from_numpy(inferred.dtype)
    return Tensor(inferred)


def _flat_items(value):
    for item in value:
        if isinstance(item, (list, tuple)):
            yield from _flat_items(item)
        else:
            yield item


def _nested_numpy(value):
    if isinstance(value, (list, tuple)):
        return [_nested_numpy(v) for v in value]
    if isinstance(value, _TensorLike):
        return value.numpy()
    return value


def convert_like(value, like):
    """``value`` as a Tensor of ``like``'s dtype: how a Python operand meets a tensor (``x * 2.0``)."""
    kind = type(value)
    if kind is Tensor:
        return value
    if kind is Variable:
        return value._read()
    np_dtype = like._value.dtype
    if kind is float or kind is int:
        if np_dtype.kind in "iu" and kind is float and not value.is_integer():
            raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtypes.from_numpy(np_dtype).name}")
        return Tensor(np_dtype.type(value))
    return Tensor(_cast_checked(_nested_numpy(value) if isinstance(value, (list, tuple)) else value, np_dtype))
