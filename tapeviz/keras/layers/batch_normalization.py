"""``BatchNormalization``: normalize with the batch's statistics while training, the moving ones after.

In training (``training=True`` and the layer trainable) it uses the batch mean and (biased) variance
over every axis but ``axis``, and moves ``moving_mean`` / ``moving_variance`` toward them by
``1 - momentum``; in inference it uses the moving statistics. The arithmetic is TensorFlow's
``tf.nn.moments`` and ``tf.nn.batch_normalization``, so outputs agree to float32 rounding.
"""
from tapeviz.ops import array_ops, math_ops, reduction_ops

from .. import initializers
from .base import Layer

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        rank = len(input_shape)
        self.axis = self.axis % rank
        size = input_shape[self.axis]
        if size is None:
            raise ValueError(f"BatchNormalization layer '{self.name}' needs the size of axis {self.axis} to be "
                             f"known; got input shape {tuple(input_shape)}.")
        if self.scale:
            self.gamma = self.add_weight(shape=(size,), initializer=self.gamma_initializer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=(size,), initializer=self.beta_initializer, name="beta")
        self.moving_mean = self.add_weight(shape=(size,), initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=(size,), initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        self._reduction_axes = [i for i in range(rank) if i != self.axis]
        self.built = True

    def _broadcastable(self, vector, rank):
        if self.axis == rank - 1 or vector is None:
            return vector
        shape = [1] * rank
        shape[self.axis] = -1
        return array_ops.reshape(vector, shape)

    def _moments(self, inputs):
        """TensorFlow's tf.nn.moments: the variance is taken around the mean with its gradient stopped."""
        mean = reduction_ops.reduce_mean(inputs, self._reduction_axes, keepdims=True)
        variance = reduction_ops.reduce_mean(
            math_ops.squared_difference(inputs, array_ops.stop_gradient(mean)), self._reduction_axes, keepdims=True)
        return (array_ops.reshape(mean, (-1,)), array_ops.reshape(variance, (-1,)))

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable:
            mean, variance = self._moments(inputs)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        rank = inputs.ndim
        mean, variance = self._broadcastable(mean, rank), self._broadcastable(variance, rank)
        gamma, beta = self._broadcastable(self.gamma, rank), self._broadcastable(self.beta, rank)
        # tf.nn.batch_normalization's arithmetic: x * inv + (beta - mean * inv), inv = gamma / sqrt(var + eps).
        inv = math_ops.rsqrt(variance + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        shift = beta - mean * inv if beta is not None else -(mean * inv)
        return inputs * inv + shift

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
