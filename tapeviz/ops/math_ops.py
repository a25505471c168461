"""Element-wise arithmetic, math functions, comparisons and logic, under TensorFlow's op-type names.

Forward computations only: every gradient rule lives in ``tapeviz.plugins``. ``__all__`` holds the
names TensorFlow exports at top level (``tf.exp``, ``tf.sigmoid``); the rest (``log``, ``erf``,
``floormod``, ...) are reached as ``tapeviz.math.*``, as in TF 2.
"""
import functools
import math

import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute
from tapeviz.core.tensor import Tensor

from ._dispatch import as_tensor, binary, binary_inputs, unary
from .operators import install, install_unary

__all__ = ["add", "add_n", "subtract", "multiply", "divide", "truediv", "realdiv", "pow", "negative", "abs", "sign",
           "exp", "sqrt", "square", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan", "sigmoid",
           "maximum", "minimum", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_not", "round", "floor"]


def floating_unary(op_type, forward):
    """An element-wise op TF defines on floating types only: integer input is a TypeError."""
    return unary(op_type, forward, floating=True)


# Arithmetic ---------------------------------------------------------------------------------------------
def _add(x, y):
    out = np.add(x, y)
    if out.dtype.kind == "b":  # numpy adds bools as "or"; TF has no AddV2 kernel for bool
        raise TypeError("bool")
    return out


def _integer_division(kernel):
    """floor division or modulo; an integer divisor of 0 is TF's "Integer division by zero" error."""
    def forward(x, y):
        if y.dtype.kind in "iu" and not np.all(y):
            raise ValueError("Integer division by zero")
        return kernel(x, y)
    return forward


add = binary("AddV2", _add)
subtract = binary("Sub", np.subtract)
multiply = binary("Mul", np.multiply)
realdiv = binary("RealDiv", np.true_divide)
floordiv = binary("FloorDiv", _integer_division(np.floor_divide))
# floor mod: the result takes the divisor's sign, as in TF
floormod = mod = binary("FloorMod", _integer_division(np.mod))
pow = binary("Pow", np.power)  # noqa: A001 - TF's name
maximum = binary("Maximum", np.maximum)
minimum = binary("Minimum", np.minimum)
squared_difference = binary("SquaredDifference", lambda x, y: np.square(x - y))


def divide(x, y, name=None):
    """True division. Integers are cast first as TF casts them: 8- and 16-bit to float32, wider to float64."""
    if type(x) is not Tensor or type(y) is not Tensor or x._value.dtype is not y._value.dtype:
        x, y = binary_inputs("RealDiv", x, y)
    kind = x._value.dtype.kind
    if kind != "f":
        if kind == "b":
            raise TypeError("Invalid dtype bool in __truediv__: cast bools to a number type first.")
        from .array_ops import cast  # late: array_ops builds on this module
        # Cast ops, as TF's truediv: an accuracy computed in integers and divided stays linked to the
        # model, so a loss made of it is explained by the argmax before it.
        to = "float32" if x._value.dtype.itemsize <= 2 else "float64"
        x, y = cast(x, to), cast(y, to)
    return realdiv(x, y)


truediv = divide


def add_n(inputs, name=None):
    """The sum of a list of tensors of one shape and dtype (op AddN)."""
    inputs = [as_tensor(t) for t in inputs]
    if not inputs:
        raise ValueError("add_n needs at least one tensor.")
    if len({(t._value.shape, t._value.dtype) for t in inputs}) > 1:
        found = ", ".join(f"{t.dtype.name}{list(t.shape)}" for t in inputs)
        raise InvalidArgumentError(f"AddN needs tensors of one shape and dtype, got {found}.")
    return execute("AddN", lambda *values: functools.reduce(np.add, values), inputs)


negative = unary("Neg", np.negative)
def _abs(x):
    if x.dtype.kind == "b":
        raise TypeError("bool")  # TF has no Abs kernel for bool
    return np.abs(x)


abs = unary("Abs", _abs)  # noqa: A001 - TF's name
sign = unary("Sign", np.sign)
square = unary("Square", np.square)
reciprocal = floating_unary("Reciprocal", np.reciprocal)


# The kernels of TF's SqrtGrad, RsqrtGrad and ReciprocalGrad: 0 wherever the incoming gradient is 0, even where
# the derivative is inf or NaN (sqrt at 0 or below), which is what makes the tf.where trick work.
def _guarded(kernel):
    def forward(y, dy):
        with np.errstate(all="ignore"):
            out = kernel(y, dy)
        zero = dy == 0
        if zero.any():
            out = np.where(zero, out.dtype.type(0), out)
        return out
    return forward


_sqrt_grad = _guarded(lambda y, dy: dy.dtype.type(0.5) * dy / y)
_rsqrt_grad = _guarded(lambda y, dy: dy.dtype.type(-0.5) * (dy * y) * (y * y))
_reciprocal_grad = _guarded(lambda y, dy: -dy * y * y)


def sqrt_grad(y, dy):
    """TF's SqrtGrad(y, dy) = dy * 0.5 / y, and 0 where dy is 0: Sqrt's rule (y is sqrt's output)."""
    return execute("SqrtGrad", _sqrt_grad, (as_tensor(y), as_tensor(dy)))


def rsqrt_grad(y, dy):
    """TF's RsqrtGrad(y, dy) = -0.5 * dy * y^3, and 0 where dy is 0: Rsqrt's rule."""
    return execute("RsqrtGrad", _rsqrt_grad, (as_tensor(y), as_tensor(dy)))


def reciprocal_grad(y, dy):
    """TF's ReciprocalGrad(y, dy) = -dy * y^2, and 0 where dy is 0: Reciprocal's rule."""
    return execute("ReciprocalGrad", _reciprocal_grad, (as_tensor(y), as_tensor(dy)))


# Math functions (floating input only, as in TF) -----------------------------------------------------------
def flush_denormals(value):
    """``value`` with subnormal results set to 0, as TF's CPU kernels give them (they run with flush-to-zero).

    Applied where subnormals are common and matter (exp, sigmoid, softplus of large negative inputs,
    whose logs must then be -inf as in TF); not on every op, which would slow every op down.
    """
    tiny = _TINY.get(value.dtype)
    if tiny is None:
        return value
    if value.ndim == 0:
        return value.dtype.type(0) if -tiny < value < tiny else value
    small = np.abs(value) < tiny
    if small.any():
        value = np.where(small, value.dtype.type(0), value)
    return value


_TINY = {np.dtype(t): np.finfo(t).tiny for t in (np.float16, np.float32, np.float64)}
del _TINY[np.dtype(np.float16)]  # TF's float16 kernels keep subnormals (they compute in float32)


exp = floating_unary("Exp", lambda x: flush_denormals(np.exp(x)))
log = floating_unary("Log", np.log)
log1p = floating_unary("Log1p", np.log1p)
expm1 = floating_unary("Expm1", np.expm1)
sqrt = floating_unary("Sqrt", np.sqrt)
rsqrt = floating_unary("Rsqrt", lambda x: 1 / np.sqrt(x))
sin = floating_unary("Sin", np.sin)
cos = floating_unary("Cos", np.cos)
tan = floating_unary("Tan", np.tan)
# TF's float32 tanh (Eigen's rational approximation) is exactly +-1 from |x| = 7.9073896 on; numpy's only
# from about 9.1. Saturating there gives TF's zero gradients at x = 8 (the values in between may differ
# in the last unit, as every float32 kernel may).
_TANH_ONE_FLOAT32 = np.float32(7.9073896)


def _tanh(x):
    y = np.tanh(x)
    if x.dtype == np.float32:
        saturated = np.abs(x) >= _TANH_ONE_FLOAT32
        if saturated.any():
            y = np.where(saturated, np.sign(x), y)
    return y


tanh = floating_unary("Tanh", _tanh)
sinh = floating_unary("Sinh", np.sinh)
cosh = floating_unary("Cosh", np.cosh)
asin = floating_unary("Asin", np.arcsin)
acos = floating_unary("Acos", np.arccos)
atan = floating_unary("Atan", np.arctan)


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows; both branches below are accurate in their tails
    return flush_denormals(np.where(x < 0, e, 1) / (1 + e))


sigmoid = floating_unary("Sigmoid", _sigmoid)
softplus = floating_unary("Softplus", lambda x: flush_denormals(np.logaddexp(0, x)))  # log(1 + exp(x)), no overflow

# erf: numpy has none and scipy is not a dependency. float64 uses libm's erf (exact); float32 and float16
# the rational approximation Eigen (so TF) and XLA use, clipped to [-4, 4] where erf rounds to +-1 and
# evaluated in float64, which puts it within 2 ulp of erf.
_ERF_ALPHA = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
              -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF_BETA = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
             -1.42647390514189e-02)
_libm_erf = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    if x.dtype == np.float64:
        return np.asarray(_libm_erf(x), np.float64)
    clipped = np.clip(x.astype(np.float64), -4, 4)
    squared = clipped * clipped
    return (clipped * np.polyval(_ERF_ALPHA, squared) / np.polyval(_ERF_BETA, squared)).astype(x.dtype)


erf = floating_unary("Erf", _erf)

# Rounding: not differentiable -------------------------------------------------------------------------------
_round = unary("Round", np.round)  # numpy rounds half to even, as TF does


def round(x, name=None):  # noqa: A001 - TF's name
    """Round half to even; integer tensors come back unchanged, as in TF."""
    x = as_tensor(x)
    return x if x._value.dtype.kind in "iu" else _round(x)


floor = floating_unary("Floor", np.floor)
ceil = floating_unary("Ceil", np.ceil)
is_nan = floating_unary("IsNan", np.isnan)
is_inf = floating_unary("IsInf", np.isinf)
is_finite = floating_unary("IsFinite", np.isfinite)

# Comparisons and logic: bool results, not differentiable ---------------------------------------------------
equal = binary("Equal", np.equal)
not_equal = binary("NotEqual", np.not_equal)
less = binary("Less", np.less)
less_equal = binary("LessEqual", np.less_equal)
greater = binary("Greater", np.greater)
greater_equal = binary("GreaterEqual", np.greater_equal)


def _bools(op_type, *tensors):
    for t in tensors:
        if t._value.dtype.kind != "b":
            raise TypeError(f"{op_type} needs bool tensors, got {t.dtype.name}; compare first (x > 0) or cast "
                            "with tapeviz.cast(x, tapeviz.bool).")
    return tensors


def logical_and(x, y, name=None):
    return execute("LogicalAnd", np.logical_and, _bools("LogicalAnd", *binary_inputs("LogicalAnd", x, y)))


def logical_or(x, y, name=None):
    return execute("LogicalOr", np.logical_or, _bools("LogicalOr", *binary_inputs("LogicalOr", x, y)))


def logical_not(x, name=None):
    return execute("LogicalNot", np.logical_not, _bools("LogicalNot", as_tensor(x)))


def logical_xor(x, y, name=None):
    """Composed as TF composes it: (x or y) and not (x and y)."""
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)))


# Operators ------------------------------------------------------------------------------------------------
def _bitwise(logical, op_type, forward):
    """``&``, ``|``, ``^``: logical on bools, bitwise on integers, as TF's operators are."""
    def operator(x, y):
        x, y = binary_inputs(op_type, x, y)
        kind = x._value.dtype.kind
        if kind == "b":
            return logical(x, y)
        if kind not in "iu":
            raise TypeError(f"{op_type} needs bool or integer tensors, got {x.dtype.name}.")
        return execute(op_type, forward, (x, y))
    return operator


def _invert(x):
    if x._value.dtype.kind == "b":
        return logical_not(x)
    if x._value.dtype.kind not in "iu":
        raise TypeError(f"~ needs a bool or integer tensor, got {x.dtype.name}.")
    return execute("Invert", np.invert, (x,))


def _equality(compare, unequal):
    """``==``/``!=``: element-wise; None, or shapes that do not broadcast, give the plain answer, as in TF."""
    def operator(x, y):
        if y is None:
            return unequal
        try:
            return compare(x, y)
        except InvalidArgumentError:  # the only way Equal fails once dtypes agree: shapes that do not broadcast
            return Tensor(np.bool_(unequal))
    return operator


install("add", add)
install("sub", subtract)
install("mul", multiply)
install("truediv", divide)
install("floordiv", floordiv)
install("mod", floormod)
install("pow", pow)
install("and", _bitwise(logical_and, "BitwiseAnd", np.bitwise_and))
install("or", _bitwise(logical_or, "BitwiseOr", np.bitwise_or))
install("xor", _bitwise(logical_xor, "BitwiseXor", np.bitwise_xor))
for _name, _compare in (("lt", less), ("le", less_equal), ("gt", greater), ("ge", greater_equal)):
    install(_name, _compare, reflected=False)  # Python reflects comparisons itself (2 < x calls x > 2)
install("eq", _equality(equal, False), reflected=False)
install("ne", _equality(not_equal, True), reflected=False)
install_unary("neg", negative)
install_unary("abs", abs)
install_unary("invert", _invert)
