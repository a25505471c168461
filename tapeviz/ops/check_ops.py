"""Run-time checks: ``ensure_shape``, ``debugging.check_numerics`` and the ``debugging.assert_*`` family.

``EnsureShape`` and ``CheckNumerics`` are ops under TensorFlow's names that pass their input through
(rules in ``tapeviz.plugins.check_grad``: the gradient passes through too, checked for NaN and Inf
by CheckNumerics as in TF). The asserts run eagerly, as TF's do outside ``tf.function``: they
return None, or raise TF's error naming what did not hold.
"""
import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor, TensorShape, Variable

from ._dispatch import as_tensor, binary_inputs

__all__ = []


def _compatible(shape, expected):
    return len(shape) == len(expected) and all(e is None or e == -1 or e == n for n, e in zip(shape, expected))


def _ensure_shape(x, shape):
    if not _compatible(x.shape, shape):
        raise ValueError(f"Shape of tensor input {list(x.shape)} is not compatible with expected shape "
                         f"{['?' if n in (None, -1) else n for n in shape]}; reshape the tensor or fix the "
                         "expected shape (None for any size).")
    return x


def ensure_shape(x, shape, name=None):
    """``x`` itself when its shape fits ``shape`` (None entries match any size); InvalidArgumentError if not."""
    x = as_tensor(x)
    shape = TensorShape(shape) if not isinstance(shape, TensorShape) else shape
    if shape.rank is None:
        return execute("EnsureShape", _ensure_shape, (x,), {"shape": tuple(x.shape)})
    return execute("EnsureShape", _ensure_shape, (x,), {"shape": tuple(shape)})


def _check_numerics(x, message):
    if x.dtype.kind == "f":
        if np.isnan(x).any():
            raise ValueError(f"{message} : Tensor had NaN values")
        if np.isinf(x).any():
            raise ValueError(f"{message} : Tensor had Inf values")
    return x


def check_numerics(tensor, message, name=None):
    """``tensor`` itself; InvalidArgumentError naming ``message`` if it holds a NaN or an Inf."""
    x = as_tensor(tensor)
    if not x.dtype.is_floating:
        raise InvalidArgumentError(f"Value for attr 'T' of {x.dtype.name} is not in the list of allowed values: "
                                   "half, float, double [Op:CheckNumerics]; check_numerics checks floating tensors.")
    try:
        return execute("CheckNumerics", _check_numerics, (x,), {"message": str(message)})
    except InvalidArgumentError as error:  # TF's message: the user's message first
        raise InvalidArgumentError(str(error).partition("): ")[2] + " [Op:CheckNumerics]") from None


# Asserts ------------------------------------------------------------------------------------------------------
def _first(values, count=3):
    flat = np.asarray(values).reshape(-1)
    return f"{flat[:count]}"


def _compare(name, relation, holds):
    def check(x, y, message=None, summarize=None, name=None):
        x, y = binary_inputs(name or "Assert", x, y)
        ok = holds(x._value, y._value)
        if not np.all(ok):
            bad = np.argwhere(~np.broadcast_to(ok, np.broadcast_shapes(x._value.shape, y._value.shape)))
            xs = np.broadcast_to(x._value, ok.shape)[tuple(bad[:1].T)] if ok.ndim else x._value
            ys = np.broadcast_to(y._value, ok.shape)[tuple(bad[:1].T)] if ok.ndim else y._value
            raise InvalidArgumentError(
                f"{message + ' ' if message else ''}Condition x {relation} y did not hold. Indices of first 1 "
                f"different values: {bad[:1].tolist()} Corresponding x values: {xs} Corresponding y values: {ys} "
                f"First {min(3, x._value.size)} elements of x: {_first(x._value)} First {min(3, y._value.size)} "
                f"elements of y: {_first(y._value)}")
        return None
    check.__name__ = name
    check.__doc__ = f"None if x {relation} y holds element-wise (broadcasting); InvalidArgumentError if not."
    return check


assert_equal = _compare("assert_equal", "==", np.equal)
assert_none_equal = _compare("assert_none_equal", "!=", np.not_equal)
assert_less = _compare("assert_less", "<", np.less)
assert_less_equal = _compare("assert_less_equal", "<=", np.less_equal)
assert_greater = _compare("assert_greater", ">", np.greater)
assert_greater_equal = _compare("assert_greater_equal", ">=", np.greater_equal)


def _sign_check(name, relation, holds):
    def check(x, message=None, summarize=None, name=None):
        x = as_tensor(x)
        if not np.all(holds(x._value)):
            raise InvalidArgumentError(
                f"{message + ' ' if message else ''}Condition x {relation} 0 did not hold element-wise: x (shape="
                f"{tuple(x.shape)} dtype={x.dtype.name}) = {[str(v) for v in x._value.reshape(-1)[:summarize or 3]]}")
        return None
    check.__name__ = name
    check.__doc__ = f"None if x {relation} 0 holds element-wise; InvalidArgumentError if not."
    return check


assert_positive = _sign_check("assert_positive", ">", lambda v: v > 0)
assert_negative = _sign_check("assert_negative", "<", lambda v: v < 0)
assert_non_negative = _sign_check("assert_non_negative", ">=", lambda v: v >= 0)
assert_non_positive = _sign_check("assert_non_positive", "<=", lambda v: v <= 0)


def assert_near(x, y, rtol=None, atol=None, message=None, summarize=None, name=None):
    """None if |x - y| <= atol + rtol * |y| element-wise (default tolerances 10 * the dtype's epsilon)."""
    x, y = binary_inputs("assert_near", x, y)
    eps = np.finfo(x._value.dtype).eps if x.dtype.is_floating else 0
    rtol = 10 * eps if rtol is None else rtol
    atol = 10 * eps if atol is None else atol
    if not np.all(np.abs(x._value - y._value) <= atol + rtol * np.abs(y._value)):
        raise InvalidArgumentError(f"{message + ' ' if message else ''}x and y not equal to tolerance rtol = "
                                   f"{rtol}, atol = {atol}: x = {_first(x._value, 6)}, y = {_first(y._value, 6)}")


def assert_all_finite(x, message, name=None):
    """``x`` itself if it holds no NaN or Inf (check_numerics under another name, as in TF)."""
    return check_numerics(x, message)


def assert_rank(x, rank, message=None, name=None):
    """None if ``x`` has rank ``rank``; ValueError if not (a static check, as in TF)."""
    x = as_tensor(x)
    if x.ndim != int(rank):
        raise ValueError(f"{message + ' ' if message else ''}Tensor must have rank {int(rank)}.  Received rank "
                         f"{x.ndim}, shape {tuple(x.shape)}")


def assert_rank_at_least(x, rank, message=None, name=None):
    x = as_tensor(x)
    if x.ndim < int(rank):
        raise ValueError(f"{message + ' ' if message else ''}Tensor must have rank at least {int(rank)}.  Received "
                         f"rank {x.ndim}, shape {tuple(x.shape)}")


def assert_rank_in(x, ranks, message=None, name=None):
    x = as_tensor(x)
    if x.ndim not in [int(r) for r in ranks]:
        raise ValueError(f"{message + ' ' if message else ''}Tensor must have rank in {[int(r) for r in ranks]}.  "
                         f"Received rank {x.ndim}, shape {tuple(x.shape)}")


def assert_scalar(tensor, message=None, name=None):
    x = as_tensor(tensor)
    if x.ndim:
        raise ValueError(f"{message + ' ' if message else ''}Expected scalar shape, saw shape: {tuple(x.shape)}.")
    return x


def assert_type(tensor, tf_type, message=None, name=None):
    """None if ``tensor`` has dtype ``tf_type``; TypeError if not."""
    dtype = dtypes.as_dtype(tf_type)
    actual = as_tensor(tensor).dtype
    if actual is not dtype:
        raise TypeError(f"{message + ' ' if message else ''}tensor must be of type tf.{dtype.name}; got "
                        f"tf.{actual.name}")


def assert_integer(x, message=None, name=None):
    if not as_tensor(x).dtype.is_integer:
        raise TypeError(f"{message + ' ' if message else ''}Expected integer type, got {as_tensor(x).dtype.name}.")


def assert_shapes(shapes, data=None, summarize=None, message=None, name=None):
    """None if every (tensor, dimension names) pair agrees on each named size; ValueError naming the first
    tensor and dimension that does not. Integer entries are sizes; '.' or None matches any size."""
    pairs = list(shapes.items()) if isinstance(shapes, dict) else list(shapes)
    sizes = {}
    for tensor, names in pairs:
        x = as_tensor(tensor)
        names = list(names) if not isinstance(names, str) else list(names)
        if len(names) != x.ndim and "..." not in names and "*" not in names:
            raise ValueError(f"{message + ' ' if message else ''}Specified by tensor {_describe(x)}: rank "
                             f"{len(names)} expected, but the tensor has rank {x.ndim}.")
        for axis, label in enumerate(names):
            if label in (None, ".", "...", "*"):
                continue
            size = x.shape[axis]
            if isinstance(label, int):
                if size != label:
                    raise ValueError(f"{message + ' ' if message else ''}Tensor {_describe(x)} dimension {axis} "
                                     f"must have size {label}.  Received size {size}, shape {tuple(x.shape)}")
                continue
            if label in sizes and sizes[label][0] != size:
                first, where = sizes[label]
                raise ValueError(f"{message + ' ' if message else ''}Specified by tensor {where}.  Tensor "
                                 f"{_describe(x)} dimension {axis} must have size {first}.  Received size {size}, "
                                 f"shape {tuple(x.shape)}")
            sizes.setdefault(label, (size, f"{_describe(x)} dimension {axis}"))


def _describe(x):
    return f"shape={tuple(x.shape)} dtype={x.dtype.name}"


def is_numeric_tensor(tensor):
    return isinstance(tensor, (Tensor, Variable)) and (tensor.dtype.is_floating or tensor.dtype.is_integer)
