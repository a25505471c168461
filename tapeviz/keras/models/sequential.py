"""``keras.Sequential``: layers applied one after another.

Given an input shape (``keras.Input`` first, or ``input_shape=`` on the first layer) it builds at
once, so ``summary()`` shows output shapes and ``weights`` exist; otherwise it builds on its first
call, from the shape of that input.
"""
from ..layers.base import Layer
from ..layers.input_layer import InputLayer
from ..layers.symbolic import KerasTensor, call_symbolically
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        Model.__init__(self, trainable=trainable, name=name, **kwargs)
        self._sequential_layers = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_from_input_shape()

    def add(self, layer, rebuild=True):
        """Append ``layer`` (or a ``keras.Input`` tensor, which sets the model's input shape)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.history.layer, InputLayer):
            layer = layer.history.layer
        if isinstance(layer, InputLayer):
            if self._sequential_layers or self._input_layer is not None:
                raise ValueError("An Input (InputLayer) can only be the first layer of a Sequential model.")
            self._input_layer = layer
        elif isinstance(layer, Layer):
            if any(existing.name == layer.name for existing in self._sequential_layers):
                raise ValueError(f"All layers added to a Sequential model should have unique names. Name "
                                 f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                                 "argument to pass a unique name.")
            self._sequential_layers.append(layer)
        else:
            raise ValueError(f"Only instances of `keras.Layer` can be added to a Sequential model. Received: "
                             f"{layer!r} (of type {type(layer).__name__})")
        if rebuild:
            self._maybe_build_from_input_shape()

    def pop(self):
        if not self._sequential_layers:
            raise IndexError("There are no layers in the model.")
        layer = self._sequential_layers.pop()
        self.built = False
        self._maybe_build_from_input_shape()
        return layer

    @property
    def layers(self):
        return list(self._sequential_layers)

    @property
    def _layers(self):
        return list(self._sequential_layers)

    def _input_batch_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._sequential_layers:
            return self._sequential_layers[0]._input_shape_arg
        return None

    def _maybe_build_from_input_shape(self):
        shape = self._input_batch_shape()
        if shape is not None and self._sequential_layers:
            self._build_symbolically(shape)

    def _build_symbolically(self, batch_shape):
        dtype = self._input_layer.dtype if self._input_layer is not None else self.dtype
        x = KerasTensor(batch_shape, dtype)
        with self._name_scope():  # the layers' weights are "<model>/<layer>/kernel:0", as in Keras 3
            for layer in self._sequential_layers:
                x = call_symbolically(layer, (x,), {})
        self.built = True

    def build(self, input_shape=None):
        if input_shape is None:
            input_shape = self._input_batch_shape()
        if input_shape is None:
            raise ValueError("You must provide an `input_shape` argument to build a Sequential model, or call it "
                             "on data first.")
        self._build_symbolically((None,) + tuple(input_shape)[1:])

    def call(self, inputs, training=None, mask=None):
        outputs = inputs
        for layer in self._sequential_layers:
            outputs = layer(outputs)
        return outputs
