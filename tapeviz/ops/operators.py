"""Installs Python operators (``+``, ``*``, ``@``, ``[]``, ``<``, ...) on Tensor and Variable.

Each ops module installs the operators of its own ops, so this file knows no op.
"""
from tapeviz.core.tensor import Tensor, Variable



def _reflected(fn):
    return lambda self, other: fn(other, self)


def install(name, fn, reflected=True):
    """Make ``fn(x, y)`` the ``__name__`` operator (and ``__rname__``) of Tensor and Variable."""
    for cls in (Tensor, Variable):
        setattr(cls, f"__{name}__", fn)  # fn(self, other) directly: one call less per operator
        if reflected:
            setattr(cls, f"__r{name}__", _reflected(fn))


def install_unary(name, fn):
    for cls in (Tensor, Variable):
        setattr(cls, f"__{name}__", fn)

