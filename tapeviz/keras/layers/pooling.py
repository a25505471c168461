"""``MaxPooling2D`` and ``AveragePooling2D`` over NHWC images (``pool_size`` windows, ``strides`` = pool size)."""
from tapeviz.ops import conv_ops

from .base import InputSpec, Layer
from .convolution import check_channels_last, normalize_pair, normalize_padding

__all__ = ["MaxPooling2D", "AveragePooling2D"]


class _Pooling2D(Layer):
    _pool = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        check_channels_last(data_format, type(self).__name__)
        self.pool_size = normalize_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_pair(strides, "strides")
        self.padding = normalize_padding(padding)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        return type(self)._pool(inputs, ksize=self.pool_size, strides=self.strides, padding=self.padding.upper())

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    _pool = staticmethod(conv_ops.max_pool2d)


class AveragePooling2D(_Pooling2D):
    _pool = staticmethod(conv_ops.avg_pool2d)


MaxPool2D, AvgPool2D = MaxPooling2D, AveragePooling2D
