"""Gradient rules for activations and (log-)softmax."""
import math

import numpy as np

import tapeviz as tv
from tapeviz import math as tm, nn
from tapeviz.core.batching import elementwise
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops.nn_ops import SELU_ALPHA, SELU_SCALE, leaky_relu_grad, relu6_grad, relu_grad

from ._helpers import DeclaringReads, randn, zeros_for

# What the rules read beyond shapes and dtypes: the tape keeps nothing else. By default a rule
# reads its input, not its output.
VALUES_READ = {
    "Relu": dict(needs_inputs=False, needs_outputs=True),
    "Relu6": dict(needs_inputs=False, needs_outputs=True),  # TF reads the output: 0 < y < 6 where 0 < x < 6
    "ReluGrad": dict(needs_inputs=(1,)),  # the features; the incoming gradients only pass through
    "Elu": dict(needs_outputs=True), "Selu": dict(needs_outputs=True),
    "Softmax": dict(needs_inputs=False, needs_outputs=True),
    "LogSoftmax": dict(needs_inputs=False, needs_outputs=True),
}


def _relu_grad(op, g):
    # The output, not the input: it is > 0 exactly where the input is, and rules that read outputs
    # are what TF writes too.
    return relu_grad(g, op.outputs[0])


def _relu_grad_grad(op, g):
    # ReluGrad is linear in its gradients input; the features only select: zeros, not None (TF's
    # _ReluGradGrad), so a second derivative of relu is 0 where TF's is.
    return relu_grad(g, op.inputs[1]), zeros_for(g, op.inputs[1])


def _relu6_grad(op, g):
    return relu6_grad(g, op.outputs[0])  # TF reads the output: 0 < y < 6 exactly where 0 < x < 6


def _relu6_grad_grad(op, g):
    return relu6_grad(g, op.inputs[1]), zeros_for(g, op.inputs[1])


def _elu_grad(op, g):
    # TF's EluGrad kernel tests the output (y < 0), so at x = 0 the slope is 1 and the second derivative 0.
    y = op.outputs[0]
    return tv.where(y < 0, g * (y + 1.0), g)


def _selu_grad(op, g):
    # TF's SeluGrad kernel tests the output: at x = 0 the slope is the scale (1.0507), not scale * alpha.
    y = op.outputs[0]
    return tv.where(y < 0, g * (y + SELU_SCALE * SELU_ALPHA), g * SELU_SCALE)


def _leaky_relu_grad(op, g):
    return leaky_relu_grad(g, op.inputs[0], op.get_attr("alpha"))


def _leaky_relu_grad_grad(op, g):
    return leaky_relu_grad(g, op.inputs[1], op.get_attr("alpha")), zeros_for(g, op.inputs[1])


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


def _grad_op_cases(fn):
    return [CheckCase(fn, (randn(*shape, seed=7), _away_from_kinks(*shape)), name=str(shape))
            for shape in [(5,), (2, 4)]]


def _softmax_cases(fn):
    return [CheckCase(lambda x: fn(x), (randn(4, seed=2),), name="(4,)"),
            CheckCase(lambda x: fn(x), (randn(2, 3, seed=3),), name="(2, 3) last axis"),
            CheckCase(lambda x: fn(x, axis=0), (randn(3, 2, seed=4),), name="(3, 2) axis 0")]


@hookimpl
def register_gradients(register):
    # Every rule here takes gradients with a leading batch dimension (vectorized jacobians); the
    # element-wise ones keep batch_jacobian's diagonal gradients diagonal (tapeviz.core.batching).
    register = DeclaringReads(register, VALUES_READ, default=dict(needs_outputs=False, batched=True))
    register("Relu", _relu_grad, diagonal=elementwise(_relu_grad), checks=_cases(nn.relu))
    register("ReluGrad", _relu_grad_grad, checks=_grad_op_cases(relu_grad))
    register("Relu6", _relu6_grad, diagonal=elementwise(_relu6_grad), checks=_cases(nn.relu6))
    register("Relu6Grad", _relu6_grad_grad, checks=_grad_op_cases(relu6_grad))
    register("LeakyReluGrad", _leaky_relu_grad_grad, checks=_grad_op_cases(
        lambda g, x: leaky_relu_grad(g, x, alpha=0.3)))
    register("Elu", _elu_grad, diagonal=elementwise(_elu_grad), checks=_cases(nn.elu))
    register("Selu", _selu_grad, diagonal=elementwise(_selu_grad), checks=_cases(nn.selu))
    register("LeakyRelu", _leaky_relu_grad, diagonal=elementwise(_leaky_relu_grad),
             checks=_cases(lambda x: nn.leaky_relu(x, alpha=0.3)))
    register("Gelu", _gelu_grad, diagonal=elementwise(_gelu_grad),
             checks=_cases(nn.gelu) + _cases(lambda x: nn.gelu(x, approximate=True), "tanh form "))
    register("Softmax", _softmax_grad, checks=_softmax_cases(nn.softmax))
    register("LogSoftmax", _log_softmax_grad, checks=_softmax_cases(nn.log_softmax))
    register.not_differentiable("InTopKV2")  # tf.math.in_top_k: a bool per row
