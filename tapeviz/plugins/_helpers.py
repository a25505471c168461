"""Helpers that gradient rules share; plugin authors may use them too."""
import numpy as np

from tapeviz.core.batching import batch_dims  # noqa: F401 - rules import it from here
from tapeviz.core.registry import CheckCase
from tapeviz.core.tensor import Tensor
from tapeviz.ops import array_ops


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape`` (a shape, or a tensor whose shape to take): the gradient of
    numpy broadcasting, the one place it is undone."""
    grad_shape = grad._value.shape
    shape = shape._value.shape if type(shape) is Tensor else tuple(shape)
    if grad_shape == shape:
        return grad
    lead = batch_dims()  # a vectorized pass's batch dimensions stay: (B,) + broadcast shape -> (B,) + shape
    extra = len(grad_shape) - lead - len(shape)
    axes = tuple(range(lead, lead + extra)) + tuple(i + lead + extra for i, n in enumerate(shape)
                                                     if n == 1 and grad_shape[i + lead + extra] != 1)
    if axes:
        grad = array_ops.reduce_sum(grad, axis=axes)
    shape = grad_shape[:lead] + tuple(shape)
    return array_ops.reshape(grad, shape) if grad._value.shape != shape else grad


class DeclaringReads:
    """``register`` with each rule's ``needs_inputs``/``needs_outputs`` taken from a table.

    ``reads`` maps op type -> the keywords for that rule; ``default`` applies to the others. The
    tape keeps only the values a rule reads, so a table that says less than a rule reads gives
    wrong gradients: ``tapeviz check`` replaces every value said unread with zeros, and fails.
    """

    def __init__(self, register, reads, default=None):
        self._register, self._reads, self._default = register, reads, default or {}

    def __call__(self, op_type, rule, **keywords):
        self._register(op_type, rule, **{**self._default, **self._reads.get(op_type, {}), **keywords})

    def __getattr__(self, name):
        return getattr(self._register, name)


def rows_last(grad):
    """(B, ...) -> (..., B): the rows of a vectorized pass out of the way of leading indices."""
    rank = grad._value.ndim
    return array_ops.transpose(grad, list(range(1, rank)) + [0])


def rows_first(x):
    """The inverse of ``rows_last``."""
    rank = x._value.ndim
    return array_ops.transpose(x, [rank - 1] + list(range(rank - 1)))


def skips(op, index):
    """True when nobody needs the gradient of input ``index`` (TF's ``skip_input_indices``)."""
    reachable = op._reachable  # the cheap form of ``index in op.skip_input_indices``
    return reachable is not None and op._entry[1][index] not in reachable


def randn(*shape, seed=0, low=None, high=None):
    """Float64 check inputs: reproducible normal samples, or uniform in [low, high)."""
    rng = np.random.default_rng(seed + 7919 * len(shape) + sum(shape))
    if low is not None:
        return rng.uniform(low, high, size=shape)
    return rng.standard_normal(shape)


# Shapes every element-wise binary rule is checked at: equal shapes, scalar, and both broadcast directions.
BINARY_SHAPES = [((3,), (3,)), ((2, 3), ()), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (4,))]
UNARY_SHAPES = [(), (4,), (2, 3)]


def binary_cases(fn, low=None, high=None):
    return [CheckCase(fn, (randn(*a, seed=1, low=low, high=high), randn(*b, seed=2, low=low, high=high)),
                      name=f"{a} with {b}") for a, b in BINARY_SHAPES]


def unary_cases(fn, low=None, high=None):
    return [CheckCase(fn, (randn(*shape, seed=3, low=low, high=high),), name=str(shape)) for shape in UNARY_SHAPES]


def zeros_for(grad, x):
    """Zeros as the gradient of input ``x`` (TF's ``zeros_like(x)`` in a rule), keeping the leading batch
    dimensions that ``grad`` carries in a vectorized pass."""
    shape = grad._value.shape[:batch_dims()] + x._value.shape
    return Tensor(np.zeros(shape, dtype=x._value.dtype))
