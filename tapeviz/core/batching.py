"""Vectorized backward passes: how many leading batch dimensions the gradients a rule receives carry.

``jacobian``, ``batch_jacobian`` and Hessians run one backward pass for many seeds at once: every
gradient then carries one leading batch dimension (one row per seed) in front of the shape of the
tensor it belongs to, as TF's ``pfor`` and JAX's ``vmap`` arrange it. A rule registered with
``batched=True`` promises to handle that: it reads ``batch_dims()`` (0 in an ordinary pass, 1 in a
vectorized one) wherever it uses an axis number or a shape of the gradient. Element-wise rules need
nothing: numpy broadcasting lines the op's values up with the gradient's trailing dimensions.

A rule that does not declare it is called once per row with an ordinary gradient, so rules written
before vectorization existed keep working, only slower. The state is per thread.
"""
import threading


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
