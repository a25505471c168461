"""Gradient rules for Lgamma, Digamma, Polygamma, Erfinv and Ndtri, as TensorFlow's math_grad.py writes
them: each gamma function's derivative is the next one (digamma, then polygamma of order 1, 2, ...;
the order gets no gradient); erfinv's and ndtri's are computed from their outputs.

All are element-wise, so they take a vectorized pass's gradients (``batched=True``).
"""
import math

import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import special_ops as S
from tapeviz.ops.math_ops import exp, square

from ._helpers import randn, unbroadcast


def _lgamma_grad(op, grad):
    return grad * S.digamma(op.inputs[0])


def _digamma_grad(op, grad):
    return grad * S.polygamma(1.0, op.inputs[0])


def _polygamma_grad(op, grad):
    order, x = op.inputs
    return None, unbroadcast(grad * S.polygamma(order + 1.0, x), x)


def _erfinv_grad(op, grad):
    # TF's _ErfinvGrad: sqrt(pi) / 2 * exp(erfinv(x)^2), from the output.
    return grad * (math.sqrt(math.pi) / 2) * exp(square(op.outputs[0]))


def _ndtri_grad(op, grad):
    # TF's _NdtriGrad: sqrt(2 pi) * exp(ndtri(x)^2 / 2), from the output.
    return grad * math.sqrt(2 * math.pi) * exp(square(op.outputs[0]) / 2.0)


def _cases(fn):
    # Positive points, a point between the poles at -1 and 0, and a broad range.
    return [CheckCase(fn, (randn(4, seed=1, low=0.2, high=6.0),), name="(0.2, 6)"),
            CheckCase(fn, (randn(2, 3, seed=2, low=-0.8, high=-0.2),), name="(-0.8, -0.2)"),
            CheckCase(fn, (randn(3, seed=3, low=10.0, high=40.0),), name="(10, 40)")]


@hookimpl
def register_gradients(register):
    elementwise = dict(batched=True, needs_outputs=False)
    register("Lgamma", _lgamma_grad, checks=_cases(S.lgamma), **elementwise)
    register("Digamma", _digamma_grad, checks=_cases(S.digamma), **elementwise)
    from_output = dict(batched=True, needs_inputs=False, needs_outputs=True)
    register("Erfinv", _erfinv_grad, checks=[
        CheckCase(S.erfinv, (randn(4, seed=6, low=-0.95, high=0.95),), name="(-0.95, 0.95)"),
        CheckCase(S.erfinv, (randn(2, 3, seed=7, low=-0.5, high=0.5),), name="(2, 3)")], **from_output)
    register("Ndtri", _ndtri_grad, checks=[
        CheckCase(S.ndtri, (randn(4, seed=8, low=0.02, high=0.98),), name="(0.02, 0.98)")], **from_output)
    register("Polygamma", _polygamma_grad, needs_inputs=True, batched=True, needs_outputs=False, checks=[
        CheckCase(lambda x: S.polygamma(2.0, x), (randn(3, seed=4, low=0.3, high=5.0),), name="order 2"),
        CheckCase(lambda x: S.polygamma(np.array([1.0, 2.0, 3.0]), x), (randn(2, 3, seed=5, low=0.3, high=5.0),),
                  name="orders 1, 2, 3")])
