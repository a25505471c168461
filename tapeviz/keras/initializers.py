"""Weight initializers by name (Keras's defaults: glorot_uniform kernels, zero biases)."""
import numpy as np


def _glorot_uniform(shape, dtype):
    import tapeviz as tv
    fan_in, fan_out = (shape[0], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
    limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
    return tv.random.uniform(shape, minval=-limit, maxval=limit, dtype=dtype)


def _glorot_normal(shape, dtype):
    import tapeviz as tv
    fan_in, fan_out = (shape[0], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
    return tv.random.normal(shape, stddev=float(np.sqrt(2.0 / (fan_in + fan_out))), dtype=dtype)


def _zeros(shape, dtype):
    import tapeviz as tv
    return tv.zeros(shape, dtype=dtype)


def _ones(shape, dtype):
    import tapeviz as tv
    return tv.ones(shape, dtype=dtype)


_BY_NAME = {"glorot_uniform": _glorot_uniform, "glorot_normal": _glorot_normal, "zeros": _zeros, "ones": _ones}


def get(identifier):
    if callable(identifier):
        return identifier
    if identifier not in _BY_NAME:
        raise ValueError(f"Unknown initializer {identifier!r}; use one of {sorted(_BY_NAME)} or a callable "
                         "(shape, dtype) -> tensor.")
    return _BY_NAME[identifier]
