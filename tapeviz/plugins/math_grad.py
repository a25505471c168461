"""Gradient rules for element-wise arithmetic and math functions (TensorFlow's conventions)."""
import math

import numpy as np

import tapeviz as tv
from tapeviz import math as tm
from tapeviz.core.batching import elementwise
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase

from tapeviz.ops.math_ops import reciprocal_grad, rsqrt_grad, sqrt_grad

from ._helpers import DeclaringReads, binary_cases, randn, skips, unary_cases, unbroadcast

NOT_DIFFERENTIABLE = ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "LogicalAnd",
                      "LogicalOr", "LogicalNot", "Round", "Floor", "Ceil", "FloorDiv", "IsNan", "IsInf", "IsFinite")


def _zeros(g):
    return tv.zeros_like(g)


def _add_grad(op, grad):
    x, y = op.inputs
    return unbroadcast(grad, x), None if skips(op, 1) else unbroadcast(grad, y)


def _sub_grad(op, grad):
    x, y = op.inputs
    return unbroadcast(grad, x), None if skips(op, 1) else unbroadcast(-grad, y)


def _mul_grad(op, grad):
    x, y = op.inputs
    return (None if skips(op, 0) else unbroadcast(grad * y, x),
            None if skips(op, 1) else unbroadcast(grad * x, y))


def _div_grad(op, grad):
    x, y = op.inputs
    return (None if skips(op, 0) else unbroadcast(grad / y, x),
            None if skips(op, 1) else unbroadcast(grad * (-x / y / y), y))  # TF's order of operations


def _pow_grad(op, grad):
    x, y = op.inputs
    gx = None if skips(op, 0) else unbroadcast(grad * y * x ** (y - 1), x)
    gy = None
    if not skips(op, 1):
        positive = x > 0
        safe_log = tv.where(positive, tm.log(tv.where(positive, x, tv.ones_like(x))), tv.zeros_like(x))
        gy = unbroadcast(grad * op.outputs[0] * safe_log, y)
    return gx, gy


def _add_n_grad(op, grad):
    return [grad] * len(op.inputs)


def _floormod_grad(op, grad):
    x, y = op.inputs
    return unbroadcast(grad, x), None if skips(op, 1) else unbroadcast(-grad * tm.floordiv(x, y), y)


def _maximum_grad(op, grad):
    x, y = op.inputs
    x_wins = x >= y  # ties go to x, as in TF
    return (None if skips(op, 0) else unbroadcast(tv.where(x_wins, grad, _zeros(grad)), x),
            None if skips(op, 1) else unbroadcast(tv.where(x_wins, _zeros(grad), grad), y))


def _minimum_grad(op, grad):
    x, y = op.inputs
    x_wins = x <= y
    return (None if skips(op, 0) else unbroadcast(tv.where(x_wins, grad, _zeros(grad)), x),
            None if skips(op, 1) else unbroadcast(tv.where(x_wins, _zeros(grad), grad), y))


def _squared_difference_grad(op, grad):
    x, y = op.inputs
    g = grad * 2.0 * (x - y)
    return unbroadcast(g, x), None if skips(op, 1) else unbroadcast(-g, y)


# Second order of the guarded kernels, as TF's _SqrtGradGrad, _RsqrtGradGrad, _ReciprocalGradGrad.
def _sqrt_grad_grad(op, grad):
    a = op.inputs[0]
    ga = grad / a
    return -ga * op.outputs[0], 0.5 * ga


def _rsqrt_grad_grad(op, grad):
    a, b = op.inputs
    return -1.5 * grad * b * tv.square(a), rsqrt_grad(a, grad)


def _reciprocal_grad_grad(op, grad):
    a, b = op.inputs
    return grad * -2.0 * b * a, reciprocal_grad(a, grad)


GRAD_OPS = {
    "SqrtGrad": (_sqrt_grad_grad, sqrt_grad),
    "RsqrtGrad": (_rsqrt_grad_grad, rsqrt_grad),
    "ReciprocalGrad": (_reciprocal_grad_grad, reciprocal_grad),
}


def _away_from_zero(*shape, seed=5):
    x = randn(*shape, seed=seed)
    return x + np.where(x >= 0, 0.25, -0.25)


# Each rule runs the operations of TF's rule in TF's order (grad * reciprocal(x), not grad / x), so the
# gradients agree to the bit wherever the forward kernels do.
UNARY = {
    "Neg": (lambda op, g: -g, tv.negative, {}),
    "Abs": (lambda op, g: g * tv.sign(op.inputs[0]), tv.abs, "away"),
    "Sign": (lambda op, g: tv.zeros_like(g), tv.sign, "away"),
    "Square": (lambda op, g: g * 2.0 * op.inputs[0], tv.square, {}),
    "Reciprocal": (lambda op, g: reciprocal_grad(op.outputs[0], g), tm.reciprocal, {"low": 0.5, "high": 2.0}),
    "Exp": (lambda op, g: g * op.outputs[0], tv.exp, {}),
    "Log": (lambda op, g: g * tm.reciprocal(op.inputs[0]), tm.log, {"low": 0.5, "high": 2.0}),
    "Log1p": (lambda op, g: g * tm.reciprocal(1.0 + op.inputs[0]), tm.log1p, {"low": -0.5, "high": 2.0}),
    "Expm1": (lambda op, g: g * tv.exp(op.inputs[0]), tm.expm1, {}),
    "Sqrt": (lambda op, g: sqrt_grad(op.outputs[0], g), tv.sqrt, {"low": 0.5, "high": 2.0}),
    "Rsqrt": (lambda op, g: rsqrt_grad(op.outputs[0], g), tm.rsqrt, {"low": 0.5, "high": 2.0}),
    "Sin": (lambda op, g: g * tv.cos(op.inputs[0]), tv.sin, {}),
    "Cos": (lambda op, g: -g * tv.sin(op.inputs[0]), tv.cos, {}),
    "Tan": (lambda op, g: tv.square(tm.reciprocal(tv.cos(op.inputs[0]))) * g, tv.tan, {"low": -1.2, "high": 1.2}),
    "Tanh": (lambda op, g: g * (1.0 - op.outputs[0] * op.outputs[0]), tv.tanh, {}),
    "Sinh": (lambda op, g: g * tv.cosh(op.inputs[0]), tv.sinh, {}),
    "Cosh": (lambda op, g: g * tv.sinh(op.inputs[0]), tv.cosh, {}),
    "Asin": (lambda op, g: g * tm.reciprocal(tv.sqrt(1.0 - tv.square(op.inputs[0]))), tv.asin,
             {"low": -0.8, "high": 0.8}),
    "Acos": (lambda op, g: -g * tm.reciprocal(tv.sqrt(1.0 - tv.square(op.inputs[0]))), tv.acos,
             {"low": -0.8, "high": 0.8}),
    "Atan": (lambda op, g: g * tm.reciprocal(1.0 + tv.square(op.inputs[0])), tv.atan, {}),
    "Sigmoid": (lambda op, g: g * op.outputs[0] * (1.0 - op.outputs[0]), tv.sigmoid, {}),
    "Softplus": (lambda op, g: g * tv.sigmoid(op.inputs[0]), tm.softplus, {}),
    "Erf": (lambda op, g: g * (2.0 / math.sqrt(math.pi)) * tv.exp(-tv.square(op.inputs[0])), tm.erf, {}),
}

# What the rules read beyond shapes and dtypes: the tape keeps nothing else (big activations in a
# network). By default a rule reads its inputs, not its outputs.
_NOTHING = dict(needs_inputs=False, needs_outputs=False)
_OUTPUTS_ONLY = dict(needs_inputs=False, needs_outputs=True)
VALUES_READ = {
    "AddV2": _NOTHING, "Sub": _NOTHING, "Neg": _NOTHING, "Sign": _NOTHING, "AddN": _NOTHING,  # shapes only
    "Reciprocal": _OUTPUTS_ONLY, "Exp": _OUTPUTS_ONLY, "Sqrt": _OUTPUTS_ONLY, "Rsqrt": _OUTPUTS_ONLY,
    "Tanh": _OUTPUTS_ONLY, "Sigmoid": _OUTPUTS_ONLY,
    "Pow": dict(needs_inputs=True, needs_outputs=True),
    "SqrtGrad": dict(needs_inputs=(0,), needs_outputs=True),  # TF's _SqrtGradGrad reads y and dy
}

BINARY = {
    "AddV2": (_add_grad, lambda x, y: x + y, {}),
    "Sub": (_sub_grad, lambda x, y: x - y, {}),
    "Mul": (_mul_grad, lambda x, y: x * y, {}),
    "RealDiv": (_div_grad, lambda x, y: x / y, {"low": 0.5, "high": 2.0}),
    "Pow": (_pow_grad, lambda x, y: x ** y, {"low": 0.5, "high": 2.0}),
    "FloorMod": (_floormod_grad, lambda x, y: x % y, {"low": 0.5, "high": 2.0}),
    "Maximum": (_maximum_grad, tv.maximum, {}),
    "Minimum": (_minimum_grad, tv.minimum, {}),
    "SquaredDifference": (_squared_difference_grad, tm.squared_difference, {}),
}


def _unary_checks(fn, domain):
    if domain == "away":
        return [CheckCase(fn, (_away_from_zero(*shape),), name=str(shape)) for shape in [(), (4,), (2, 3)]]
    return unary_cases(fn, **domain)


@hookimpl
def register_gradients(register):
    # Every rule here takes gradients with a leading batch dimension (vectorized jacobians).
    register = DeclaringReads(register, VALUES_READ, default=dict(needs_outputs=False, batched=True))
    # Element-wise: batch_jacobian's diagonal gradients stay diagonal through them (tapeviz.core.batching).
    for op_type, (rule, fn, domain) in UNARY.items():
        register(op_type, rule, checks=_unary_checks(fn, domain), batched=True, diagonal=elementwise(rule))
    for op_type, (rule, fn, domain) in BINARY.items():
        register(op_type, rule, checks=binary_cases(fn, **domain), diagonal=elementwise(rule))
    for op_type, (rule, fn) in GRAD_OPS.items():
        register(op_type, rule, checks=[CheckCase(fn, (randn(*shape, seed=1, low=0.5, high=2.0), randn(*shape, seed=2)),
                                                  name=str(shape)) for shape in [(), (2, 3)]])
    register("AddN", _add_n_grad, checks=[CheckCase(lambda a, b, c: tv.add_n([a, b, c]),
                                                    (randn(2, 3, seed=1), randn(2, 3, seed=2), randn(2, 3, seed=3)))])
    for op_type in NOT_DIFFERENTIABLE:
        register.not_differentiable(op_type)
