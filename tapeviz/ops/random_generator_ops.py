"""``random.Generator`` and the stateless random ops (``random.stateless_uniform``, ``stateless_normal``,
``stateless_truncated_normal``), with TF's API.

A Generator owns its stream (``from_seed`` repeats it, ``split`` makes independent ones); a
stateless op's values depend on its ``seed`` pair only, so the same pair gives the same values every
call. The draws are numpy's, not TF's bits (as for every random op in tapeviz).
"""
import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.tensor import Tensor

from .random_ops import normal_from, truncated_normal_from, uniform_from

__all__ = []


def _seed_pair(seed):
    values = np.asarray(seed._value if isinstance(seed, Tensor) else seed)
    if values.shape != (2,) or values.dtype.kind not in "iu":
        raise InvalidArgumentError(f"seed must have shape [2], not {list(values.shape)} (an integer pair such as "
                                   "[1, 2]).")
    return [int(v) for v in values]


def _stateless(seed):
    return np.random.default_rng([0x5EED] + [v & 0xFFFFFFFFFFFFFFFF for v in _seed_pair(seed)])


def stateless_uniform(shape, seed, minval=0, maxval=None, dtype=dtypes.float32, name=None, alg="auto_select"):
    """Uniform in [minval, maxval), the same values for the same ``seed`` pair."""
    return uniform_from(_stateless(seed), shape, minval, maxval, dtype)


def stateless_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None, alg="auto_select"):
    """Normal samples, the same values for the same ``seed`` pair."""
    return normal_from(_stateless(seed), shape, mean, stddev, dtype)


def stateless_truncated_normal(shape, seed, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None,
                               alg="auto_select"):
    """Normal samples within two standard deviations, the same values for the same ``seed`` pair."""
    return truncated_normal_from(_stateless(seed), shape, mean, stddev, dtype)


class Generator:
    """A random number generator with its own state, as ``tf.random.Generator``."""

    def __init__(self, copy_from=None, state=None, alg=None, _rng=None, _seed=None):
        if copy_from is not None:
            _rng, _seed = copy_from._rng, copy_from._seed
        self._seed = _seed
        self._rng = _rng if _rng is not None else np.random.default_rng()

    @classmethod
    def from_seed(cls, seed, alg=None):
        """A generator whose stream is fixed by ``seed``: the same seed repeats the same values."""
        seed = int(np.asarray(getattr(seed, "_value", seed)))
        return cls(_rng=np.random.default_rng([0x6E7, seed & 0xFFFFFFFFFFFFFFFF]), _seed=seed)

    @classmethod
    def from_non_deterministic_state(cls, alg=None):
        """A generator seeded from the operating system."""
        return cls()

    def reset_from_seed(self, seed):
        """Restart the stream ``from_seed(seed)`` would give."""
        self._rng, self._seed = Generator.from_seed(seed)._rng, int(seed)

    def uniform(self, shape, minval=0, maxval=None, dtype=dtypes.float32, name=None):
        return uniform_from(self._rng, shape, minval, maxval, dtype)

    def uniform_full_int(self, shape, dtype=dtypes.int64, name=None):
        info = np.iinfo(dtypes.as_dtype(dtype).name)
        return Tensor(self._rng.integers(info.min, info.max, size=tuple(int(n) for n in shape), endpoint=True,
                                         dtype=dtypes.as_dtype(dtype).name))

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        return normal_from(self._rng, shape, mean, stddev, dtype)

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, name=None):
        return truncated_normal_from(self._rng, shape, mean, stddev, dtype)

    def make_seeds(self, count=1):
        """A [2, count] int64 tensor of seed pairs for the stateless ops."""
        return Tensor(self._rng.integers(0, 2 ** 63 - 1, size=(2, int(count)), dtype=np.int64))

    def split(self, count=1):
        """``count`` new generators with independent streams (this one's stream moves on)."""
        return [Generator(_rng=np.random.default_rng(child)) for child in self._rng.bit_generator.seed_seq.spawn(
            int(count))] if hasattr(self._rng.bit_generator, "seed_seq") else [Generator() for _ in range(count)]


_global = {"generator": None}


def get_global_generator():
    """The process's generator (made on first use, seeded from the operating system)."""
    if _global["generator"] is None:
        _global["generator"] = Generator.from_non_deterministic_state()
    return _global["generator"]


def set_global_generator(generator):
    _global["generator"] = generator
