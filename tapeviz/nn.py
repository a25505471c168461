"""``tapeviz.nn``, as ``tf.nn``: activation functions and softmax."""
from tapeviz.ops.math_ops import sigmoid, softplus, tanh
from tapeviz.ops.nn_ops import elu, gelu, leaky_relu, log_softmax, relu, relu6, selu, softmax

__all__ = ["relu", "relu6", "elu", "selu", "leaky_relu", "gelu", "softmax", "log_softmax", "sigmoid", "tanh",
           "softplus"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.nn', name)
