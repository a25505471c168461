"""``keras.regularizers``: weight penalties (``L1``, ``L2``, ``L1L2``) that layers add to ``model.losses``.

``Dense(..., kernel_regularizer=keras.regularizers.l2(0.01))`` adds ``0.01 * sum(kernel ** 2)`` to the
layer's ``losses`` each time they are read, so a tape around the forward pass differentiates it.
"""
from tapeviz.ops import math_ops, reduction_ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


class Regularizer:
    """A callable ``(weight) -> scalar penalty``."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}


class L1(Regularizer):
    def __init__(self, l1=0.01):
        self.l1 = float(l1)

    def __call__(self, x):
        return self.l1 * reduction_ops.reduce_sum(math_ops.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = float(l2)

    def __call__(self, x):
        return self.l2 * reduction_ops.reduce_sum(math_ops.square(x))

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        return (self.l1 * reduction_ops.reduce_sum(math_ops.abs(x))
                + self.l2 * reduction_ops.reduce_sum(math_ops.square(x)))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """A regularizer for a name (``'l2'``: default strength 0.01), an object or a callable, or None."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}. Use 'l1', 'l2', 'l1_l2', a "
                     "keras.regularizers object, or a callable (weight) -> scalar.")


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.regularizers", name)
