"""Gradient rules for BiasAdd and BiasAddGrad, as TensorFlow's nn_grad.py writes them: each is the
other's gradient (a sum over every axis but the channel axis, and its broadcast back).

Both take a vectorized pass's gradients (``batched=True``): the leading batch dimension is kept out
of the sum and in front of the broadcast.
"""
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import array_ops as A
from tapeviz.ops import nn_layer_ops as L

from ._helpers import batch_dims, randn, skips


def _bias_add_grad(op, grad):
    axis, lead = op.get_attr("channel_axis"), batch_dims()
    if skips(op, 1):
        return grad, None
    if lead:
        rank = grad._value.ndim
        return grad, A.reduce_sum(grad, axis=tuple(i for i in range(lead, rank) if i != axis + lead))
    return grad, L.bias_add_grad(grad, axis)


def _bias_add_grad_grad(op, grad):
    # TF's _BiasAddGradGrad: the bias gradient broadcast over the shape BiasAddGrad summed.
    axis, lead = op.get_attr("channel_axis"), batch_dims()
    shape = op.inputs[0]._value.shape
    kept = [1] * len(shape)
    kept[axis] = shape[axis]
    leading = grad._value.shape[:lead]
    return A.broadcast_to(A.reshape(grad, leading + tuple(kept)), leading + shape)


@hookimpl
def register_gradients(register):
    register("BiasAdd", _bias_add_grad, batched=True, needs_inputs=False, needs_outputs=False, checks=[
        CheckCase(L.bias_add, (randn(2, 3, seed=1), randn(3, seed=2)), name="(2, 3)"),
        CheckCase(L.bias_add, (randn(2, 2, 2, 3, seed=3), randn(3, seed=4)), name="NHWC"),
        CheckCase(lambda x, b: L.bias_add(x, b, data_format="NCHW"), (randn(2, 3, 2, 2, seed=5), randn(3, seed=6)),
                  name="NCHW")])
    register("BiasAddGrad", _bias_add_grad_grad, batched=True, needs_inputs=False, needs_outputs=False, checks=[
        CheckCase(lambda g: L.bias_add_grad(g, 2), (randn(2, 2, 3, seed=7),), name="channels last"),
        CheckCase(lambda g: L.bias_add_grad(g, 1), (randn(2, 3, 2, seed=8),), name="channels first")])
