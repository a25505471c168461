"""Gradient rules for element-wise arithmetic and math functions."""
import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl

from ._helpers import binary_cases, unary_cases, unbroadcast, skips


def _add_grad(op, grad):
    x, y = op.inputs
    return unbroadcast(grad, x.shape), unbroadcast(grad, y.shape)


def _sub_grad(op, grad):
    x, y = op.inputs
    return unbroadcast(grad, x.shape), (None if skips(op, 1) else unbroadcast(-grad, y.shape))


def _mul_grad(op, grad):
    x, y = op.inputs
    return (None if skips(op, 0) else unbroadcast(grad * y, x.shape),
            None if skips(op, 1) else unbroadcast(grad * x, y.shape))


@hookimpl
def register_gradients(register):
    register("AddV2", _add_grad, checks=binary_cases(lambda x, y: x + y))
    register("Sub", _sub_grad, checks=binary_cases(lambda x, y: x - y))
    register("Mul", _mul_grad, checks=binary_cases(lambda x, y: x * y))
    register("Neg", lambda op, grad: -grad, checks=unary_cases(lambda x: -x))
    register("Sin", lambda op, grad: grad * tv.cos(op.inputs[0]), checks=unary_cases(tv.sin))
    register("Cos", lambda op, grad: -grad * tv.sin(op.inputs[0]), checks=unary_cases(tv.cos))
    register("Exp", lambda op, grad: grad * op.outputs[0], checks=unary_cases(tv.exp))


def _pow_grad(op, grad):
    x, y = op.inputs
    z = op.outputs[0]
    gx = None if skips(op, 0) else unbroadcast(grad * y * x ** (y - 1), x.shape)
    gy = None
    if not skips(op, 1):
        safe_x = tv.where(x > 0, x, tv.ones_like(x))
        gy = unbroadcast(grad * z * tv.where(x > 0, tv.log(safe_x), tv.zeros_like(x)), y.shape)
    return gx, gy


@hookimpl(specname="register_gradients")
def register_power(register):
    register("Pow", _pow_grad, checks=binary_cases(lambda x, y: x ** y, low=0.5, high=2.0))
