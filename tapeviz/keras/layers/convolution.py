"""``Conv2D``: 2-D convolution over NHWC images, ``activation(conv2d(x, kernel) + bias)``; and
``Conv2DTranspose``, its transpose (the upsampling of a DCGAN's generator).

Conv2D's kernel has shape ``(kernel_height, kernel_width, in_channels, filters)``, as in Keras; the
convolution is ``tapeviz.nn.conv2d`` (TF's ``Conv2D`` op and its gradient ops). Conv2DTranspose's kernel is
``(kernel_height, kernel_width, filters, in_channels)`` and it runs ``tapeviz.nn.conv2d_transpose`` (TF's
``Conv2DBackpropInput``).
"""
from tapeviz.ops import conv_composite_ops, conv_ops

from .. import activations, initializers
from .base import InputSpec, Layer

__all__ = ["Conv2D", "Conv2DTranspose", "normalize_pair", "normalize_padding"]


def normalize_pair(value, what):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"The `{what}` argument must be a tuple of 2 positive integers or one positive integer. "
                         f"Received: {what}={value!r}")
    return pair


def normalize_padding(padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: padding={padding!r}")
    return padding.lower()


def check_channels_last(data_format, layer):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer} in tapeviz supports data_format='channels_last' (NHWC) only, as TensorFlow "
                         f"on CPU; got {data_format!r}. Transpose your images to (batch, height, width, channels).")


class Conv2D(Layer):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Invalid value for argument `filters`. Expected a strictly positive value. Received "
                             f"filters={filters!r}.")
        check_channels_last(data_format, "Conv2D")
        if groups != 1:
            raise ValueError("Conv2D in tapeviz supports groups=1 only.")
        self.filters = filters
        self.kernel_size = normalize_pair(kernel_size, "kernel_size")
        self.strides = normalize_pair(strides, "strides")
        self.dilation_rate = normalize_pair(dilation_rate, "dilation_rate")
        self.padding = normalize_padding(padding)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel = self.bias = None
        self.input_spec = InputSpec(ndim=4)

    def _kernel_shape(self, channels):
        return self.kernel_size + (channels, self.filters)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs the channel dimension (the last) of "
                             f"its input to be known; got input shape {tuple(input_shape)}.")
        self.kernel = self.add_weight(shape=self._kernel_shape(channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = InputSpec(ndim=4, axes={-1: int(channels)})
        self.built = True

    def call(self, inputs):
        outputs = conv_ops.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding.upper(),
                                  dilations=self.dilation_rate)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding}


def transposed_length(length, kernel, stride, padding, dilation):
    """The output length of a transposed convolution, as Keras computes it (no output_padding)."""
    kernel = kernel + (kernel - 1) * (dilation - 1)
    if padding == "valid":
        return length * stride + max(kernel - stride, 0)
    return length * stride


class Conv2DTranspose(Conv2D):
    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        if output_padding is not None:
            raise ValueError("Conv2DTranspose in tapeviz supports output_padding=None only (Keras's default): the "
                             "output is `input * strides` with padding='same'.")
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer, **kwargs)
        check_channels_last(data_format, "Conv2DTranspose")

    def _kernel_shape(self, channels):
        return self.kernel_size + (self.filters, channels)   # (height, width, filters, input channels), as Keras

    def call(self, inputs):
        batch, height, width = (int(n) for n in inputs.shape[:3])
        output_shape = (batch,
                        transposed_length(height, self.kernel_size[0], self.strides[0], self.padding,
                                          self.dilation_rate[0]),
                        transposed_length(width, self.kernel_size[1], self.strides[1], self.padding,
                                          self.dilation_rate[1]),
                        self.filters)
        outputs = conv_composite_ops.conv2d_transpose(inputs, self.kernel, output_shape, strides=self.strides,
                                                      padding=self.padding.upper(), dilations=self.dilation_rate)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)
