"""Gradient rules for 2-D convolution and pooling, as TensorFlow's nn_grad writes them.

Conv2D's two backprops are each other's gradients and Conv2D's own (so every order works);
MaxPoolGrad and MaxPoolGradGrad are each other's gradients; AvgPoolGrad's gradient is AvgPool.
"""
import tapeviz as tv
from tapeviz import nn
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import conv_ops

from ._helpers import randn, skips


def _conv_attrs(op):
    return op.get_attr("strides"), op.get_attr("padding"), op.get_attr("dilations")


def _conv2d_grad(op, grad):
    x, w = op.inputs
    strides, padding, dilations = _conv_attrs(op)
    dx = None if skips(op, 0) else conv_ops.conv2d_backprop_input(x.shape, w, grad, strides, padding, dilations)
    dw = None if skips(op, 1) else conv_ops.conv2d_backprop_filter(x, w.shape, grad, strides, padding, dilations)
    return dx, dw


def _conv2d_backprop_input_grad(op, grad):
    w, dy = op.inputs
    strides, padding, dilations = _conv_attrs(op)
    return (conv_ops.conv2d_backprop_filter(grad, w.shape, dy, strides, padding, dilations),
            conv_ops.conv2d_with_attrs(grad, w, strides, padding, dilations))


def _conv2d_backprop_filter_grad(op, grad):
    x, dy = op.inputs
    strides, padding, dilations = _conv_attrs(op)
    return (conv_ops.conv2d_backprop_input(x.shape, grad, dy, strides, padding, dilations),
            conv_ops.conv2d_with_attrs(x, grad, strides, padding, dilations))


def _pool_attrs(op):
    return {"ksize": op.get_attr("ksize"), "strides": op.get_attr("strides"), "padding": op.get_attr("padding")}


def _max_pool_grad(op, grad):
    return conv_ops.max_pool_grad(op.inputs[0], op.outputs[0], grad, _pool_attrs(op))


def _max_pool_grad_grad(op, grad):
    x, y, _ = op.inputs
    return tv.zeros_like(x), tv.zeros_like(y), conv_ops.max_pool_grad_grad(x, y, grad, _pool_attrs(op))


def _max_pool_grad_grad_grad(op, grad):
    x, y, _ = op.inputs
    return tv.zeros_like(x), tv.zeros_like(y), conv_ops.max_pool_grad(x, y, grad, _pool_attrs(op))


def _avg_pool_grad(op, grad):
    return conv_ops.avg_pool_grad(op.inputs[0].shape, grad, _pool_attrs(op))


def _avg_pool_grad_grad(op, grad):
    return conv_ops.avg_pool_with_attrs(grad, _pool_attrs(op))


CONV_SETTINGS = [  # (input shape, filter shape, strides, padding, dilations)
    ((2, 5, 5, 2), (3, 3, 2, 3), 1, "VALID", 1),
    ((1, 6, 5, 2), (3, 2, 2, 2), 2, "SAME", 1),
    ((1, 5, 6, 1), (2, 3, 1, 2), (1, 2, 1, 1), "SAME", 1),
    ((1, 7, 7, 1), (2, 2, 1, 2), 1, "VALID", 2),
    ((1, 4, 4, 1), (3, 3, 1, 1), 1, [[0, 0], [1, 0], [2, 1], [0, 0]], 1),
]
POOL_SETTINGS = [  # (input shape, ksize, strides, padding)
    ((2, 4, 4, 3), 2, 2, "VALID"),
    ((1, 5, 5, 2), 3, 2, "SAME"),
    ((1, 5, 4, 1), (2, 3), 1, "VALID"),
]


def _conv_cases():
    return [CheckCase(lambda x, w, s=s, p=p, d=d: nn.conv2d(x, w, s, p, dilations=d),
                      (randn(*xs, seed=1), randn(*ws, seed=2)), name=f"{xs} * {ws} strides {s} {p}")
            for xs, ws, s, p, d in CONV_SETTINGS]


def _backprop_cases(which):
    cases = []
    for xs, ws, s, p, d in CONV_SETTINGS[:3]:
        y_shape = tuple(nn.conv2d(tv.zeros(xs), tv.zeros(ws), s, p).shape)
        if which == "input":
            fn = (lambda w, dy, xs=xs, s=s, p=p: conv_ops.conv2d_backprop_input(xs, w, dy, conv_ops._four(s, "s"),
                                                                                 conv_ops._padding(p), (1, 1)))
            inputs = (randn(*ws, seed=3), randn(*y_shape, seed=4))
        else:
            fn = (lambda x, dy, ws=ws, s=s, p=p: conv_ops.conv2d_backprop_filter(x, ws, dy, conv_ops._four(s, "s"),
                                                                                  conv_ops._padding(p), (1, 1)))
            inputs = (randn(*xs, seed=5), randn(*y_shape, seed=6))
        cases.append(CheckCase(fn, inputs, name=f"{xs} * {ws} strides {s} {p}"))
    return cases


def _pool_cases(pool):
    return [CheckCase(lambda x, k=k, s=s, p=p: pool(x, k, s, p), (randn(*xs, seed=7),), name=f"{xs} ksize {k} {p}")
            for xs, k, s, p in POOL_SETTINGS]


def _pool_grad_cases(grad_op, input_shaped_grad):
    cases = []
    for xs, k, s, p in POOL_SETTINGS:
        attrs = conv_ops._pool_attrs(k, s, p)
        x = randn(*xs, seed=8)
        y_shape = tuple(nn.max_pool2d(tv.constant(x), k, s, p).shape)
        g = randn(*(xs if input_shaped_grad else y_shape), seed=9)
        y = nn.max_pool2d(tv.constant(x), k, s, p).numpy()
        cases.append(CheckCase(lambda g, x=x, y=y, attrs=attrs: grad_op(tv.constant(x), tv.constant(y), g, attrs),
                               (g,), name=f"{xs} ksize {k} {p}"))
    return cases


def _avg_pool_grad_cases():
    cases = []
    for xs, k, s, p in POOL_SETTINGS:
        attrs = conv_ops._pool_attrs(k, s, p)
        y_shape = tuple(nn.avg_pool2d(tv.zeros(xs), k, s, p).shape)
        cases.append(CheckCase(lambda g, xs=xs, attrs=attrs: conv_ops.avg_pool_grad(xs, g, attrs),
                               (randn(*y_shape, seed=10),), name=f"{xs} ksize {k} {p}"))
    return cases


@hookimpl
def register_gradients(register):
    register("Conv2D", _conv2d_grad, checks=_conv_cases())
    register("Conv2DBackpropInput", _conv2d_backprop_input_grad, checks=_backprop_cases("input"))
    register("Conv2DBackpropFilter", _conv2d_backprop_filter_grad, checks=_backprop_cases("filter"))
    register("MaxPool", _max_pool_grad, checks=_pool_cases(nn.max_pool2d))
    register("MaxPoolGrad", _max_pool_grad_grad, checks=_pool_grad_cases(conv_ops.max_pool_grad, False))
    register("MaxPoolGradGrad", _max_pool_grad_grad_grad, checks=_pool_grad_cases(conv_ops.max_pool_grad_grad, True))
    register("AvgPool", _avg_pool_grad, needs_inputs=False, needs_outputs=False, checks=_pool_cases(nn.avg_pool2d))
    register("AvgPoolGrad", _avg_pool_grad_grad, needs_inputs=False, needs_outputs=False,
             checks=_avg_pool_grad_cases())
