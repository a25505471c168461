"""tapeviz-softclip: an example tapeviz gradient plugin adding the op types SoftClip and LogCosh.

The op types are registered by ``tapeviz_softclip.plugin`` (entry point ``softclip`` in the group
``tapeviz``); these functions are the friendly way to call them.
"""
from importlib.metadata import PackageNotFoundError, version as _version

import tapeviz

try:
    __version__ = _version("tapeviz-softclip")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["softclip", "log_cosh"]


def softclip(x, low=-1.0, high=1.0):
    """Clip ``x`` to [low, high] smoothly: ``low + softplus(x - low) - softplus(x - high)``.

    About ``x`` in the middle of the range, ``low`` well below it and ``high`` well above it. The
    derivative ``sigmoid(x - low) - sigmoid(x - high)`` is positive everywhere (it vanishes only in
    floating point, far outside the range), so gradients keep flowing where
    ``tapeviz.clip_by_value`` would stop them. Op type ``SoftClip``.
    """
    low, high = float(low), float(high)
    if not low < high:
        raise ValueError(f"softclip needs low < high, got low={low}, high={high}.")
    return tapeviz.raw_ops.SoftClip(x, low=low, high=high)


def log_cosh(x):
    """``log(cosh(x))``, computed without overflow: about ``x**2 / 2`` near 0 and ``|x| - log 2`` far
    from it (a smooth absolute value, as in the log-cosh loss). Op type ``LogCosh``."""
    return tapeviz.raw_ops.LogCosh(x)
