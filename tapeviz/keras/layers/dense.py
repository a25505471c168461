"""``Dense``: ``activation(inputs @ kernel + bias)``, with Keras's names, defaults and checks."""
from tapeviz.ops import array_ops, linalg_ops

from .. import activations, initializers
from .base import InputSpec, Layer

__all__ = ["Dense"]


class Dense(Layer):
    """A densely connected layer; its variables are ``<layer>/kernel:0`` and ``<layer>/bias:0``."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for `units`, expected a positive integer. Received: "
                             f"units={units!r}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel = None
        self.bias = None
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer '{self.name}' needs the last dimension of its input to be known; got "
                             f"input shape {tuple(input_shape)}.")
        self.kernel = self.add_weight(shape=(input_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: int(input_dim)})
        self.built = True

    def call(self, inputs):
        if inputs.ndim == 2:
            outputs = linalg_ops.matmul(inputs, self.kernel)
        else:
            flat = array_ops.reshape(inputs, (-1, inputs.shape[-1]))
            outputs = array_ops.reshape(linalg_ops.matmul(flat, self.kernel),
                                        tuple(inputs.shape[:-1]) + (self.units,))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias}
