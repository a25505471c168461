"""Large kernel outputs made in arrays that earlier outputs have finished with.

A training step makes the same few activation-sized arrays every step and frees them all at its
end. glibc's malloc gives such a stretch of freed memory back to the system once it passes its trim
threshold, and the next step faults it in again a page at a time: on the conv net of
benchmarks/bench_training.py, a thousand and more page faults and several milliseconds a step.

Kernels that make activation-sized outputs (convolution, pooling, ReLU and their gradients) take
them from ``empty`` instead. It keeps each array it hands out and hands it out again once nothing
else refers to it: every view of a numpy array holds a reference to the array that owns the
memory, so when the owner's reference count is down to this module's own, no tensor, tape, view
or user variable can read it any more. Each output is a new view object, so nothing that keys on
object identity sees an old array come back. At most ``KEEP_BYTES`` are kept; past that, the
arrays unused for longest are let go. ``release()`` lets go of every array nothing uses.
"""
import math
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20      # smaller arrays come and go through malloc's free lists without faulting
KEEP_BYTES = 256 << 20   # the most kept at once, in use or free

_lock = threading.Lock()
_kept = {}          # (element count, dtype) -> list of [owner array, last use]
_kept_bytes = 0
_clock = 0
# Free-threaded Python counts references per thread: a count read here may be stale. Recycle only
# where the interpreter lock makes the count exact.
_ENABLED = getattr(sys, "_is_gil_enabled", lambda: True)()


def _references(entry):
    return sys.getrefcount(entry[0])


# The count an entry's array has when only its entry refers to it, as _references sees it
# (interpreters differ in how many references a call adds).
_UNUSED = _references([np.empty(1), 0])


def empty(shape, dtype):
    """An uninitialized array of ``shape`` and ``dtype`` that the caller may return as an op's output."""
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    if not _ENABLED or size * dtype.itemsize < MIN_BYTES:
        return np.empty(shape, dtype)
    global _clock
    key = (size, dtype)
    with _lock:
        _clock += 1
        entries = _kept.get(key)
        if entries:
            for entry in entries:
                if _references(entry) == _UNUSED:
                    entry[1] = _clock
                    return entry[0].reshape(shape)
        owner = np.empty(size, dtype)
        if _make_room(owner.nbytes):
            _keep(key, [owner, _clock])
        return owner.reshape(shape)


def _keep(key, entry):
    global _kept_bytes
    _kept.setdefault(key, []).append(entry)
    _kept_bytes += entry[0].nbytes


def _make_room(nbytes):
    """Let go of unused arrays, longest unused first, until ``nbytes`` more fit; False (letting go of
    nothing) if they cannot."""
    if _kept_bytes + nbytes <= KEEP_BYTES:
        return True
    unused = sorted(((entry[1], key, entry) for key, entries in _kept.items() for entry in entries
                     if _references(entry) == _UNUSED), key=lambda item: item[0])
    if _kept_bytes - sum(entry[0].nbytes for _, _, entry in unused) + nbytes > KEEP_BYTES:
        return False
    for _, key, entry in unused:
        _drop(key, entry)
        if _kept_bytes + nbytes <= KEEP_BYTES:
            return True
    return True


def _drop(key, entry):
    global _kept_bytes
    entries = _kept[key]
    entries[:] = [kept for kept in entries if kept is not entry]  # by identity: == compares the arrays
    if not entries:
        del _kept[key]
    _kept_bytes -= entry[0].nbytes


def release():
    """Let go of every kept array that nothing uses (they return to malloc); returns the bytes let go."""
    with _lock:
        before = _kept_bytes
        for key, entries in list(_kept.items()):
            for entry in [e for e in entries if _references(e) == _UNUSED]:
                _drop(key, entry)
        return before - _kept_bytes


def kept_bytes():
    """How many bytes of arrays are kept, in use or free."""
    return _kept_bytes
