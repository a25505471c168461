"""Gradient rules for activations and (log-)softmax."""
import math

import numpy as np

import tapeviz as tv
from tapeviz import math as tm, nn
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops.nn_ops import SELU_ALPHA, SELU_SCALE, relu_grad

from ._helpers import randn


def _relu_grad(op, g):
    # The output, not the input: it is > 0 exactly where the input is, and rules that read outputs
    # are what TF writes too.
    return relu_grad(g, op.outputs[0])


def _relu_grad_grad(op, g):
    # ReluGrad is linear in its gradients input; the features only select, so they get no gradient.
    return relu_grad(g, op.inputs[1]), None


def _relu6_grad(op, g):
    x = op.inputs[0]
    return tv.where(tv.logical_and(x > 0, x < 6), g, tv.zeros_like(g))


def _elu_grad(op, g):
    return tv.where(op.inputs[0] > 0, g, g * (op.outputs[0] + 1.0))


def _selu_grad(op, g):
    return tv.where(op.inputs[0] > 0, g * SELU_SCALE, g * (op.outputs[0] + SELU_SCALE * SELU_ALPHA))


def _leaky_relu_grad(op, g):
    return tv.where(op.inputs[0] > 0, g, g * op.get_attr("alpha"))


def _gelu_grad(op, g):
    x = op.inputs[0]
    if op.get_attr("approximate"):  # y = x/2 (1 + t), t = tanh(k (x + c x^3))
        k, c = 0.7978845608028654, 0.044715
        t = tv.tanh(k * (x + c * x * x * x))
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * c * x * x))
    cdf = 0.5 * (1.0 + tm.erf(x / math.sqrt(2.0)))  # y = x cdf(x), y' = cdf(x) + x pdf(x)
    return g * (cdf + x * tv.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi))


def _softmax_grad(op, g):
    y = op.outputs[0]
    return (g - tv.reduce_sum(g * y, axis=_from_end(op), keepdims=True)) * y


def _log_softmax_grad(op, g):
    axis = _from_end(op)
    return g - tv.reduce_sum(g, axis=axis, keepdims=True) * tv.exp(op.outputs[0])


def _from_end(op):
    """The softmax axis counted from the end: the same axis of a gradient with leading batch dimensions."""
    axis = op.get_attr("axis")
    return axis - op.outputs[0]._value.ndim if axis >= 0 else axis


def _away_from_kinks(*shape, seed=11):
    x = 3.0 * randn(*shape, seed=seed)
    x = x + np.where(x >= 0, 0.2, -0.2)
    return np.where(np.abs(x - 6.0) < 0.2, x + 0.5, x)


def _cases(fn, label=""):
    return [CheckCase(fn, (_away_from_kinks(*shape),), name=label + str(shape)) for shape in [(), (5,), (2, 4)]]


def _softmax_cases(fn):
    return [CheckCase(lambda x: fn(x), (randn(4, seed=2),), name="(4,)"),
            CheckCase(lambda x: fn(x), (randn(2, 3, seed=3),), name="(2, 3) last axis"),
            CheckCase(lambda x: fn(x, axis=0), (randn(3, 2, seed=4),), name="(3, 2) axis 0")]


@hookimpl
def register_gradients(register):
    register("Relu", _relu_grad, checks=_cases(nn.relu), needs_inputs=False, batched=True)
    register("ReluGrad", _relu_grad_grad, batched=True,
             checks=[CheckCase(lambda g, x: relu_grad(g, x), (randn(*shape, seed=7), _away_from_kinks(*shape)),
                               name=str(shape)) for shape in [(5,), (2, 4)]])
    register("Relu6", _relu6_grad, checks=_cases(nn.relu6), batched=True)
    register("Elu", _elu_grad, checks=_cases(nn.elu), batched=True)
    register("Selu", _selu_grad, checks=_cases(nn.selu), batched=True)
    register("LeakyRelu", _leaky_relu_grad, batched=True, checks=_cases(lambda x: nn.leaky_relu(x, alpha=0.3)))
    register("Gelu", _gelu_grad, batched=True, checks=_cases(nn.gelu) + _cases(lambda x: nn.gelu(x, approximate=True), "tanh form "))
    register("Softmax", _softmax_grad, batched=True, checks=_softmax_cases(nn.softmax))
    register("LogSoftmax", _log_softmax_grad, batched=True, checks=_softmax_cases(nn.log_softmax))
