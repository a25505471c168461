"""GradientTape: records ops on watched tensors and runs the backward pass, as tf.GradientTape does."""
import enum
import operator
import warnings

import numpy as np

from . import nest, registry, shape_ops
from .backward import backward, backward_batched
from .batching import DiagonalGradient
from .execute import Operation
from .context import notify, observers, state
from .dtypes import FLOATING_NUMPY
from .tensor import Tensor, Variable, convert_to_tensor


class _Services:
    """What layers above the core provide to it, registered when they are imported (imports point one way)."""

    explain_tape = None  # tapeviz.inspection.recorder.explain_tape, registered by tapeviz/__init__


_services = _Services()


def register_explainer(explain_tape):
    """Install the function behind ``GradientTape.explain`` (``explain_tape(tape, target, source)``)."""
    _services.explain_tape = explain_tape


class UnconnectedGradients(enum.Enum):
    """What ``gradient`` returns for a source no path reaches: None (the default) or zeros."""

    NONE = "none"
    ZERO = "zero"


_NON_PERSISTENT_USED = ("A non-persistent GradientTape can only be used to compute one set of gradients "
                        "(or jacobians)")


class GradientTape:
    """Records operations for automatic differentiation (``with GradientTape() as tape: ...``)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = persistent
        self._watch_accessed_variables = watch_accessed_variables
        self._recording = False
        self._warned_inefficient = False
        self._new_tape()
        if observers:
            notify("tape_created", self)

    def _new_tape(self):
        self._ids = set()          # ids of watched tensors and of outputs of recorded ops
        self._ops = []             # recorded entries (see execute.record), in execution order
        self._watched_variables = {}
        self._used = False

    # Context management -------------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter an "
                             "already-active tape.")
        self._push()
        return self

    def __exit__(self, *exc_info):
        if self._recording:
            self._pop()

    def _push(self):
        registry.ensure_loaded()  # once per process: recording consults what each rule reads
        state.tapes.append(self)
        self._recording = True
        if observers:
            notify("tape_entered", self)

    def _pop(self):
        state.tapes.remove(self)
        self._recording = False
        if observers:
            notify("tape_exited", self)

    def stop_recording(self):
        """A context in which ops are not recorded on this tape."""
        return _StopRecording(self)

    def reset(self):
        """Forget everything recorded so far, as if the context were exited and entered anew."""
        if not self._recording:  # as TF: outside the context (or under stop_recording) there is nothing to reset
            raise ValueError("Tape is not recording. Call reset() inside the tape's `with` block, where it is "
                             "recording; outside it, make a new GradientTape.")
        self._pop()
        self._new_tape()
        if observers:
            notify("tape_reset", self)
        self._push()

    # Watching -----------------------------------------------------------------------------------
    def watch(self, tensor):
        """Record ops on ``tensor`` (a Tensor, a Variable, or a nested structure of them)."""
        for item in nest.flatten(tensor):
            if isinstance(item, Variable):
                self._watch_variable(item)
                dtype = item.dtype
            elif isinstance(item, Tensor):
                self._ids.add(item._id)
                dtype = item.dtype
            else:
                raise ValueError(f"Passed in object {item!r} of type {type(item).__name__!r}, not tapeviz.Tensor "
                                 "or tapeviz.Variable; convert it first with tapeviz.constant(...).")
            if observers:
                notify("watched", self, item, "watch")
            if not dtype.is_floating:
                warnings.warn(f"The dtype of the watched tensor must be floating (e.g. tapeviz.float32), got "
                              f"{dtype!r}", stacklevel=2)

    def _watch_variable(self, variable):
        if variable._id not in self._watched_variables:
            self._watched_variables[variable._id] = variable
            self._ids.add(variable._id)

    def _operations(self):
        """The recorded ops as gradient rules see them (for inspection and tests)."""
        return [Operation(entry) for entry in self._ops]

    def watched_variables(self):
        """The variables this tape watches, in order of their creation."""
        return tuple(self._watched_variables[key] for key in sorted(self._watched_variables))

    # Differentiation ----------------------------------------------------------------------------
    def _start_gradient(self):
        if self._used:
            raise RuntimeError(_NON_PERSISTENT_USED)
        if self._recording:
            if not self._persistent:
                self._pop()
            elif not self._warned_inefficient:
                self._warned_inefficient = True
                warnings.warn("Calling GradientTape.gradient on a persistent tape inside its context is "
                              "significantly less efficient than calling it outside the context (it causes "
                              "the gradient ops to be recorded on the tape, leading to increased CPU and "
                              "memory usage). Only call GradientTape.gradient inside the context if you "
                              "actually want to trace the gradient in order to compute higher order "
                              "derivatives.", stacklevel=3)
        registry.ensure_loaded()

    def _finish(self):
        if not self._persistent:
            self._used = True
            self._ops = []  # a non-persistent tape frees what it holds after its one use

    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """The gradient of (the sum of) ``target`` with respect to each of ``sources``, in their structure."""
        self._start_gradient()
        if target is None:
            raise TypeError("Argument `target` should be a list or nested structure of Tensors, Variables or "
                            "CompositeTensors to be differentiated, but received None.")
        unconnected = _unconnected_option(unconnected_gradients)
        targets = [_as_target(t) for t in nest.flatten(target)]
        flat_sources = [_as_source(s) for s in nest.flatten(sources)]
        if output_gradients is None:
            seeds = [Tensor(np.ones_like(t._value)) for t in targets]
        else:
            flat_output_gradients = nest.flatten(output_gradients)
            # As TF: a None output gradient seeds nothing (that target's own gradient is None), and is an
            # error for a target an op on this tape made.
            seeds = [None if g is None else convert_to_tensor(g, dtype=t.dtype)
                     for t, g in zip(targets, flat_output_gradients)]
            made_here = {i for entry in self._ops for i in entry[3]} if None in seeds else ()
            if any(seed is None and t._id in made_here for t, seed in zip(targets, seeds)):
                raise ValueError("Attempt to convert a value (None) with an unsupported type (<class 'NoneType'>) "
                                 "to a Tensor: output_gradients holds None for a recorded target; give a tensor "
                                 "(tapeviz.ones_like(target) for the plain gradient) for every target.")
        # The pass's ops are not shown to observers (see state.rerun_backward), unless a tape records them
        # (higher orders): then observers see every op of the pass.
        hide_pass = observers and not state.tapes
        if hide_pass:
            previous = state.rerun_backward
            state.rerun_backward = lambda: self._gradients(targets, seeds, flat_sources, unconnected)
        try:
            results = self._gradients(targets, seeds, flat_sources, unconnected)
            if observers:
                notify("gradient_computed", self, "gradient", targets, flat_sources,
                       {"unconnected_gradients": unconnected.name, "output_gradients": output_gradients is not None},
                       results)
        finally:
            if hide_pass:
                state.rerun_backward = previous
        self._finish()
        return nest.pack_sequence_as(sources, results)

    def _gradients(self, targets, seeds, sources, unconnected):
        # A source that is itself a target gets its seed even if never watched (TF: d v / d v = ones).
        target_ids = {t._id for t in targets}
        source_ids = {s._id for s in sources if (s._id in self._ids or s._id in target_ids) and _is_floating(s)}
        targets_seeds = [(t, s) for t, s in zip(targets, seeds) if s is not None and t._value.dtype in FLOATING_NUMPY]
        grads = backward(self._ops, [t for t, _ in targets_seeds], [s for _, s in targets_seeds], source_ids)
        results = []
        for source in sources:
            grad = grads.get(source._id) if source._id in source_ids else None
            if grad is None and unconnected is UnconnectedGradients.ZERO:
                grad = Tensor(np.zeros_like(_value(source)))
            results.append(grad)
        return results

    def explain(self, target, source):
        """Why ``gradient(target, source)`` is None on this tape, or, if it is not, why it is NaN/Inf or
        exactly zero: an Explanation, or None if the gradient is connected and unremarkable.

        Sees the whole run when recording (``tapeviz.record()``, ``tapeviz run``), else the tape alone.
        """
        if _services.explain_tape is None:
            raise RuntimeError("No explainer is registered: import tapeviz (which registers "
                               "tapeviz.inspection's) before calling tape.explain.")
        return _services.explain_tape(self, target, source)

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """d target[i...] / d source[j...] for each source, shaped ``target.shape + source.shape``.

        One vectorized backward pass seeds every element of ``target`` at once (at most
        ``parallel_iterations`` per pass); ``experimental_use_pfor=False`` calls every rule once per
        element instead. An unconnected source gives None, or zeros under ``UnconnectedGradients.ZERO``.
        A target of one row (shape (1, ...)) is seeded as ``batch_jacobian`` seeds a batch of one.
        """
        self._start_gradient()
        unconnected = _unconnected_option(unconnected_gradients)
        target = _as_target(target)
        flat_sources = [_as_source(s) for s in nest.flatten(sources)]
        t_shape = target._value.shape
        if t_shape[:1] == (1,):  # a batch of one row: its one-hot seeds are batch_jacobian's, diagonal
            seeds = DiagonalGradient(None, 0, target._value.size, t_shape, target._value.dtype)
        else:
            seeds = _one_hot_seeds(target._value)
        grads = self._batched_gradients(target, seeds, flat_sources, parallel_iterations, experimental_use_pfor)
        results = []
        for source, grad in zip(flat_sources, grads):
            shape = t_shape + _value(source).shape
            if grad is None:
                if unconnected is UnconnectedGradients.ZERO or (target._value.size == 0 and _is_floating(source)):
                    grad = Tensor(np.zeros(shape, dtype=_value(source).dtype))
            elif grad._value.shape != shape:
                grad = shape_ops.reshape(grad, shape)
            results.append(grad)
        if observers:
            notify("gradient_computed", self, "jacobian", [target], flat_sources,
                   {"unconnected_gradients": unconnected.name}, results)
        self._finish()
        return nest.pack_sequence_as(sources, results)

    def _batched_gradients(self, target, seeds, sources, parallel_iterations, vectorize):
        """For each source, the (rows, ...) gradients of ``target`` seeded by each row of ``seeds``, or None.

        ``seeds``: a numpy array, or a DiagonalGradient of all its rows (cut into passes here).

        Runs the rows in passes of at most ``parallel_iterations`` (None: all in one pass).
        """
        rows = seeds.shape[0] if isinstance(seeds, np.ndarray) else seeds.stop
        step = rows if parallel_iterations is None else _positive_int(parallel_iterations)
        source_ids = {s._id for s in sources if (s._id in self._ids or s._id == target._id) and _is_floating(s)}
        if not _is_floating(target) or rows == 0 or not source_ids:
            return [None] * len(sources)
        parts = []
        for start in range(0, rows, max(step, 1)):
            if isinstance(seeds, np.ndarray):
                chunk = Tensor(seeds[start:start + step])
            else:
                chunk = DiagonalGradient(None, start, min(start + step, rows), seeds.shape, seeds.dtype)
            parts.append(backward_batched(self._ops, [target], [chunk], source_ids, vectorize))
        results = []
        for source in sources:
            pieces = [part.get(source._id) for part in parts] if source._id in source_ids else [None]
            if all(p is None for p in pieces):
                results.append(None)
                continue
            if len(pieces) > 1:  # a chunk that reached no source still covers its rows, with zeros
                value = _value(source)
                pieces = [Tensor(np.zeros((min(step, rows - i * step),) + value.shape, value.dtype)) if p is None
                          else p for i, p in enumerate(pieces)]
            results.append(pieces[0] if len(pieces) == 1 else shape_ops.concat(pieces, 0))
        return results

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
        """Per-example jacobians: result[b, y..., x...] = d target[b, y...] / d source[b, x...].

        Rows of the batch are independent, so one backward pass per position of ``target.shape[1:]``
        seeds that position in every row at once; the positions themselves run vectorized (one
        pass) unless ``experimental_use_pfor=False``. As in TF, a source the target does not depend
        on gives zeros, whatever ``unconnected_gradients`` says.
        """
        self._start_gradient()
        unconnected = _unconnected_option(unconnected_gradients)
        target, source_t = _as_target(target), _as_source(source)
        t_shape, s_shape = target._value.shape, _value(source_t).shape
        if len(t_shape) < 1 or len(s_shape) < 1 or t_shape[0] != s_shape[0]:
            raise ValueError(f"Need first dimension of target shape ({list(t_shape)}) and source shape "
                             f"({list(s_shape)}) to match.")
        if len(t_shape) < 2 or len(s_shape) < 2:
            raise ValueError(f"batch_jacobian needs target and source of rank 2 or more; got target shape "
                             f"{list(t_shape)} and source shape {list(s_shape)}.")
        positions = int(np.prod(t_shape[1:], dtype=np.int64))
        # Seed p: ones at position p of every row; its gradient's row b is d target[b, p] / d source[b]. Kept
        # diagonal while the rules can use that (tapeviz.core.batching), else a read-only broadcast of the identity.
        seeds = DiagonalGradient(None, 0, positions, t_shape, target._value.dtype)
        grad, = self._batched_gradients(target, seeds, [source_t], parallel_iterations, experimental_use_pfor)
        shape = t_shape + s_shape[1:]
        if grad is None:
            result = Tensor(np.zeros(shape, dtype=_value(source_t).dtype))
        else:
            # (positions, batch, x...) -> (y..., batch, x...) -> (batch, y..., x...): a view, no copy
            y_rank = len(t_shape) - 1
            unfolded = shape_ops.reshape(grad, t_shape[1:] + t_shape[:1] + s_shape[1:])
            result = shape_ops.transpose(unfolded, (y_rank,) + tuple(range(y_rank)) +
                                         tuple(range(y_rank + 1, len(shape))))
        if observers:
            notify("gradient_computed", self, "batch_jacobian", [target], [source_t],
                   {"unconnected_gradients": unconnected.name}, [result])
        self._finish()
        return result


class _StopRecording:
    def __init__(self, tape):
        self._tape = tape

    def __enter__(self):
        if not self._tape._recording:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        self._index = state.tapes.index(self._tape)
        state.tapes.remove(self._tape)
        self._tape._recording = False
        if observers:
            notify("recording_paused", self._tape)

    def __exit__(self, *exc_info):
        state.tapes.insert(self._index, self._tape)
        self._tape._recording = True
        if observers:
            notify("recording_resumed", self._tape)


def _positive_int(parallel_iterations):
    try:
        count = operator.index(parallel_iterations)
    except TypeError:
        count = 0
    if count < 1:
        raise ValueError(f"parallel_iterations must be a positive int or None, got {parallel_iterations!r}.")
    return count


def _one_hot_seeds(value):
    """One seed per element of ``value``: (size,) + shape, the identity matrix reshaped."""
    size = value.size
    return np.eye(size, dtype=value.dtype).reshape((size,) + value.shape)


def _unconnected_option(value):
    if type(value) is UnconnectedGradients:
        return value
    try:
        return UnconnectedGradients(value.value if isinstance(value, UnconnectedGradients) else value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}") from None


def _value(item):
    return item._value if isinstance(item, Tensor) else item._snapshot._value


def _is_floating(item):
    return _value(item).dtype in FLOATING_NUMPY


def _as_target(item):
    if isinstance(item, Variable):
        return item._snapshot
    if isinstance(item, Tensor):
        return item
    hint = ""
    if isinstance(item, (float, int, np.generic, np.ndarray)) and not isinstance(item, bool):
        # The usual cause: `loss = float(loss)` (or loss.numpy()) for logging, before the gradient call.
        hint = (" A Python or numpy number keeps no link to the ops that made it: pass the tensor itself (the loss "
                "as computed inside the tape) and convert a copy for logging, e.g. `history.append(float(loss))`.")
    raise TypeError(f"Argument `target` should hold Tensors or Variables, got {type(item).__name__}: {item!r}.{hint}")


def _as_source(item):
    if isinstance(item, (Tensor, Variable)):
        return item
    raise TypeError(f"Gradient sources must be Tensors or Variables, got {type(item).__name__}: {item!r}. "
                    "Create the value with tapeviz.constant or tapeviz.Variable and watch it.")
