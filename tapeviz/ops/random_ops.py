"""Random tensors from numpy Generators, reproducible after ``tapeviz.random.set_seed``.

As in TF, the global seed and an op's ``seed`` together fix a sequence: after ``set_seed(s)`` the
same calls give the same values; an op seed gives its own stream. The bits are numpy's, not TF's.
Public under ``tapeviz.random`` (TF's top level has no random functions).
"""
import numbers

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.tensor import Tensor

from .array_ops import _dims

__all__ = []

_DEFAULT_SEED = 87654321  # TF's DEFAULT_GRAPH_SEED: the global seed of ops given only an op seed
_state = {"seed": None, "generator": np.random.default_rng(), "op_generators": {}}


def set_seed(seed):
    """Reset the global seed: the random ops that follow repeat their values from the start."""
    _state["seed"] = None if seed is None else int(seed)
    _state["generator"] = np.random.default_rng(seed)
    _state["op_generators"] = {}


def get_seed():
    return _state["seed"]


def _generator(seed):
    if seed is None:
        return _state["generator"]
    generators = _state["op_generators"]
    if seed not in generators:
        global_seed = _DEFAULT_SEED if _state["seed"] is None else _state["seed"]
        generators[seed] = np.random.default_rng([global_seed, int(seed)])
    return generators[seed]


def _float_dtype(op, dtype):
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise TypeError(f"random.{op} makes floating tensors, got dtype {dtype.name}; draw floats and cast, or "
                        "use random.uniform with integer minval and maxval.")
    return dtype.name


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform in [minval, maxval): maxval defaults to 1 for floats; integers need both bounds."""
    return uniform_from(_generator(seed), shape, minval, maxval, dtype)


def uniform_from(rng, shape, minval=0, maxval=None, dtype=dtypes.float32):
    """``uniform``'s draw from the numpy Generator ``rng`` (random.Generator and the stateless ops use it)."""
    dtype, shape = dtypes.as_dtype(dtype), _dims(shape)
    if dtype.is_integer:
        if maxval is None:
            raise ValueError(f"Must specify maxval for integer dtype {dtype.name}.")
        return Tensor(rng.integers(int(minval), int(maxval), size=shape, dtype=dtype.name))
    name = _float_dtype("uniform", dtype)
    wide = np.float64 if name == "float64" else np.float32  # TF's arithmetic: u * (max - min) + min, in dtype
    maxval = 1.0 if maxval is None else maxval
    if _is_tensor(minval) or _is_tensor(maxval):
        return _scaled(Tensor(rng.random(shape, dtype=wide).astype(name)), maxval, minval, spread=True)
    low, high = wide(minval), wide(maxval)
    return Tensor((rng.random(shape, dtype=wide) * (high - low) + low).astype(name))


def _is_tensor(value):
    """True for a bound or moment that is not one number (a tensor, an array, a list): composed with ops."""
    return not isinstance(value, numbers.Real)


def _scaled(sample, scale, shift, spread=False):
    """``sample * scale + shift`` with ops, as TF composes its random ops: gradients reach tensor
    bounds or moments (the reparameterization trick); ``spread=True`` scales by ``scale - shift``."""
    from ._dispatch import binary_inputs
    sample, scale = binary_inputs("Mul", sample, scale)
    sample, shift = binary_inputs("AddV2", sample, shift)
    if spread:
        scale = scale - shift
    return sample * scale + shift


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    return normal_from(_generator(seed), shape, mean, stddev, dtype)


def normal_from(rng, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32):
    """``normal``'s draw from the numpy Generator ``rng``."""
    dtype = _float_dtype("normal", dtype)
    if _is_tensor(mean) or _is_tensor(stddev):
        return _scaled(Tensor(rng.standard_normal(_dims(shape)).astype(dtype)), stddev, mean)
    return Tensor((float(mean) + float(stddev) * rng.standard_normal(_dims(shape))).astype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples, redrawn until within two standard deviations of the mean (as TF's)."""
    return truncated_normal_from(_generator(seed), shape, mean, stddev, dtype)


def truncated_normal_from(rng, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32):
    """``truncated_normal``'s draw from the numpy Generator ``rng``."""
    dtype = _float_dtype("truncated_normal", dtype)
    values = truncated_standard_normal(rng, _dims(shape))
    if _is_tensor(mean) or _is_tensor(stddev):
        return _scaled(Tensor(values.astype(dtype)), stddev, mean)
    return Tensor((float(mean) + float(stddev) * values).astype(dtype))


def truncated_standard_normal(rng, shape):
    """Standard normal samples from numpy Generator ``rng``, redrawn until within two standard deviations."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return values


def shuffle(value, seed=None, name=None):
    """``value`` with its first dimension randomly permuted."""
    from ._dispatch import as_tensor
    from tapeviz.core.execute import execute
    rng = _generator(seed)

    def permute(values):
        return values[rng.permutation(len(values))] if values.ndim else values

    # An op (TF's RandomShuffle, which has no gradient): shuffled model outputs (negatives for a contrastive
    # loss) stay linked to the model, so the None they give is named rather than called an unused model.
    return execute("RandomShuffle", permute, (as_tensor(value),))

