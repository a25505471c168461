"""The tapeviz plugin of tapeviz-softclip: forwards, gradient rules and finite-difference checks
for the new op types SoftClip and LogCosh. tapeviz loads it through the entry point
``softclip = "tapeviz_softclip.plugin"``; it overrides no existing rule.

Forwards are plain numpy. Rules are written with tapeviz ops, so tapes can differentiate the
rules themselves and second derivatives (nested GradientTapes) work.
"""
import math

import numpy as np

import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl

from tapeviz_softclip import log_cosh, softclip

LOG_2 = math.log(2.0)  # a Python float, so float32 inputs stay float32


# ---- forwards (numpy) -------------------------------------------------------------------------

def _softplus(z):
    return np.logaddexp(0, z)  # log(1 + exp(z)) without overflow


def softclip_forward(x, low=-1.0, high=1.0):
    x = np.asarray(x)
    return np.asarray(low + _softplus(x - low) - _softplus(x - high))


def log_cosh_forward(x):
    magnitude = np.abs(np.asarray(x))
    return np.asarray(magnitude + np.log1p(np.exp(-2 * magnitude)) - LOG_2)


# ---- gradient rules (tapeviz ops) -------------------------------------------------------------

def stable_sigmoid(z):
    """``1 / (1 + exp(-z))`` as tapeviz ops, never exponentiating a positive number.

    Both branches use ``e = exp(-|z|)``; the branch is chosen per element from the value of ``z``,
    a constant of the graph, so derivatives of any order flow only through smooth ops.
    """
    non_negative = tv.constant(z.numpy() >= 0)
    e = tv.exp(tv.where(non_negative, -z, z))
    inverse = (1.0 + e) ** -1.0
    return tv.where(non_negative, inverse, e * inverse)


def softclip_grad(op, grad):
    """d softclip / dx = sigmoid(x - low) - sigmoid(x - high)."""
    x = op.inputs[0]
    low, high = op.get_attr("low"), op.get_attr("high")
    return grad * (stable_sigmoid(x - low) - stable_sigmoid(x - high))


def log_cosh_grad(op, grad):
    """d log(cosh(x)) / dx = tanh(x) = 2 * sigmoid(2x) - 1."""
    x = op.inputs[0]
    return grad * (2.0 * stable_sigmoid(2.0 * x) - 1.0)


# ---- finite-difference check cases ------------------------------------------------------------

SHAPES = [(), (4,), (2, 3)]


def _points(shape, low, high, seed):
    return np.random.default_rng(seed + sum(shape)).uniform(low, high, size=shape)


def softclip_cases():
    cases = [tv.CheckCase(lambda x: softclip(x), (_points(shape, -3.0, 3.0, seed=1),), name=f"{shape} in [-3, 3]")
             for shape in SHAPES]
    cases.append(tv.CheckCase(lambda x: softclip(x, low=0.0, high=6.0), (_points((3, 2), -2.0, 8.0, seed=2),),
                              name="(3, 2) low=0 high=6"))
    cases.append(tv.CheckCase(lambda x: softclip(x, low=-0.5, high=0.5),
                              (np.array([-40.0, -0.5, 0.0, 0.5, 40.0]),), name="saturated and at the edges"))
    return cases


def log_cosh_cases():
    cases = [tv.CheckCase(log_cosh, (_points(shape, -3.0, 3.0, seed=3),), name=f"{shape} in [-3, 3]")
             for shape in SHAPES]
    cases.append(tv.CheckCase(log_cosh, (np.array([-30.0, -1e-3, 0.0, 1e-3, 30.0]),), name="near 0 and far"))
    return cases


@hookimpl
def register_gradients(register):
    register.op("SoftClip", softclip_forward, softclip_grad, checks=softclip_cases())
    register.op("LogCosh", log_cosh_forward, log_cosh_grad, checks=log_cosh_cases())
