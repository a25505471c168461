"""``Dense``: ``activation(inputs @ kernel + bias)``, built on first call, Keras's names and defaults."""
import itertools
from collections import defaultdict

from tapeviz.core import dtypes
from tapeviz.core.tensor import Variable

from . import activations, initializers

_name_counters = defaultdict(itertools.count)


def _unique_name(base):
    index = next(_name_counters[base])
    return base if index == 0 else f"{base}_{index}"


class Dense:
    """A densely connected layer; its variables are named ``<layer>/kernel:0`` and ``<layer>/bias:0``."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype="float32"):
        if int(units) <= 0:
            raise ValueError(f"Dense needs a positive number of units, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.name = name or _unique_name("dense")
        self.dtype = dtypes.as_dtype(dtype)
        self.kernel = None
        self.bias = None
        self.built = False

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Dense layer '{self.name}' needs the last dimension of its input to be known.")
        self.kernel = Variable(self.kernel_initializer((int(input_dim), self.units), self.dtype),
                               name=f"{self.name}/kernel")
        if self.use_bias:
            self.bias = Variable(self.bias_initializer((self.units,), self.dtype), name=f"{self.name}/bias")
        self.built = True

    def __call__(self, inputs):
        import tapeviz as tv
        inputs = tv.convert_to_tensor(inputs, dtype_hint=self.dtype)
        if inputs.dtype is not self.dtype:
            inputs = tv.cast(inputs, self.dtype)
        if not self.built:
            self.build(inputs.shape)
        elif inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: expected last "
                             f"dimension {self.kernel.shape[0]}, got shape {tuple(inputs.shape)}.")
        if inputs.ndim == 2:
            outputs = tv.matmul(inputs, self.kernel)
        else:
            flat = tv.reshape(inputs, (-1, inputs.shape[-1]))
            outputs = tv.reshape(tv.matmul(flat, self.kernel), tuple(inputs.shape[:-1]) + (self.units,))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    @property
    def trainable_variables(self):
        return [v for v in (self.kernel, self.bias) if v is not None]

    trainable_weights = trainable_variables
    weights = variables = trainable_variables

    def get_weights(self):
        return [v.numpy() for v in self.trainable_variables]

    def set_weights(self, values):
        for variable, value in zip(self.trainable_variables, values, strict=True):
            variable.assign(value)

    def __repr__(self):
        return f"<Dense name={self.name!r} units={self.units} built={self.built}>"


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.keras.layers', name)
