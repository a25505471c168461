"""``tf.function`` and ``tf.TensorSpec``: accepted, and run eagerly.

tapeviz never traces a graph. A decorated function runs as plain Python on every call, so tapes
record its ops as usual (and the inspector shows them). The one visible difference from
TensorFlow: Python side effects (``print``, appending to a list, counting calls) happen on every
call, where TensorFlow runs them only while tracing. ``input_signature`` is checked as TensorFlow
checks it; ``jit_compile``, ``reduce_retracing`` and ``autograph`` are accepted and change nothing.
"""
import functools

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.tensor import Tensor, TensorShape, Variable

__all__ = ["function", "Function", "TensorSpec"]


class TensorSpec:
    """The shape (``None`` for any size) and dtype a tensor argument must have."""

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self.shape = TensorShape(tuple(shape)) if shape is not None else None
        self.dtype = dtypes.as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, tensor, name=None):
        return cls(tensor.shape, tensor.dtype, name)

    def is_compatible_with(self, value):
        if isinstance(value, TensorSpec):
            shape, dtype = value.shape, value.dtype
        else:
            value = value if isinstance(value, (Tensor, Variable)) else Tensor(np.asarray(value))
            shape, dtype = value.shape, value.dtype
        if dtype is not self.dtype and dtype != self.dtype:
            return False
        return self.shape is None or self.shape.is_compatible_with(shape)

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.shape, self.dtype, self.name) == (other.shape, other.dtype,
                                                                                         other.name)

    def __hash__(self):
        return hash((self.shape, self.dtype.name, self.name))

    def __repr__(self):
        shape = "None" if self.shape is None else "(" + ", ".join(str(d) for d in self.shape) + \
            ("," if len(self.shape) == 1 else "") + ")"
        return f"TensorSpec(shape={shape}, dtype=tapeviz.{self.dtype.name}, name={self.name!r})"


class Function:
    """What ``@tf.function`` returns: calls the Python function directly, every time."""

    def __init__(self, python_function, input_signature=None, jit_compile=None, reduce_retracing=False,
                 autograph=True, name=None):
        self.python_function = python_function
        self.input_signature = None if input_signature is None else tuple(input_signature)
        self.jit_compile = jit_compile
        self.reduce_retracing = reduce_retracing
        self.autograph = autograph
        self._name = name or getattr(python_function, "__name__", "function")
        functools.update_wrapper(self, python_function)

    def __call__(self, *args, **kwargs):
        if self.input_signature is not None:
            self._check_signature(args, kwargs)
        return self.python_function(*args, **kwargs)

    def __get__(self, instance, owner):
        """A decorated method binds to its instance, as a plain function would."""
        if instance is None:
            return self
        bound = Function(self.python_function.__get__(instance, owner), self.input_signature, self.jit_compile,
                         self.reduce_retracing, self.autograph, self._name)
        return bound

    def get_concrete_function(self, *args, **kwargs):
        """There is no graph to trace: the concrete function is this same eager callable."""
        return self

    def experimental_get_tracing_count(self):
        return 0

    def _check_signature(self, args, kwargs):
        if kwargs:
            raise TypeError(f"{self._name} has an input_signature: pass its {len(self.input_signature)} "
                            f"arguments by position, got keyword arguments {sorted(kwargs)}.")
        if len(args) != len(self.input_signature):
            raise TypeError(f"{self._name} has an input_signature of {len(self.input_signature)} arguments "
                            f"but was called with {len(args)}.")
        for i, (arg, spec) in enumerate(zip(args, self.input_signature)):
            if isinstance(spec, TensorSpec) and not spec.is_compatible_with(arg):
                value = arg if isinstance(arg, (Tensor, Variable)) else Tensor(np.asarray(arg))
                raise TypeError(
                    f"Binding inputs to tf.function failed due to `Can not cast {TensorSpec.from_tensor(value)} to "
                    f"{spec}`. Argument {i} of {self._name} does not match its input_signature; pass a tensor of "
                    "that shape and dtype (tapeviz.cast converts the dtype), or widen the signature.")

    def __repr__(self):
        return f"<tapeviz.function {self._name} (runs eagerly)>"


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_implements=None, experimental_autograph_options=None, experimental_attributes=None,
             experimental_relax_shapes=None, experimental_compile=None, experimental_follow_type_hints=None,
             name=None):
    """``@tf.function`` with or without arguments; the function runs eagerly (see the module docstring)."""
    def decorate(python_function):
        if not callable(python_function):
            raise TypeError(f"tf.function decorates a callable, got {type(python_function).__name__}.")
        return Function(python_function, input_signature, jit_compile, reduce_retracing, autograph, name)
    return decorate if func is None else decorate(func)
