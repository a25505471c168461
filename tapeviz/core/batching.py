"""Vectorized backward passes: how many leading batch dimensions the gradients a rule receives carry.

``jacobian``, ``batch_jacobian`` and Hessians run one backward pass for many seeds at once: every
gradient then carries one leading batch dimension (one row per seed) in front of the shape of the
tensor it belongs to, as TF's ``pfor`` and JAX's ``vmap`` arrange it. A rule registered with
``batched=True`` promises to handle that: it reads ``batch_dims()`` (0 in an ordinary pass, 1 in a
vectorized one) wherever it uses an axis number or a shape of the gradient. Element-wise rules need
nothing: numpy broadcasting lines the op's values up with the gradient's trailing dimensions.

A rule that does not declare it is called once per row with an ordinary gradient, so rules written
before vectorization existed keep working, only slower. The state is per thread.

``batch_jacobian``'s gradients start out diagonal (``DiagonalGradient``): a rule registered with a
``diagonal`` rule as well takes them in that form, which saves whole matrix products; every other
rule gets them dense, so the structure is an optimization only, never needed.
"""
import threading

import numpy as np

from .execute import execute
from .tensor import Tensor


class _BatchState(threading.local):
    dims = 0


_state = _BatchState()


def batch_dims():
    """Leading batch dimensions of the gradients the running rule receives: 0, or 1 in a vectorized pass."""
    return _state.dims


class leading_batch_dims:
    """Context: rules called inside receive gradients with ``dims`` leading batch dimensions."""

    __slots__ = ("_dims", "_saved")

    def __init__(self, dims):
        self._dims = dims

    def __enter__(self):
        self._saved = _state.dims
        _state.dims = self._dims

    def __exit__(self, *exc_info):
        _state.dims = self._saved


class DiagonalGradient:
    """The gradients of a ``batch_jacobian`` pass while they are still diagonal: rows ``start`` to ``stop``.

    ``batch_jacobian`` seeds row r of its pass with ones at position r (of ``target.shape[1:]``,
    flattened) in every batch row. Through element-wise ops that shape survives: row r of the
    gradient of a tensor of shape (B, y...) is zero except at position r of each batch row, where
    it is ``values[b, r]``. So the whole (rows, B, y...) batch is the one tensor ``values`` of
    shape (B, y...), and a rule registered with a ``diagonal`` rule can use that: MatMul's gradient
    of a one-hot row is a column of the other operand, no product needed. ``dense()`` gives the
    ordinary batched gradient wherever a rule cannot use the structure. ``jacobian`` of a target with
    one row (shape (1, y...)) seeds the same way: a batch of one.
    """

    __slots__ = ("_values", "start", "stop", "shape", "dtype")

    def __init__(self, values, start, stop, shape=None, dtype=None):
        # values: a Tensor of the gradient's tensor's shape, or None for the seed (all ones, of shape and dtype)
        self._values, self.start, self.stop = values, start, stop
        self.shape, self.dtype = (shape, dtype) if values is None else (values._value.shape, values._value.dtype)

    @property
    def rows(self):
        return self.stop - self.start

    @property
    def values(self):
        """values[b, y...]: the non-zero entry of row (position y) in batch row b, as a Tensor."""
        return Tensor(np.ones(self.shape, self.dtype)) if self._values is None else self._values

    def with_values(self, values):
        return DiagonalGradient(values, self.start, self.stop)

    def one_hot(self):
        """(rows, 1, y...) numpy: row r is one at position ``start + r`` of ``shape[1:]``, zero elsewhere."""
        trailing = self.shape[1:]
        one_hot = np.zeros((self.rows, int(np.prod(trailing, dtype=np.int64))), self.dtype)
        one_hot[np.arange(self.rows), np.arange(self.start, self.stop)] = 1
        return one_hot.reshape((self.rows, 1) + trailing)

    def dense(self):
        """The ordinary (rows, B, y...) batched gradient (recorded by outer tapes, for higher orders)."""
        if self._values is None:  # a read-only broadcast: no memory to fill, as the plain pass seeds it
            return Tensor(np.broadcast_to(self.one_hot(), (self.rows,) + self.shape))
        return execute("Mul", np.multiply, (Tensor(self.one_hot()), self._values))

    def add(self, other):
        """The sum of two diagonal gradients of the same rows."""
        return self.with_values(execute("AddV2", np.add, (self.values, other.values)))


def elementwise(rule):
    """A ``diagonal`` rule for an element-wise op whose ordinary rule is ``rule``.

    An element-wise op's gradient at each position depends only on the upstream gradient at that
    position, so a diagonal gradient stays diagonal: the rule runs once, in an ordinary pass, on
    ``values``. An input that broadcasts (its shape is not the output's) breaks the structure: the
    rule then declines (NotImplemented) and the pass goes on with dense gradients.
    """
    def diagonal_rule(op, grad):
        inputs, reachable, shape = op.inputs, op._reachable, grad.shape
        needed = [reachable is None or tensor._id in reachable for tensor in inputs]
        if any(need and tensor._value.shape != shape for need, tensor in zip(needed, inputs)):
            return NotImplemented
        with leading_batch_dims(0):
            in_grads = rule(op, grad.values)
        if type(in_grads) is not tuple and type(in_grads) is not list:
            in_grads = (in_grads,)
        # a non-Tensor is passed on as it is, for the pass to reject with the rule's name
        return [(grad.with_values(g) if type(g) is Tensor else g) if need else None
                for need, g in zip(needed, in_grads)]

    return diagonal_rule
