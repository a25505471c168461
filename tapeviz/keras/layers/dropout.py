"""``Dropout``: while training, zero a fraction ``rate`` of the inputs and scale the rest by 1 / (1 - rate).

Outside training (``training`` False or not given) it passes inputs through. A ``seed`` fixes the
sequence of masks (two layers with the same seed drop the same units); the masks are numpy's
draws, not TensorFlow's.
"""
import numpy as np

from tapeviz.core.tensor import Tensor

from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        if seed is None:
            from tapeviz.ops.random_ops import _generator
            seed = int(_generator(None).integers(2 ** 31))
        self._rng = np.random.default_rng(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = tuple(inputs.shape) if self.noise_shape is None else tuple(
            size if size is not None else inputs.shape[i] for i, size in enumerate(self.noise_shape))
        keep = self._rng.random(shape) >= self.rate
        scale = np.asarray(0.0 if self.rate == 1 else 1.0 / (1.0 - self.rate), dtype=inputs.dtype.name)
        return inputs * Tensor((keep * scale).astype(inputs.dtype.name))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}
