"""``tapeviz.autodiff``, as ``tf.autodiff``: ``ForwardAccumulator`` (forward mode) and ``GradientTape``."""
from tapeviz.core.forward import ForwardAccumulator
from tapeviz.core.tape import GradientTape

__all__ = ["ForwardAccumulator", "GradientTape"]
