"""``Flatten`` and ``Reshape``: change the shape of each example, keeping the batch dimension."""
import math

from tapeviz.ops import array_ops

from .base import Layer

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs):
        if inputs.ndim == 1:
            return array_ops.expand_dims(inputs, 1)
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = array_ops.transpose(inputs, [0] + list(range(2, inputs.ndim)) + [1])
        return array_ops.reshape(inputs, (inputs.shape[0], -1))

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """Each example to ``target_shape`` (one entry may be -1), the batch dimension kept."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if sum(1 for d in target_shape if d == -1) > 1:
            raise ValueError(f"There must be at most one unknown dimension (-1) in target_shape; received "
                             f"target_shape={target_shape}.")
        self.target_shape = target_shape

    def call(self, inputs):
        example_size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 not in self.target_shape and known != example_size) or (known and example_size % known):
            raise ValueError(f"total size of new array must be unchanged: layer '{self.name}' cannot reshape "
                             f"input of shape {tuple(inputs.shape)} to (batch,) + {self.target_shape}.")
        return array_ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
