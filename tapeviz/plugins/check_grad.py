"""Gradient rules for EnsureShape and CheckNumerics, as TensorFlow's array_grad.py writes them: the
gradient passes through, and CheckNumerics checks it for NaN and Inf on the way back.

Both take a vectorized pass's gradients (``batched=True``): neither looks at the gradient's shape.
"""
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import check_ops as C

from ._helpers import randn


def _check_numerics_grad(op, grad):
    return C.check_numerics(grad, "Not a number (NaN) or infinity (Inf) values detected in gradient. "
                            + op.get_attr("message"))


@hookimpl
def register_gradients(register):
    passes = dict(batched=True, needs_inputs=False, needs_outputs=False)
    register("EnsureShape", lambda op, grad: grad, checks=[
        CheckCase(lambda x: C.ensure_shape(x, [2, None]) ** 2, (randn(2, 3, seed=1),), name="(2, None)")], **passes)
    register("CheckNumerics", _check_numerics_grad, checks=[
        CheckCase(lambda x: C.check_numerics(x, "x") ** 2, (randn(2, 3, seed=2),), name="(2, 3)")], **passes)
