"""Element-wise arithmetic and math functions, under TensorFlow's op-type names.

Forward computations only: every gradient rule lives in ``tapeviz.plugins``.
"""
import numpy as np

from tapeviz.core.execute import execute

from ._dispatch import as_tensor, binary, binary_inputs, unary
from .operators import install, install_unary

__all__ = ["add", "subtract", "multiply", "divide", "truediv", "realdiv", "floordiv", "floormod", "mod", "maximum",
           "minimum", "squared_difference", "pow", "negative", "abs", "sign", "exp", "log", "sin", "cos",
           "reciprocal"]

add = binary("AddV2", np.add)
subtract = binary("Sub", np.subtract)
multiply = binary("Mul", np.multiply)
floordiv = binary("FloorDiv", np.floor_divide)
floormod = binary("FloorMod", np.mod)  # floor mod: the result takes the divisor's sign, as in TF
mod = floormod
maximum = binary("Maximum", np.maximum)
minimum = binary("Minimum", np.minimum)
squared_difference = binary("SquaredDifference", lambda x, y: np.square(x - y))


def divide(x, y, name=None):
    """True division; integer operands give float64, as in TensorFlow."""
    x, y = binary_inputs("RealDiv", x, y)
    return execute("RealDiv", np.true_divide, (x, y))


truediv = realdiv = divide


def pow(x, y, name=None):  # noqa: A001 - TF's name
    x, y = binary_inputs("Pow", x, y)
    return execute("Pow", np.power, (x, y))


negative = unary("Neg", np.negative)
abs = unary("Abs", np.abs)  # noqa: A001 - TF's name
sign = unary("Sign", np.sign)
exp = unary("Exp", np.exp)
log = unary("Log", np.log)
sin = unary("Sin", np.sin)
cos = unary("Cos", np.cos)


def reciprocal(x, name=None):
    x = as_tensor(x)
    return execute("Reciprocal", np.reciprocal, (x,))


install("add", add)
install("sub", subtract)
install("mul", multiply)
install("truediv", divide)
install("floordiv", floordiv)
install("mod", floormod)
install("pow", pow)
install_unary("neg", negative)
install_unary("abs", abs)
