"""Gradient rules for the fused cross-entropy ops and ``L2Loss``, as TensorFlow writes them.

Each softmax cross-entropy op returns its own gradient (``softmax - labels``) as a second output;
the rule scales it by the incoming loss gradient. Differentiating that second output again (a
second-order tape) brings a gradient into ``grad_grad``, which the rule turns into the softmax's
Jacobian product.

The rules take a vectorized pass's gradients (``batched=True``) as they are: they work on the
last (class) axis and broadcast the loss gradient against it, so leading rows just ride along;
only ``L2Loss``, whose loss is a scalar, lines its gradient up with the input's dimensions.
"""
import numpy as np

import tapeviz as tv
from tapeviz import nn
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase

from ._helpers import batch_dims, randn


def _softmax_backprop_grad(op, grad_loss, grad_grad):
    grad = tv.expand_dims(grad_loss, -1) * op.outputs[1]
    if np.any(grad_grad._value):  # TF skips this term when grad_grad is its zeros placeholder
        softmax = nn.softmax(op.inputs[0])
        grad = grad + (grad_grad - tv.reduce_sum(grad_grad * softmax, axis=-1, keepdims=True)) * softmax
    return grad


def _softmax_xent_grad(op, grad_loss, grad_grad):
    grad = _softmax_backprop_grad(op, grad_loss, grad_grad)
    labels_grad = tv.expand_dims(grad_loss, -1) * -nn.log_softmax(op.inputs[0])
    if np.any(grad_grad._value):
        # backprop = softmax - labels. TF's rule leaves out this term, so its second derivatives that
        # mix logits and labels are wrong; tapeviz keeps the finite-difference answer.
        labels_grad = labels_grad - grad_grad
    return grad, labels_grad


def _sparse_softmax_xent_grad(op, grad_loss, grad_grad):
    return _softmax_backprop_grad(op, grad_loss, grad_grad), None


def _l2_loss_grad(op, grad):
    x = op.inputs[0]
    if batch_dims() and x._value.ndim:  # one scalar per row: (B,) -> (B, 1, ..., 1) against x
        grad = tv.reshape(grad, grad._value.shape + (1,) * x._value.ndim)
    return x * grad


def _distribution(*shape, seed):
    p = np.exp(randn(*shape, seed=seed))
    return p / p.sum(axis=-1, keepdims=True)


LABELS = np.array([2, 0, 1])


@hookimpl
def register_gradients(register):
    register("SoftmaxCrossEntropyWithLogits", _softmax_xent_grad, batched=True, checks=[
        CheckCase(lambda logits, labels: nn.softmax_cross_entropy_with_logits(labels, logits),
                  (randn(3, 4, seed=1), _distribution(3, 4, seed=2)), name="(3, 4)"),
        CheckCase(lambda logits, labels: nn.softmax_cross_entropy_with_logits(labels, logits, axis=0),
                  (randn(4, 2, 3, seed=3), _distribution(2, 3, 4, seed=4).transpose(2, 0, 1)),
                  name="(4, 2, 3) axis 0"),
    ])
    register("SparseSoftmaxCrossEntropyWithLogits", _sparse_softmax_xent_grad, batched=True, checks=[
        CheckCase(lambda logits: nn.sparse_softmax_cross_entropy_with_logits(LABELS, logits),
                  (randn(3, 4, seed=5),), name="(3, 4)"),
        CheckCase(lambda logits: nn.sparse_softmax_cross_entropy_with_logits(LABELS.reshape(1, 3), logits),
                  (randn(1, 3, 5, seed=6),), name="(1, 3, 5)"),
    ])
    register("L2Loss", _l2_loss_grad, batched=True, checks=[
        CheckCase(nn.l2_loss, (randn(*shape, seed=7),), name=str(shape)) for shape in [(), (5,), (2, 3)]])
