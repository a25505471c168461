"""``keras.initializers``: the starting values of weights (``GlorotUniform`` kernels, ``Zeros`` biases).

As in Keras 3, a random initializer has one seed for its life: calling the same object twice gives
the same values. Without a ``seed`` it takes one from tapeviz's global random stream when created,
so ``tapeviz.random.set_seed`` makes new layers' weights reproducible. The bits are numpy's, not
TensorFlow's: for TensorFlow's exact starting weights, copy them in with ``layer.set_weights``.
"""
import math

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.tensor import Tensor
from tapeviz.ops.random_ops import truncated_standard_normal

__all__ = ["Initializer", "Constant", "Zeros", "Ones", "Identity", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform",
           "LecunNormal", "LecunUniform", "get"]


def _float_numpy_dtype(dtype, initializer):
    dtype = dtypes.as_dtype(dtype or "float32")
    if not dtype.is_floating:
        raise ValueError(f"{initializer} makes floating-point values; got dtype {dtype.name}. Use Zeros or "
                         "Constant for integer weights.")
    return np.dtype(dtype.name)


def compute_fans(shape):
    """(fan_in, fan_out) as Keras computes them; a convolution kernel's spatial size multiplies both."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """A callable ``(shape, dtype=None) -> Tensor``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(shape, dtype=None).")

    def get_config(self):
        return {}

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dtype = dtypes.as_dtype(dtype or "float32")
        return Tensor(np.full(tuple(shape), np.asarray(self.value), dtype=dtype.name))

    def get_config(self):
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self):
        super().__init__(0)

    def get_config(self):
        return {}


class Ones(Constant):
    def __init__(self):
        super().__init__(1)

    def get_config(self):
        return {}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {tuple(shape)}.")
        return Tensor((self.gain * np.eye(*shape)).astype(_float_numpy_dtype(dtype, "Identity")))

    def get_config(self):
        return {"gain": self.gain}


class _Seeded(Initializer):
    """Holds one seed for life: each call starts the same numpy stream again."""

    def __init__(self, seed=None):
        if seed is None:
            from tapeviz.ops.random_ops import _generator
            self._stream_seed = int(_generator(None).integers(2 ** 31))
        elif isinstance(seed, int):
            self._stream_seed = seed
        else:
            raise ValueError(f"An initializer's seed must be an int or None, got {seed!r}.")
        self.seed = seed

    def _rng(self):
        return np.random.default_rng(self._stream_seed)

    def get_config(self):
        return {"seed": self.seed}


class RandomNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        values = self._rng().standard_normal(tuple(shape))
        return Tensor((self.mean + self.stddev * values).astype(_float_numpy_dtype(dtype, "RandomNormal")))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class RandomUniform(_Seeded):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        values = self._rng().uniform(self.minval, self.maxval, tuple(shape))
        return Tensor(values.astype(_float_numpy_dtype(dtype, "RandomUniform")))

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


class TruncatedNormal(_Seeded):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        values = truncated_standard_normal(self._rng(), tuple(shape))
        return Tensor((self.mean + self.stddev * values).astype(_float_numpy_dtype(dtype, "TruncatedNormal")))

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class Orthogonal(_Seeded):
    """A random orthogonal matrix (rows or columns orthonormal), times ``gain``: recurrent kernels' default."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        numpy_dtype = _float_numpy_dtype(dtype, "Orthogonal")
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"The Orthogonal initializer needs a shape of rank 2 or more, got {shape}.")
        rows, columns = math.prod(shape[:-1]), shape[-1]
        values = self._rng().standard_normal((max(rows, columns), min(rows, columns)))
        q, r = np.linalg.qr(values)
        q *= np.sign(np.diag(r))
        if rows < columns:
            q = q.T
        return Tensor((self.gain * q).reshape(shape).astype(numpy_dtype))

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


# Keras's constant: the standard deviation of a unit normal truncated to [-2, 2].
_TRUNCATED_STDDEV = 0.87962566103423978


class VarianceScaling(_Seeded):
    """Samples with variance ``scale / n``, n the fan-in, fan-out or their mean (``mode``)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling needs a positive scale, got {scale}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid mode {mode!r}: use 'fan_in', 'fan_out' or 'fan_avg'.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid distribution {distribution!r}: use 'truncated_normal', "
                             "'untruncated_normal' or 'uniform'.")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        numpy_dtype = _float_numpy_dtype(dtype, type(self).__name__)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        rng, shape = self._rng(), tuple(shape)
        if self.distribution == "truncated_normal":
            values = math.sqrt(scale) / _TRUNCATED_STDDEV * truncated_standard_normal(rng, shape)
        elif self.distribution == "untruncated_normal":
            values = math.sqrt(scale) * rng.standard_normal(shape)
        else:
            limit = math.sqrt(3.0 * scale)
            values = rng.uniform(-limit, limit, shape)
        return Tensor(values.astype(numpy_dtype))

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution}


def _variance_scaling(class_name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(class_name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                                 "__doc__": f"VarianceScaling({scale}, {mode!r}, {distribution!r})."})


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")

# Keras's lower-case aliases for the classes.
constant, zeros, ones, identity = Constant, Zeros, Ones, Identity
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, glorot_uniform, glorot_normal = VarianceScaling, GlorotUniform, GlorotNormal
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
orthogonal = Orthogonal

_BY_NAME = {name: value for name, value in globals().items()
            if isinstance(value, type) and issubclass(value, Initializer) and name[0].islower()}


def get(identifier):
    """An initializer object for a name (``'he_normal'`` or ``'HeNormal'``), an object, or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer) or callable(identifier) and not isinstance(identifier, type):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or globals().get(identifier)
        if isinstance(cls, type) and issubclass(cls, Initializer):
            return cls()
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}. Use a name such as "
                     f"{', '.join(sorted(_BY_NAME))}, an Initializer, or a callable (shape, dtype) -> tensor.")


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.initializers", name)
