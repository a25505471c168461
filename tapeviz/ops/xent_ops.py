"""Cross-entropy and loss-shaped ops: ``tf.nn.softmax_cross_entropy_with_logits`` and its sparse and
sigmoid forms, ``log_sigmoid``, ``l2_loss``, ``silu``/``swish``.

The two softmax forms are TensorFlow's fused ops (``SoftmaxCrossEntropyWithLogits`` and
``SparseSoftmaxCrossEntropyWithLogits``), each with two outputs, the loss and its gradient
``softmax - labels``, which the rule reuses (``tapeviz.plugins.xent_grad``). The sigmoid form and
``log_sigmoid`` are composed from other ops, as TensorFlow composes them.
"""
import numpy as np

from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import execute, execute_multi

from . import array_ops, math_ops
from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = []  # reached as tf.nn.*, none at top level


def _softmax_xent(logits, labels):
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    total = np.sum(exp, axis=-1, keepdims=True)
    loss = np.sum(labels * (np.log(total) - shifted), axis=-1)
    return loss, exp / total - labels


def _sparse_softmax_xent(logits, labels):
    classes = logits.shape[-1]
    bad = (labels < 0) | (labels >= classes)
    if np.any(bad):
        raise InvalidArgumentError(
            f"Received a label value of {int(labels[bad][0])} which is outside the valid range of [0, {classes}). "
            f"Label values: {' '.join(str(int(v)) for v in labels.ravel())}. Labels are class indices: each must "
            f"be at least 0 and less than the number of classes (the logits' last dimension, {classes}).")
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    total = np.sum(exp, axis=-1, keepdims=True)
    rows = np.arange(logits.shape[0])
    loss = np.log(total[:, 0]) - shifted[rows, labels]
    backprop = exp / total
    backprop[rows, labels] -= 1
    return loss, backprop


def softmax_cross_entropy_with_logits_raw(logits, labels):
    """The raw op on rank-2 ``[batch, classes]`` inputs: (loss, backprop)."""
    return execute_multi("SoftmaxCrossEntropyWithLogits", _softmax_xent, (logits, labels))


def _to_2d_last(x, axis):
    """Move ``axis`` last and flatten the rest: the raw ops take ``[batch, classes]``."""
    rank = len(x.shape)
    axis = axis % rank
    if axis != rank - 1:
        x = array_ops.transpose(x, [i for i in range(rank) if i != axis] + [axis])
    return x if rank == 2 else array_ops.reshape(x, [-1, x.shape[-1]])


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)) along ``axis``; gradients flow to both labels and logits."""
    logits, labels = binary_inputs("SoftmaxCrossEntropyWithLogits", logits, labels)
    floating_only("SoftmaxCrossEntropyWithLogits", logits)
    if labels.shape != logits.shape:
        raise ValueError(f"labels and logits must have the same shape, got labels {list(labels.shape)} and "
                         f"logits {list(logits.shape)}; for class indices use "
                         "sparse_softmax_cross_entropy_with_logits.")
    rank = len(logits.shape)
    if rank == 0:
        raise ValueError("logits must have at least one dimension (the classes).")
    batch_shape = [n for i, n in enumerate(logits.shape) if i != axis % rank]
    loss, _ = softmax_cross_entropy_with_logits_raw(_to_2d_last(logits, axis), _to_2d_last(labels, axis))
    return loss if rank == 2 else array_ops.reshape(loss, batch_shape)


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """-log_softmax(logits)[label] per example; ``labels`` are int class indices, shaped like logits minus its last axis."""
    logits, labels = as_tensor(logits), as_tensor(labels)
    floating_only("SparseSoftmaxCrossEntropyWithLogits", logits)
    if labels.dtype.name not in ("int32", "int64"):
        raise TypeError(f"labels must be int32 or int64 class indices, got {labels.dtype.name}; cast them with "
                        "tapeviz.cast(labels, tapeviz.int32).")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"Rank mismatch: labels must have the logits' shape without its last dimension; got "
                         f"labels {list(labels.shape)} and logits {list(logits.shape)}.")
    rank = len(logits.shape)
    flat_logits = logits if rank == 2 else array_ops.reshape(logits, [-1, logits.shape[-1]])
    flat_labels = labels if rank == 2 else array_ops.reshape(labels, [-1])
    loss, _ = execute_multi("SparseSoftmaxCrossEntropyWithLogits", _sparse_softmax_xent, (flat_logits, flat_labels))
    return loss if rank == 2 else array_ops.reshape(loss, list(labels.shape))


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """max(x, 0) - x z + log(1 + exp(-|x|)): TF's overflow-free composition, gradients to labels and logits."""
    logits, labels = binary_inputs("SigmoidCrossEntropyWithLogits", logits, labels)
    if labels.shape != logits.shape:
        raise ValueError(f"logits and labels must have the same shape ({list(logits.shape)} vs "
                         f"{list(labels.shape)}).")
    zeros = array_ops.zeros_like(logits)
    relu_logits = array_ops.where(logits >= zeros, logits, zeros)
    neg_abs_logits = array_ops.where(logits >= zeros, -logits, logits)
    return relu_logits - logits * labels + math_ops.log1p(math_ops.exp(neg_abs_logits))


def log_sigmoid(x, name=None):
    """log(sigmoid(x)) = -softplus(-x), as TF computes it (no overflow either way)."""
    x = as_tensor(x)
    floating_only("LogSigmoid", x)
    return -math_ops.softplus(-x)


def silu(features, beta=1.0, name=None):
    """x * sigmoid(beta * x) (``tf.nn.swish`` is the same function)."""
    features = as_tensor(features)
    floating_only("Silu", features)
    if beta == 1.0:
        return features * math_ops.sigmoid(features)
    return features * math_ops.sigmoid(features * beta)


swish = silu


def _l2_loss(x):
    return np.asarray(np.sum(np.square(x)) / 2, x.dtype)


def l2_loss(t, name=None):
    """sum(t ** 2) / 2, TF's ``L2Loss`` op."""
    t = as_tensor(t)
    floating_only("L2Loss", t)
    return execute("L2Loss", _l2_loss, (t,))

