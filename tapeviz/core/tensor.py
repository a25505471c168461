"""Tensors (immutable values with an identity the tape can follow) and Variables (mutable state).

A Tensor wraps one numpy value. Its ``_id`` is what tapes record. Every read of a Variable makes a new
Tensor, connected to the variable (by a recorded ``ReadVariableOp``) only on the tapes that watched the
variable when the read happened, as in TensorFlow: a copy taken before the tape is a constant. Operators
(``+``, ``@``, ``[...]``, ...) are installed by ``tapeviz.ops`` so this file knows no op.
"""
import itertools

import numpy as np

from . import dtypes
from .context import notify, observers, state, variable_accessed

_next_id = itertools.count(1).__next__
_INT32 = np.iinfo(np.int32)


class TensorShape(tuple):
    """A tuple of dimensions (None for an unknown one), printed as TensorFlow prints shapes: ``(4, 3)``.

    ``TensorShape(None)`` is a shape of unknown rank. As TF's, a shape equals a list or tuple of the same
    dimensions, and a slice of a shape is a shape.
    """

    __slots__ = ()

    def __new__(cls, dims=()):
        if dims is None:
            return tuple.__new__(_UnknownRankShape)
        if isinstance(dims, int):
            dims = (dims,)
        return tuple.__new__(cls, (None if d is None else int(d) for d in dims))

    @property
    def rank(self):
        return len(self)

    ndims = rank

    @property
    def dims(self):
        return list(self)

    def as_list(self):
        return list(self)

    def num_elements(self):
        if None in self:
            return None
        return int(np.prod(self, dtype=np.int64))

    def is_fully_defined(self):
        return None not in self

    def is_compatible_with(self, other):
        other = as_shape(other)
        if self.rank is None or other.rank is None:
            return True
        return len(self) == len(other) and all(a is None or b is None or a == b for a, b in zip(self, other))

    def concatenate(self, other):
        other = as_shape(other)
        if other.rank is None:
            return other
        return TensorShape(tuple(self) + tuple(other))

    def __add__(self, other):
        return self.concatenate(other)

    def __radd__(self, other):
        return as_shape(other).concatenate(self)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return tuple.__new__(TensorShape, tuple.__getitem__(self, key))
        return tuple.__getitem__(self, key)

    def __eq__(self, other):
        if isinstance(other, (list, tuple)) and not isinstance(other, _UnknownRankShape):
            return tuple(self) == tuple(other)
        return NotImplemented if not isinstance(other, _UnknownRankShape) else False

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):
        return tuple.__repr__(self)


class _UnknownRankShape(TensorShape):
    """``TensorShape(None)``: a shape whose rank is not known (a variable created with ``shape=TensorShape(None)``)."""

    __slots__ = ()
    rank = ndims = dims = None

    def as_list(self):
        raise ValueError("as_list() is not defined on an unknown TensorShape.")

    def num_elements(self):
        return None

    def is_fully_defined(self):
        return False

    def concatenate(self, other):
        return self

    def __eq__(self, other):
        return isinstance(other, _UnknownRankShape)

    __hash__ = tuple.__hash__

    def __repr__(self):
        return "TensorShape(None)"

    def __str__(self):
        return "<unknown>"


def as_shape(shape):
    """``shape`` (a TensorShape, list, tuple, int or None) as a TensorShape."""
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


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
        return tuple.__new__(TensorShape, self._value_for_read().shape)

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

    def __format__(self, format_spec):
        """``f"{t}"`` and ``f"{loss:.2f}"`` format the value as numpy does, as TF's tensors do (a Variable
        formats as it prints, as TF's)."""
        return self.numpy().__format__(format_spec)

    def __str__(self):
        return f"tapeviz.Tensor({_numpy_text(self._value)}, shape={self.shape}, dtype={self.dtype.name})"

    def __repr__(self):
        return f"<tapeviz.Tensor: shape={self.shape}, dtype={self.dtype.name}, numpy={_numpy_text(self._value, True)}>"


_new_tensor = object.__new__


class Variable(_TensorLike):
    """Mutable state. Trainable variables read inside a tape are watched automatically."""

    __slots__ = ("_snapshot", "_id", "_name", "_trainable", "_constraint", "_shape", "__weakref__")

    def __init__(self, initial_value=None, trainable=True, name=None, dtype=None, shape=None, constraint=None):
        if initial_value is None:
            raise ValueError("initial_value must be specified: Variable(initial_value, ...).")
        if callable(initial_value):
            initial_value = initial_value()
        value = convert_to_tensor(initial_value, dtype=dtype)._value
        if constraint is not None and not callable(constraint):
            raise ValueError(f"The `constraint` argument must be a callable, got {constraint!r}.")
        # A declared shape may leave dimensions (or the rank) unknown: later assignments may then change them.
        declared = None if shape is None else as_shape(shape)
        if declared is not None and not declared.is_compatible_with(value.shape):
            raise ValueError(f"Variable shape {declared} does not match its initial value's shape {value.shape}.")
        self._shape = declared if declared is not None and not declared.is_fully_defined() else None
        self._id = _next_id()
        self._snapshot = _snapshot(np.array(value) if isinstance(value, np.ndarray) else value, self._id)
        self._name = state.name_scope + (name or "Variable") + ":0"
        self._trainable = bool(trainable)
        self._constraint = constraint  # kept for optimizers, as TF keeps it; assign does not apply it
        if observers:
            notify("variable_created", self)

    @property
    def constraint(self):
        return self._constraint

    @property
    def shape(self):
        return self._shape if self._shape is not None else tuple.__new__(TensorShape, self._snapshot._value.shape)

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        """Keras 3's name for a layer's weight: ``"sequential/dense/kernel"`` for ``sequential/dense/kernel:0``."""
        return self._name[:-2] if self._name.endswith(":0") else self._name

    @property
    def trainable(self):
        return self._trainable

    def _value_for_read(self):
        return self._snapshot._value

    def _read(self):
        """The variable's current value as a new Tensor; tells recording tapes it was read.

        The read is recorded (op ReadVariableOp, input the variable) on the tapes that watch the
        variable now, so only they connect the new tensor to the variable (TF's ReadVariableOp).
        """
        snapshot = self._snapshot
        read = _new_tensor(Tensor)
        read._value = snapshot._value
        read._id = _next_id()
        if state.tapes or state.variable_watchers:
            variable_accessed(self)
        if state.tapes or observers:
            _execute.record("ReadVariableOp", (snapshot,), (read,), None)
        return read

    def value(self):
        return self._read()

    read_value = value

    # As TF's, assignments return the variable to read later ("UnreadVariable"), or None with read_value=False.
    def assign(self, value, use_locking=None, name=None, read_value=True):
        self._set(value)
        if observers:
            notify("variable_assigned", self, value, "assign")
        return _UnreadVariable(self) if read_value else None

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        self._set(self._snapshot._value + convert_to_tensor(delta, dtype=self.dtype)._value)
        if observers:
            notify("variable_assigned", self, delta, "assign_add")
        return _UnreadVariable(self) if read_value else None

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        self._set(self._snapshot._value - convert_to_tensor(delta, dtype=self.dtype)._value)
        if observers:
            notify("variable_assigned", self, delta, "assign_sub")
        return _UnreadVariable(self) if read_value else None

    def _set(self, value):
        new = convert_to_tensor(value, dtype=self.dtype)._value
        old = self._snapshot._value
        if self._shape is not None and self._shape.is_compatible_with(new.shape):
            pass  # a declared shape with unknown dimensions: the value may change shape
        elif new.shape != old.shape:
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


class _UnreadVariable(Variable):
    """What ``assign`` returns, as in TF: the same variable (reading it reads the variable now), named
    'UnreadVariable' when printed."""

    __slots__ = ("_parent",)

    def __init__(self, parent):
        self._parent = parent
        self._name = "UnreadVariable"

    _snapshot = property(lambda self: self._parent._snapshot,
                         lambda self, snapshot: setattr(self._parent, "_snapshot", snapshot))
    _id = property(lambda self: self._parent._id)
    _trainable = property(lambda self: self._parent._trainable)
    _constraint = property(lambda self: self._parent._constraint)
    _shape = property(lambda self: self._parent._shape)

    def _read(self):
        return self._parent._read()


class _SliceOfVariable(Tensor):
    """``v[1:3]``: a tensor (the slice, read now) that can also be assigned to, writing into the variable."""

    __slots__ = ("_variable", "_key")

    def assign(self, value, use_locking=None, name=None, read_value=True):
        variable = self._variable
        new = np.array(variable._snapshot._value)
        new[self._key] = convert_to_tensor(value, dtype=variable.dtype)._value
        return variable.assign(new, read_value=read_value)


def slice_of_variable(variable, key, sliced):
    """The result ``sliced`` of ``variable[key]``, as a tensor with ``assign`` (TF's sliced assignment)."""
    result = _new_tensor(_SliceOfVariable)
    result._value, result._id, result._variable, result._key = sliced._value, sliced._id, variable, key
    return result


def _snapshot(value, variable_id):
    tensor = Tensor(value)
    tensor._id = variable_id
    return tensor


def _infer_value(value):
    """numpy value for a Python value with TF's defaults: float -> float32, int -> int32."""
    array = np.asarray(value)
    kind = array.dtype.kind
    if kind in "USO" and (kind != "O" or array.size == 0 or isinstance(array.reshape(-1)[0], (str, bytes))):
        if isinstance(value, (list, tuple)) and not all(isinstance(item, (str, bytes)) for item in _flat_items(value)):
            raise ValueError("Can't convert Python sequence with mixed types to Tensor.")
        return _as_bytes(array)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return array if isinstance(value, np.ndarray) else value
    if kind == "f":
        return array.astype(np.float32)
    if kind in "iu":
        if array.size and (array.min() < _INT32.min or array.max() > _INT32.max):
            return array.astype(np.int64)
        return array.astype(np.int32)
    if kind == "b":
        return array
    raise TypeError(
        f"Cannot convert {value!r} to a tensor: tapeviz tensors hold numbers or bools "
        f"(got numpy dtype {array.dtype})."
    )


def _as_bytes(array):
    """Text as TF's string tensors hold it: an object array of bytes (str encoded as UTF-8)."""
    out = np.empty(array.shape, dtype=object)
    out.reshape(-1)[:] = [item.encode() if isinstance(item, str) else bytes(item) for item in array.reshape(-1).tolist()]
    return out


def _cast_checked(value, np_dtype):
    """Convert ``value`` to ``np_dtype``, refusing float -> int conversions as TF does (any Python float;
    numpy floats only when they have a fraction)."""
    array = _infer_value(value) if isinstance(value, (list, tuple)) else np.asarray(value)
    if array.dtype == np_dtype:
        return array
    python_float = isinstance(value, float) or (isinstance(value, (list, tuple)) and array.dtype.kind == "f")
    if np_dtype.kind in "iub" and array.dtype.kind == "f" and (python_float or not np.all(np.mod(array, 1) == 0)):
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtypes.from_numpy(np_dtype).name}")
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtypes.from_numpy(np_dtype).name}")
    return array.astype(np_dtype)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """A Tensor for ``value``: tensors pass through, variables are read, Python values converted; a
    list holding tensors is packed with ops (``auto_pack``), so gradients reach them."""
    return _convert(value, dtype, dtype_hint, pack=True)


def constant_tensor(value, dtype=None):
    """``convert_to_tensor`` for ``tapeviz.constant``: a list holding tensors becomes their values, a constant."""
    return _convert(value, dtype, None, pack=False)


def _convert(value, dtype, dtype_hint, pack):
    if isinstance(value, Tensor):
        if dtype is not None and dtypes.as_dtype(dtype) is not value.dtype:
            raise ValueError(
                f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} for Tensor with dtype "
                f"{value.dtype.name}; use tapeviz.cast to change a tensor's dtype."
            )
        return value
    if isinstance(value, Variable):
        return _convert(value._read(), dtype, None, pack)
    if isinstance(value, (list, tuple)) and any(isinstance(v, _TensorLike) for v in _flat_items(value)):
        if not pack or dtype is not None and dtypes.as_dtype(dtype) is dtypes.string:
            value = _nested_numpy(value)
        else:
            return auto_pack(value, dtype)
    if dtype is not None:
        if dtypes.as_dtype(dtype) is dtypes.string:
            inferred = _infer_value(value)
            if inferred.dtype.kind != "O":
                raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype string")
            return Tensor(inferred)
        return Tensor(_cast_checked(value, np.dtype(dtypes.as_dtype(dtype).name)))
    inferred = _infer_value(value)
    if dtype_hint is not None:  # numpy arrays too, as in TF: a float64 array with hint float32 is float32
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


def auto_pack(value, dtype=None):
    """A (nested) list holding tensors as TF's auto-packing converts it: one ``Pack`` op per level,
    so gradients flow back to the tensors in it (``tf.reduce_sum([a, b])``, ``x * [w, 1.0]``).

    Python values in it take the first tensor's dtype (or ``dtype``), as in TF.
    """
    from .shape_ops import stack  # late: shape_ops runs ops, which build on this module

    if dtype is None:
        dtype = next(v for v in _flat_items(value) if isinstance(v, _TensorLike)).dtype
    dtype = dtypes.as_dtype(dtype)

    def pack(item):
        if isinstance(item, (list, tuple)):
            if not item:
                raise ValueError("Cannot pack an empty list that sits beside tensors: every level of a nested "
                                 "list of tensors needs at least one element.")
            return stack([pack(v) for v in item])
        if isinstance(item, _TensorLike) and item.dtype is not dtype:
            raise TypeError(f"Cannot convert a list containing a tensor of dtype {item.dtype.name} to "
                            f"{dtype.name}: cast the tensors in the list to one dtype with tapeviz.cast first.")
        return convert_to_tensor(item, dtype=dtype)

    return pack(value)


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
        if kind is float and np_dtype.kind in "iub":  # TF refuses any Python float for an integer tensor
            raise TypeError(f"Cannot convert {value!r} to EagerTensor of dtype {dtypes.from_numpy(np_dtype).name}")
        return Tensor(np_dtype.type(value))
    if isinstance(value, Tensor):  # subclasses: a slice of a variable
        return value
    if isinstance(value, Variable):  # subclasses: what assign returns
        return value._read()
    if np_dtype.kind == "O":  # a string tensor meets text
        return convert_to_tensor(value, dtype=dtypes.string)
    if isinstance(value, (list, tuple)) and any(isinstance(v, _TensorLike) for v in _flat_items(value)):
        return auto_pack(value, dtypes.from_numpy(np_dtype))
    return Tensor(_cast_checked(value, np_dtype))


# Late import: execute builds on this module's Tensor; reads are recorded through it.
from . import execute as _execute  # noqa: E402
