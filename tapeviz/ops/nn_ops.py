"""Activation functions and softmax, under TensorFlow's op-type names (Relu, Elu, Gelu, Softmax, ...).

Forward computations only; rules live in ``tapeviz.plugins.nn_grad``. TF exports none of these at top
level: they are reached as ``tapeviz.nn.*`` (and softmax as ``tapeviz.math.softmax`` too).
"""
import numpy as np

from tapeviz.core.execute import execute

from . import _recycling
from ._dispatch import as_tensor, floating_only, unary
from .math_ops import _erf, floating_unary

__all__ = []

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946



def _relu(x):
    if x.dtype.kind == "f" and x.nbytes >= _recycling.MIN_BYTES:  # an activation: into a recycled array
        return np.maximum(x, 0, out=_recycling.empty(x.shape, x.dtype))
    return np.maximum(x, 0)


relu = unary("Relu", _relu)


# Above this many elements (1.5 MiB of float32: past what a core's L2 cache holds along with the
# gradients) ReluGrad works in blocks that stay in cache, so the mask never goes through memory:
# 0.78x the time at 1.4M elements, while at 256K elements the whole-array passes are faster.
RELU_GRAD_BLOCKED_MIN = 3 << 17
RELU_GRAD_BLOCK = 32768


def _relu_grad(gradients, features):
    # A multiply by the mask, which is made in the gradients' dtype and multiplied in place: np.where
    # branches per element (15x slower on random signs) and a bool operand is cast in the inner loop
    # (two passes, compare then multiply by the bool mask, measured 1.25x the time of these three).
    if features.shape != gradients.shape:  # raw ReluGrad with broadcasting operands
        return (features > 0).astype(gradients.dtype) * gradients
    if gradients.size >= RELU_GRAD_BLOCKED_MIN:
        return _relu_grad_blocked(gradients, features)
    mask = (features > 0).astype(gradients.dtype)
    mask *= gradients
    return mask


def _relu_grad_blocked(gradients, features):
    """The same mask-times-gradients products, block by block (bit for bit the whole-array result)."""
    output = _recycling.empty(gradients.shape, gradients.dtype)
    flat_output, flat_gradients, flat_features = output.reshape(-1), gradients.reshape(-1), features.reshape(-1)
    mask = np.empty(RELU_GRAD_BLOCK, bool)
    for start in range(0, flat_output.size, RELU_GRAD_BLOCK):
        stop = min(start + RELU_GRAD_BLOCK, flat_output.size)
        block = flat_output[start:stop]
        np.copyto(block, np.greater(flat_features[start:stop], 0, out=mask[:stop - start]))  # 0 or 1
        block *= flat_gradients[start:stop]
    return output


def relu_grad(gradients, features):
    """TF's ReluGrad: ``gradients`` where ``features > 0``, else 0, in one op (the Relu rule's step)."""
    return execute("ReluGrad", _relu_grad, (as_tensor(gradients), as_tensor(features)))


relu6 = unary("Relu6", lambda x: np.minimum(np.maximum(x, 0), 6))


def _relu6_grad(gradients, features):
    return gradients * ((features > 0) & (features < 6)).astype(gradients.dtype)


def relu6_grad(gradients, features):
    """TF's Relu6Grad: ``gradients`` where ``0 < features < 6``, else 0 (the Relu6 rule's step)."""
    return execute("Relu6Grad", _relu6_grad, (as_tensor(gradients), as_tensor(features)))


def _leaky_relu_grad(gradients, features, alpha):
    return np.where(features > 0, gradients, gradients * gradients.dtype.type(alpha))


def leaky_relu_grad(gradients, features, alpha):
    """TF's LeakyReluGrad: ``gradients`` where ``features > 0``, else ``alpha * gradients``."""
    return execute("LeakyReluGrad", _leaky_relu_grad, (as_tensor(gradients), as_tensor(features)),
                   {"alpha": float(alpha)})
# exp(x) - 1 rather than expm1: TF's kernels compute it so, and printed values should agree.
elu = floating_unary("Elu", lambda x: np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1))
selu = floating_unary("Selu", lambda x: np.where(x > 0, SELU_SCALE * x,
                                                 SELU_SCALE * SELU_ALPHA * (np.exp(np.minimum(x, 0)) - 1)))


def _floating(op_type, x):
    x = as_tensor(x)
    if x._value.dtype.kind != "f":
        floating_only(op_type, x)
    return x


def _leaky_relu(x, alpha):
    return np.where(x > 0, x, x * alpha)


def leaky_relu(features, alpha=0.2, name=None):
    """x where x > 0, else alpha * x (TF's default alpha is 0.2)."""
    return execute("LeakyRelu", _leaky_relu, (_floating("LeakyRelu", features),), {"alpha": float(alpha)})


def _gelu(x, approximate):
    if approximate:
        return 0.5 * x * (1 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / 1.4142135623730951))


def gelu(features, approximate=False, name=None):
    """x * Phi(x) with the normal CDF Phi; ``approximate=True`` uses TF's tanh form."""
    return execute("Gelu", _gelu, (_floating("Gelu", features),), {"approximate": bool(approximate)})


def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))  # shifted by the max: exp never overflows
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(logits, axis=None, name=None):
    """exp(x) / sum(exp(x)) along ``axis`` (default the last)."""
    return execute("Softmax", _softmax, (_floating("Softmax", logits),), {"axis": -1 if axis is None else int(axis)})


def log_softmax(logits, axis=None, name=None):
    """x - log(sum(exp(x))) along ``axis`` (default the last), computed without overflow."""
    return execute("LogSoftmax", _log_softmax, (_floating("LogSoftmax", logits),),
                   {"axis": -1 if axis is None else int(axis)})
