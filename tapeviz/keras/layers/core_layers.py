"""Small layers from ``keras.layers`` core and preprocessing: ``Lambda``, ``Identity``, ``Rescaling``,
``GlobalAveragePooling2D``, ``GlobalMaxPooling2D``."""
from tapeviz.ops import reduction_ops

from .base import Layer
from .convolution import check_channels_last

__all__ = ["Lambda", "Identity", "Rescaling", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``Lambda(lambda x: x ** 2)``. It has no weights."""

    def __init__(self, function, output_shape=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a callable, got {function!r}.")
        self.function = function
        self.arguments = dict(arguments or {})

    def call(self, inputs):
        return self.function(inputs, **self.arguments)


class Identity(Layer):
    def call(self, inputs):
        return inputs


class Rescaling(Layer):
    """``inputs * scale + offset``: ``Rescaling(1. / 255)`` takes pixel values to [0, 1]."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs):
        return inputs * self.scale + self.offset


class _GlobalPooling2D(Layer):
    _reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.keepdims = keepdims

    def call(self, inputs):
        return type(self)._reduce(inputs, axis=[1, 2], keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling2D):
    _reduce = staticmethod(reduction_ops.reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    _reduce = staticmethod(reduction_ops.reduce_max)


GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D
