"""``Normalization``: ``(x - mean) / sqrt(variance)`` per feature, the statistics given or learnt by ``adapt``.

``adapt(data)`` takes an array, a tensor, or an iterable of batches (a ``tf.data`` dataset), and
computes the mean and (biased) variance over every axis but ``axis``, merging batches as Keras does.
"""
import math

import numpy as np

from tapeviz.core.tensor import _TensorLike
from tapeviz.ops import array_ops, math_ops

from .base import Layer

__all__ = ["Normalization"]

_EPSILON = 1e-7  # keras.backend.epsilon(): the smallest standard deviation divided by


class Normalization(Layer):
    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError(f"When setting values directly, both `mean` and `variance` must be set. Received: "
                             f"mean={mean} and variance={variance}")
        self.input_mean, self.input_variance, self.invert = mean, variance, invert
        self.mean = self.variance = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                             f"ndim={ndim}, while axis={self.axis}")
        self._build_input_shape = tuple(input_shape)
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = [input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)]
        self._mean_and_var_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._mean_and_var_shape, initializer="zeros",
                                              trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._mean_and_var_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64", initializer="zeros",
                                         trainable=False)
            self.built = True
            self._finalize_state()
        else:
            mean = np.broadcast_to(np.asarray(self.input_mean, dtype=np.float64).reshape(
                self._given_shape(np.ndim(self.input_mean), ndim)), self._broadcast_shape)
            variance = np.broadcast_to(np.asarray(self.input_variance, dtype=np.float64).reshape(
                self._given_shape(np.ndim(self.input_variance), ndim)), self._broadcast_shape)
            self.mean = array_ops.constant(mean.astype(self.dtype.name))
            self.variance = array_ops.constant(variance.astype(self.dtype.name))
            self.built = True

    def _given_shape(self, given_ndim, ndim):
        shape = [1] * ndim
        for i in range(1, given_ndim + 1):
            axis = self._keep_axis[-i]
            shape[axis] = self._broadcast_shape[axis]
        return shape

    def _finalize_state(self):
        self.mean = array_ops.reshape(self.adapt_mean.value(), self._broadcast_shape)
        self.variance = array_ops.reshape(self.adapt_variance.value(), self._broadcast_shape)

    def adapt(self, data):
        """Learn the mean and variance of ``data`` (an array, a tensor, or an iterable of batches)."""
        if isinstance(data, (np.ndarray, _TensorLike, list)):
            batches = [np.asarray(data, dtype=np.float64)]
        elif hasattr(data, "__iter__"):
            batches = (np.asarray(b[0] if isinstance(b, tuple) else b, dtype=np.float64) for b in data)
        else:
            raise TypeError(f"Unsupported data type: {type(data)}. `adapt` supports numpy arrays, tensors, "
                            "tf.data.Dataset and iterables of batches.")
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            if not self.built:
                self.build(batch.shape)
            for d in self._keep_axis:
                if batch.shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() "
                                     f"is being called with data with an incompatible shape, data.shape="
                                     f"{batch.shape}")
            batch_mean, batch_var = batch.mean(axis=self._reduce_axis), batch.var(axis=self._reduce_axis)
            batch_count = math.prod(batch.shape[d] for d in self._reduce_axis)
            if total_mean is None:
                total_mean, total_var, total_count = batch_mean, batch_var, batch_count
                continue
            total_count += batch_count
            batch_weight = batch_count / total_count
            existing_weight = 1.0 - batch_weight
            new_mean = total_mean * existing_weight + batch_mean * batch_weight
            total_var = ((total_var + (total_mean - new_mean) ** 2) * existing_weight
                         + (batch_var + (batch_mean - new_mean) ** 2) * batch_weight)
            total_mean = new_mean
        if total_mean is None:
            raise ValueError("adapt() received an empty iterable (no batches). Pass at least one batch.")
        self.adapt_mean.assign(total_mean.astype(self.dtype.name))
        self.adapt_variance.assign(total_var.astype(self.dtype.name))
        self._finalize_state()

    def call(self, inputs):
        if self.mean is None:
            raise ValueError("You must call `.build(input_shape)` on the layer before using it.")
        scale = math_ops.maximum(math_ops.sqrt(self.variance), _EPSILON)
        if self.invert:
            return self.mean + inputs * scale
        return (inputs - self.mean) / scale
