"""Gradient rules for 2-D convolution and pooling, as TensorFlow's nn_grad writes them.

Conv2D's two backprops are each other's gradients and Conv2D's own (so every order works);
MaxPoolGrad and MaxPoolGradGrad are each other's gradients; AvgPoolGrad's gradient is AvgPool.

Every rule also takes a vectorized pass's gradients (``batched=True``): the B rows of a jacobian
ride along an axis the op already has, so each rule is still one op call. Rows become more images
(the batch axis) where the gradient is image-shaped, more channels where it is filter-shaped
(a convolution treats channels independently on that side); pooling tiles its recorded input and
output B times to match. The ordinary pass (``batch_dims() == 0``, the training hot path) runs
the rules' original code, untouched.
"""
import tapeviz as tv
from tapeviz import nn
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import conv_ops

from ._helpers import batch_dims, randn, skips, zeros_for


# -- a vectorized pass's rows, carried by an existing axis ------------------------------------------
def _rows_into(t, axis):
    """(B, *s) -> s with s[axis] widened to B * s[axis], row-major in (b, i): the rows ride along ``axis``."""
    shape = t._value.shape
    if axis:
        t = tv.transpose(t, list(range(1, axis + 1)) + [0] + list(range(axis + 1, len(shape))))
    return tv.reshape(t, shape[1:axis + 1] + (shape[0] * shape[axis + 1],) + shape[axis + 2:])


def _rows_out_of(t, axis, rows):
    """The inverse of ``_rows_into``: split ``axis`` into (rows, rest) and move the rows to the front."""
    shape = t._value.shape
    t = tv.reshape(t, shape[:axis] + (rows, shape[axis] // rows) + shape[axis + 1:])
    if axis:
        t = tv.transpose(t, [axis] + list(range(axis)) + list(range(axis + 1, len(shape) + 1)))
    return t


def _widened(shape, axis, rows):
    shape = tuple(int(n) for n in shape)
    return shape[:axis] + (rows * shape[axis],) + shape[axis + 1:]


def _tiled(t, rows):
    """An NHWC tensor repeated ``rows`` times along its batch axis, to line up with ``_rows_into(g, 0)``."""
    return tv.tile(t, [rows, 1, 1, 1])


def _conv_attrs(op):
    return op.get_attr("strides"), op.get_attr("padding"), op.get_attr("dilations")


def _conv2d_grad(op, grad):
    if batch_dims():
        return _conv2d_grad_rows(op, grad)
    x, w = op.inputs
    strides, padding, dilations = _conv_attrs(op)
    dx = None if skips(op, 0) else conv_ops.conv2d_backprop_input(x.shape, w, grad, strides, padding, dilations)
    dw = None if skips(op, 1) else conv_ops.conv2d_backprop_filter(x, w.shape, grad, strides, padding, dilations)
    return dx, dw


def _conv2d_grad_rows(op, grad):
    # dx: rows as more images; dw: rows as more output channels of the filter.
    x, w = op.inputs
    rows = grad._value.shape[0]
    strides, padding, dilations = _conv_attrs(op)
    dx = None if skips(op, 0) else _rows_out_of(conv_ops.conv2d_backprop_input(
        _widened(x._value.shape, 0, rows), w, _rows_into(grad, 0), strides, padding, dilations), 0, rows)
    dw = None if skips(op, 1) else _rows_out_of(conv_ops.conv2d_backprop_filter(
        x, _widened(w._value.shape, 3, rows), _rows_into(grad, 3), strides, padding, dilations), 3, rows)
    return dx, dw


def _conv2d_backprop_input_grad(op, grad):
    if batch_dims():
        return _conv2d_backprop_input_grad_rows(op, grad)
    w, dy = op.inputs
    strides, padding, dilations = _conv_attrs(op)
    return (conv_ops.conv2d_backprop_filter(grad, w.shape, dy, strides, padding, dilations),
            conv_ops.conv2d_with_attrs(grad, w, strides, padding, dilations))


def _conv2d_backprop_input_grad_rows(op, grad):
    # grad is input-shaped: rows as more input channels (filter side) and as more images (dy side).
    w, dy = op.inputs
    rows = grad._value.shape[0]
    strides, padding, dilations = _conv_attrs(op)
    dw = conv_ops.conv2d_backprop_filter(_rows_into(grad, 3), _widened(w._value.shape, 2, rows), dy,
                                         strides, padding, dilations)
    return (_rows_out_of(dw, 2, rows),
            _rows_out_of(conv_ops.conv2d_with_attrs(_rows_into(grad, 0), w, strides, padding, dilations), 0, rows))


def _conv2d_backprop_filter_grad(op, grad):
    if batch_dims():
        return _conv2d_backprop_filter_grad_rows(op, grad)
    x, dy = op.inputs
    strides, padding, dilations = _conv_attrs(op)
    return (conv_ops.conv2d_backprop_input(x.shape, grad, dy, strides, padding, dilations),
            conv_ops.conv2d_with_attrs(x, grad, strides, padding, dilations))


def _conv2d_backprop_filter_grad_rows(op, grad):
    # grad is filter-shaped: rows as more input channels (x side) and as more output channels (dy side).
    x, dy = op.inputs
    rows = grad._value.shape[0]
    strides, padding, dilations = _conv_attrs(op)
    dx = conv_ops.conv2d_backprop_input(_widened(x._value.shape, 3, rows), _rows_into(grad, 2), dy,
                                        strides, padding, dilations)
    return (_rows_out_of(dx, 3, rows),
            _rows_out_of(conv_ops.conv2d_with_attrs(x, _rows_into(grad, 3), strides, padding, dilations), 3, rows))


def _pool_attrs(op):
    return {"ksize": op.get_attr("ksize"), "strides": op.get_attr("strides"), "padding": op.get_attr("padding")}


def _max_pool_kernel(kernel, x, y, grad, op):
    """``kernel(x, y, grad, pool attrs)``; in a vectorized pass the rows of ``grad`` ride along the batch axis."""
    if batch_dims():
        rows = grad._value.shape[0]
        return _rows_out_of(kernel(_tiled(x, rows), _tiled(y, rows), _rows_into(grad, 0), _pool_attrs(op)), 0, rows)
    return kernel(x, y, grad, _pool_attrs(op))


def _max_pool_input_zeros(grad, x, y):
    """The zero gradients of MaxPoolGrad's x and y inputs."""
    if batch_dims():
        return zeros_for(grad, x), zeros_for(grad, y)
    return tv.zeros_like(x), tv.zeros_like(y)


def _max_pool_grad(op, grad):
    return _max_pool_kernel(conv_ops.max_pool_grad, op.inputs[0], op.outputs[0], grad, op)


def _max_pool_grad_grad(op, grad):
    x, y, _ = op.inputs
    return _max_pool_input_zeros(grad, x, y) + (_max_pool_kernel(conv_ops.max_pool_grad_grad, x, y, grad, op),)


def _max_pool_grad_grad_grad(op, grad):
    x, y, _ = op.inputs
    return _max_pool_input_zeros(grad, x, y) + (_max_pool_kernel(conv_ops.max_pool_grad, x, y, grad, op),)


def _avg_pool_grad(op, grad):
    if batch_dims():
        rows = grad._value.shape[0]
        return _rows_out_of(conv_ops.avg_pool_grad(_widened(op.inputs[0]._value.shape, 0, rows),
                                                   _rows_into(grad, 0), _pool_attrs(op)), 0, rows)
    return conv_ops.avg_pool_grad(op.inputs[0].shape, grad, _pool_attrs(op))


def _avg_pool_grad_grad(op, grad):
    if batch_dims():
        rows = grad._value.shape[0]
        return _rows_out_of(conv_ops.avg_pool_with_attrs(_rows_into(grad, 0), _pool_attrs(op)), 0, rows)
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
    # The convolutions' rules read their inputs only, and the pooling gradients' rules only the pooled
    # input and output: the tape lets go of the rest (an activation-sized array per layer) at once.
    register("Conv2D", _conv2d_grad, batched=True, needs_outputs=False, checks=_conv_cases())
    register("Conv2DBackpropInput", _conv2d_backprop_input_grad, batched=True, needs_outputs=False,
             checks=_backprop_cases("input"))
    register("Conv2DBackpropFilter", _conv2d_backprop_filter_grad, batched=True, needs_outputs=False,
             checks=_backprop_cases("filter"))
    register("MaxPool", _max_pool_grad, batched=True, checks=_pool_cases(nn.max_pool2d))
    register("MaxPoolGrad", _max_pool_grad_grad, batched=True, needs_inputs=(0, 1), needs_outputs=False,
             checks=_pool_grad_cases(conv_ops.max_pool_grad, False))
    register("MaxPoolGradGrad", _max_pool_grad_grad_grad, batched=True, needs_inputs=(0, 1), needs_outputs=False,
             checks=_pool_grad_cases(conv_ops.max_pool_grad_grad, True))
    register("AvgPool", _avg_pool_grad, batched=True, needs_inputs=False, needs_outputs=False,
             checks=_pool_cases(nn.avg_pool2d))
    register("AvgPoolGrad", _avg_pool_grad_grad, batched=True, needs_inputs=False, needs_outputs=False,
             checks=_avg_pool_grad_cases())
