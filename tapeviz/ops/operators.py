"""Python operators on Tensors and Variables (``+``, ``*``, ``@``, ``[]``, ``<``, ...), each recorded as its op."""
from tapeviz.core.tensor import Tensor, Variable

from . import math_ops


def _reflected(fn):
    return lambda self, other: fn(other, self)


def install(name, fn, reflected=True):
    """Make ``fn`` the ``__name__`` operator (and ``__rname__``) of Tensor and Variable."""
    for cls in (Tensor, Variable):
        setattr(cls, f"__{name}__", lambda self, other, fn=fn: fn(self, other))
        if reflected:
            setattr(cls, f"__r{name}__", _reflected(fn))


def install_unary(name, fn):
    for cls in (Tensor, Variable):
        setattr(cls, f"__{name}__", lambda self, fn=fn: fn(self))


install("add", math_ops.add)
install("sub", math_ops.subtract)
install("mul", math_ops.multiply)
install("truediv", math_ops.divide)
install("floordiv", math_ops.floordiv)
install("mod", math_ops.floormod)
install("pow", math_ops.pow)
install_unary("neg", math_ops.negative)
install_unary("abs", math_ops.abs)
