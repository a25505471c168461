"""Gradient rules for Lgamma, Digamma and Polygamma, as TensorFlow's math_grad.py writes them: each
function's derivative is the next one (digamma, then polygamma of order 1, 2, ...); the order gets
no gradient.

All are element-wise, so they take a vectorized pass's gradients (``batched=True``).
"""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import special_ops as S

from ._helpers import randn, unbroadcast


def _lgamma_grad(op, grad):
    return grad * S.digamma(op.inputs[0])


def _digamma_grad(op, grad):
    return grad * S.polygamma(1.0, op.inputs[0])


def _polygamma_grad(op, grad):
    order, x = op.inputs
    return None, unbroadcast(grad * S.polygamma(order + 1.0, x), x)


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
    register("Polygamma", _polygamma_grad, needs_inputs=True, batched=True, needs_outputs=False, checks=[
        CheckCase(lambda x: S.polygamma(2.0, x), (randn(3, seed=4, low=0.3, high=5.0),), name="order 2"),
        CheckCase(lambda x: S.polygamma(np.array([1.0, 2.0, 3.0]), x), (randn(2, 3, seed=5, low=0.3, high=5.0),),
                  name="orders 1, 2, 3")])
