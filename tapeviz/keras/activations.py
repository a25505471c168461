"""``keras.activations``: activation functions, and ``get`` to resolve ``Dense(..., activation='relu')``.

Each is built from tapeviz ops, so tapes differentiate them at every order.
"""
from tapeviz.ops import math_ops, nn_ops, xent_ops

__all__ = ["relu", "relu6", "elu", "selu", "sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign",
           "gelu", "silu", "swish", "leaky_relu", "exponential", "hard_sigmoid", "hard_silu", "hard_swish",
           "mish", "linear", "get", "serialize"]


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)``; Keras's extra arguments give a leaky, capped or shifted relu."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return nn_ops.relu(x)
    output = nn_ops.relu(x - threshold) + threshold * math_ops.cast(x > threshold, x.dtype)
    if max_value is not None:
        output = math_ops.minimum(output, max_value)
    if negative_slope:
        output = output - negative_slope * nn_ops.relu(threshold - x)
    return output


def relu6(x):
    return nn_ops.relu6(x)


def elu(x, alpha=1.0):
    return nn_ops.elu(x) if alpha == 1.0 else math_ops.where(x > 0, x, alpha * nn_ops.elu(x))


def selu(x):
    return nn_ops.selu(x)


def sigmoid(x):
    return math_ops.sigmoid(x)


def tanh(x):
    return math_ops.tanh(x)


def softmax(x, axis=-1):
    return nn_ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return nn_ops.log_softmax(x, axis=axis)


def softplus(x):
    return math_ops.softplus(x)


def softsign(x):
    return x / (math_ops.abs(x) + 1)


def gelu(x, approximate=False):
    return nn_ops.gelu(x, approximate=approximate)


def silu(x):
    """``x * sigmoid(x)`` (also called swish)."""
    return xent_ops.silu(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    return nn_ops.leaky_relu(x, alpha=negative_slope)


def exponential(x):
    return math_ops.exp(x)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid."""
    return nn_ops.relu6(x + 3.0) / 6.0


def hard_silu(x):
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def mish(x):
    return x * math_ops.tanh(math_ops.softplus(x))


_BY_NAME = {function.__name__: function for function in (
    linear, relu, relu6, elu, selu, sigmoid, tanh, softmax, log_softmax, softplus, softsign, gelu, silu,
    leaky_relu, exponential, hard_sigmoid, hard_silu, mish)}
_BY_NAME.update(swish=silu, hard_swish=hard_silu)


def get(identifier):
    """The activation for a name (``'relu'``), a callable (returned as is), or None (``linear``)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}. Use one of "
                     f"{', '.join(sorted(_BY_NAME))}, or pass a callable such as tapeviz.nn.relu.")


def serialize(activation):
    """The name Keras saves for ``activation``."""
    return getattr(activation, "__name__", str(activation))


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.activations", name)
