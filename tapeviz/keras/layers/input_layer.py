"""``keras.Input`` and ``InputLayer``: where a functional or Sequential model's data comes in."""
from .base import Layer
from .symbolic import KerasTensor, Node

__all__ = ["Input", "InputLayer"]


class InputLayer(Layer):
    """Holds the symbolic input of a model: shape ``(batch_size,) + shape``."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None, **kwargs):
        shape = input_shape if shape is None else shape
        if shape is None:
            raise ValueError("You must pass a `shape` argument to Input or InputLayer, e.g. Input(shape=(784,)).")
        if isinstance(shape, int):
            shape = (shape,)
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape = (batch_size,) + tuple(shape)
        node = Node(self, (), {})
        self.output = node.outputs = KerasTensor(self.batch_shape, self.dtype, history=node)
        self._output_shapes = [self.batch_shape]
        self.built = True

    def call(self, inputs):
        return inputs


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):  # noqa: N802 - Keras's name
    """A symbolic tensor to start a functional model: ``inputs = keras.Input(shape=(3,))``."""
    if batch_shape is not None:
        shape, batch_size = tuple(batch_shape)[1:], tuple(batch_shape)[0]
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name).output
