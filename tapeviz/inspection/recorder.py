"""The recorder: an observer of the core that builds the inspection model while a script runs.

``with tapeviz.record("run.tapeviz"):`` (or ``TAPEVIZ_RECORD=run.tapeviz``) installs one. Plain
library use never pays for it: the core tests one empty list per op when no recorder is installed.

What keeps recording linear in a training loop: each op costs a bounded amount (its user line is
found through a per-code-object cache, its outputs are summarized, not kept); a gradient call only
notes which results need an explanation (None, zeros under ``UnconnectedGradients.ZERO``, NaN/Inf
or exact zeros) and they are explained when someone asks (``snapshot``, ``tape.explain``), each
from the ops near that call, never from a pass over the whole run. The recorder keeps no array of
the run alive beyond a fixed budget of small values (``VALUE_BUDGET_BYTES``).
"""
import copy
import itertools
from dataclasses import replace
import linecache
import os
import sys
import threading
import weakref

import numpy as np

from tapeviz.core import backward as _backward_module
from tapeviz.core import context, registry
from tapeviz.core.context import state
from tapeviz.core.tensor import Variable

from .explain import explain as explain_pair
from .diagnose import diagnose
from .names import names_at
from .model import (VALUE_CAP, Event, GradientCall, GradientResult, Location, OpInfo, Run, TapeInfo,
                    TensorInfo, dtype_name, summarize)

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_SKIP = (_PACKAGE_DIR + os.sep, _NUMPY_DIR + os.sep)
_USER_CODE = os.path.join(_PACKAGE_DIR, "examples") + os.sep  # bundled examples are user code
_MAX_SOURCE_BYTES = 1_000_000
_BACKWARD_CODE = _backward_module.backward.__code__
# Values are kept (beside their summary) for gradient calls' targets, sources and results and for
# small intermediates, until this many bytes are kept; past it, summaries only. A tutorial keeps
# everything; a long training loop keeps its first steps' values and stays flat after.
VALUE_BUDGET_BYTES = 16 * 1024 ** 2
SMALL_VALUE = 64  # elements: an intermediate this small costs about what its summary costs

_library_code = {}   # code object -> is it tapeviz's or numpy's (frames skipped to find the user's line)
_locations = {}      # (file, line, function) -> one shared Location


def _library_frame(filename):
    return filename.startswith(_SKIP) and not filename.startswith(_USER_CODE) or filename.startswith("<frozen")


def _location(code, line):
    key = (code, line)
    found = _locations.get(key)
    if found is None:
        found = _locations[key] = Location(code.co_filename, line, code.co_name)
    return found


def user_location(depth=2):
    """The first frame outside tapeviz and numpy: the user's line that caused the event."""
    return _walk(sys._getframe(depth))[0]


def _walk(frame):
    """(the user's Location, the tape entry whose gradient rule is running or None)."""
    entry = None
    while frame is not None:
        code = frame.f_code
        library = _library_code.get(code)
        if library is None:
            library = _library_code[code] = _library_frame(code.co_filename)
        if not library:
            return _location(code, frame.f_lineno), entry
        if code is _BACKWARD_CODE and entry is None:
            entry = frame.f_locals.get("entry")  # the op whose rule runs now (see core/backward.py)
        frame = frame.f_back
    return None, entry


class Recorder:
    """Observes tapes, ops and gradient calls and keeps them as a ``Run``."""

    def __init__(self, meta=None):
        self.run = Run(meta=dict(meta or {}))
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._tape_ids = {}    # id(tape) -> tape id, while the tape lives (a weak reference drops it)
        self._tape_refs = {}
        self._paused = set()
        self._variables = {}   # variable id -> Variable's name/trainable at creation
        self._values = {}      # tensor id or ("call", id, source) -> a small value kept within the budget
        self._value_bytes = 0
        self._pending = []     # (call, result, target id, source id): explanations not yet made
        self._interned = {}    # tuples of tape ids, shared between ops

    # Installation ---------------------------------------------------------------------------------
    def start(self):
        registry.ensure_loaded()
        context.observers.append(self)
        return self

    def stop(self):
        if self in context.observers:
            context.observers.remove(self)

    # Helpers --------------------------------------------------------------------------------------
    def _tape_id(self, tape):
        key = id(tape)
        tape_id = self._tape_ids.get(key)
        if tape_id is None:
            tape_id = len(self.run.tapes) + 1
            self._tape_ids[key] = tape_id
            self._tape_refs[key] = weakref.ref(tape, lambda _, key=key: self._forget_tape(key))
            self.run.tapes[tape_id] = TapeInfo(tape_id, tape._persistent, tape._watch_accessed_variables)
        return tape_id

    def _forget_tape(self, key):
        self._tape_ids.pop(key, None)
        self._tape_refs.pop(key, None)

    def tape_id(self, tape):
        return self._tape_ids.get(id(tape))

    def _keep(self, key, value, always=False):
        """Keep a copy of a small value while the budget lasts (``always``: any size up to VALUE_CAP)."""
        size = value.size
        if size > (VALUE_CAP if always else SMALL_VALUE) or self._value_bytes + value.nbytes > VALUE_BUDGET_BYTES:
            return
        if key not in self._values:
            self._values[key] = value
            self._value_bytes += value.nbytes

    def _tensor(self, tensor, location=None):
        """The TensorInfo for a tensor or variable, made on first sight."""
        tensor_id = tensor._id
        info = self.run.tensors.get(tensor_id)
        if info is None:
            value = tensor._value_for_read()
            value = value if isinstance(value, np.ndarray) else np.asarray(value)
            kind = "variable" if tensor_id in self._variables else "constant"
            info = TensorInfo(tensor_id, kind, value.shape, dtype_name(value.dtype), first_seen=location,
                              summary=summarize(value))
            if kind == "variable":
                info.name, info.trainable = self._variables[tensor_id]
            self.run.tensors[tensor_id] = info
            self._keep(tensor_id, value)
        return info

    def _tapes_tuple(self, ids):
        """One shared list per distinct set of tape ids: a training loop's ops repeat a handful of them."""
        key = tuple(ids)
        found = self._interned.get(key)
        if found is None:
            found = self._interned[key] = list(key)
        return found

    def _event(self, kind, tape=None, tensor=None, detail="", location=None):
        self.run.events.append(Event(next(self._seq), kind, tape, tensor, location or user_location(3), detail))

    # Observer methods (called by the core) ----------------------------------------------------------
    def tape_created(self, tape):
        with self._lock:
            tape_id = self._tape_id(tape)
            self.run.tapes[tape_id].location = user_location(3)

    def tape_entered(self, tape):
        with self._lock:
            info = self.run.tapes[self._tape_id(tape)]
            if info.parent is None and not info.spans:
                outer = [t for t in state.tapes if t is not tape]
                info.parent = self._tape_id(outer[-1]) if outer else None
            info.spans.append([next(self._seq), None])

    def tape_exited(self, tape):
        with self._lock:
            info = self.run.tapes[self._tape_id(tape)]
            if info.spans and info.spans[-1][1] is None:
                info.spans[-1][1] = next(self._seq)

    def tape_reset(self, tape):
        with self._lock:
            tape_id = self._tape_id(tape)
            seq = next(self._seq)
            self.run.tapes[tape_id].resets.append(seq)
            self.run.events.append(Event(seq, "reset", tape_id, location=user_location(3)))

    def recording_paused(self, tape):
        with self._lock:
            tape_id = self._tape_id(tape)
            self._paused.add(tape_id)
            self._event("stop_recording", tape_id)

    def recording_resumed(self, tape):
        with self._lock:
            tape_id = self._tape_id(tape)
            self._paused.discard(tape_id)
            self._event("resume_recording", tape_id)

    def watched(self, tape, item, how):
        with self._lock:
            location = user_location(3)
            self._tensor(item, location)
            self._event(how, self._tape_id(tape), item._id, location=location)

    def variable_created(self, variable):
        with self._lock:
            self._variables[variable._id] = (variable.name, variable.trainable)

    def variable_read(self, variable, tensor):
        """A read of ``variable`` made the new tensor ``tensor`` (for cores where reads are new tensors)."""
        with self._lock:
            self._tensor(variable)
            info = self._tensor(tensor, user_location(3))
            if info.id != variable._id:
                info.read_of = variable._id

    def variable_assigned(self, variable, value, method):
        with self._lock:
            self._tensor(variable)
            source = value._id if hasattr(value, "_id") else None
            if source is not None:
                self._tensor(value)
            self._event(method, None, variable._id, detail=str(source) if source is not None else "")

    def tensor_converted(self, tensor, how):
        if not state.tapes:  # conversions matter only while a tape records
            return
        with self._lock:
            self._tensor(tensor)
            self._event(how, self._tape_id(state.tapes[-1]), tensor._id)

    def op_executed(self, op_type, inputs, outputs, attrs, grad_fn, recorded_on):
        location, entry = _walk(sys._getframe(2))
        with self._lock:
            tapes = [self._tape_id(t) for t in recorded_on] if recorded_on else ()
            recording = [self._tape_id(t) for t in state.tapes] if state.tapes else ()
            backward_of = None
            if entry is not None:
                producer = self.run.tensors.get(entry[3][0]) if entry[3] else None
                backward_of = producer.producer if producer is not None else None
            self._add_op(op_type, inputs, outputs, attrs, grad_fn, tapes, recording,
                         sorted(self._paused) if self._paused else (), location, backward_of)

    def _add_op(self, op_type, inputs, outputs, attrs, grad_fn, tapes, recording, paused, location,
                backward_of=None):
        run = self.run
        op_id = len(run.ops) + 1
        tensors = run.tensors
        input_ids = []
        for t in inputs:
            tensor_id = t._id
            if tensor_id not in tensors:
                self._tensor(t, location)
            input_ids.append(tensor_id)
        output_ids = []
        for t in outputs:
            value = t._value
            if type(value) is not np.ndarray:
                value = np.asarray(value)
            tensors[t._id] = TensorInfo(t._id, "intermediate", value.shape, dtype_name(value.dtype), producer=op_id,
                                        first_seen=location, summary=summarize(value))
            if value.size <= SMALL_VALUE:
                self._keep(t._id, value)
            output_ids.append(t._id)
        rule, source = _rule_of(op_type, grad_fn)
        run.ops[op_id] = OpInfo(op_id, next(self._seq), op_type, input_ids, output_ids,
                                _plain_attrs(attrs) if attrs else {}, rule, source, self._tapes_tuple(tapes),
                                self._tapes_tuple(recording), self._tapes_tuple(paused), location, backward_of)
        for tape_id in tapes:
            run.tapes[tape_id].ops.append(op_id)

    def gradient_computed(self, tape, kind, targets, sources, options, results):
        with self._lock:
            tape_id = self._tape_id(tape)
            location = user_location(3)
            for t in list(targets) + list(sources):
                self._tensor(t, location)
                self._keep(t._id, np.asarray(t._value_for_read()), always=True)
            seq = next(self._seq)
            call = GradientCall(len(self.run.calls) + 1, seq, tape_id, kind, [t._id for t in targets],
                                [s._id for s in sources], dict(options), [], location)
            self.run.names.update(names_at(location, kind, call.targets, call.sources))
            zeros_wanted = options.get("unconnected_gradients") == "ZERO"
            for source, grad in zip(sources, results):
                result = GradientResult(source._id, grad is None)
                needs_reason = grad is None
                if grad is not None:
                    value = grad._value if isinstance(grad._value, np.ndarray) else np.asarray(grad._value)
                    self._keep(("call", call.id, source._id), value, always=True)
                    result.summary = summary = summarize(value)
                    # Only an all-zero result can be unconnected, and only a non-finite or all-zero one
                    # needs a diagnosis: one look at the summary, no analysis for the usual result.
                    all_zero = summary.get("min") == 0 and summary.get("max") == 0
                    needs_reason = zeros_wanted and all_zero
                    if summary.get("nonfinite") or all_zero:
                        self._pending.append((call, result, None, source._id))
                if needs_reason:
                    for target in call.targets:
                        self._pending.append((call, result, target, source._id))
                call.results.append(result)
            self.run.calls.append(call)

    def explain_pending(self):
        """Make the explanations gradient calls asked for (each from the ops near its call)."""
        with self._lock:
            pending, self._pending = self._pending, []
            for call, result, target, source in pending:
                if target is not None:
                    explanation = explain_pair(self.run, call.tape, target, source, call.seq, call.options)
                    if explanation is not None:
                        result.explanations[target] = explanation
            for call, result, target, source in pending:  # a gradient that is None or unconnected needs no more
                if target is None and not result.explanations:
                    result.diagnosis = diagnose(self.run, call, result)

    # Output ---------------------------------------------------------------------------------------
    def snapshot(self):
        """A plain-data copy of the run so far: values copied (or summarized above the cap), sources read."""
        with self._lock:
            self.explain_pending()
            # Ops, events and explanations never change once made, so they are shared; what grows or
            # gets values filled in is copied (a deepcopy took 30x the recording time itself).
            live = self.run
            tapes = {i: replace(t, ops=list(t.ops), spans=[list(s) for s in t.spans], resets=list(t.resets))
                     for i, t in live.tapes.items()}
            tensors = {}
            values = self._values
            for tensor_id, info in live.tensors.items():
                tensors[tensor_id] = copied = _shallow_copy(info)
                value = values.get(tensor_id)
                if value is not None:
                    copied.value = np.array(value)
            calls = []
            for call in live.calls:
                results = [replace(r, explanations=dict(r.explanations)) for r in call.results]
                for result in results:
                    if not result.is_none:
                        value = values.get(("call", call.id, result.source))
                        if value is not None:
                            result.value = np.array(value)
                calls.append(replace(call, results=results))
            run = Run(tapes=tapes, ops=dict(live.ops), tensors=tensors, events=list(live.events), calls=calls,
                      meta=copy.deepcopy(live.meta), names=dict(live.names))
            run.sources = _read_sources(run)
            return run


def _shallow_copy(info):
    """``dataclasses.replace(info)`` at a tenth of its cost: one per tensor of a run, so it adds up."""
    copied = object.__new__(type(info))
    copied.__dict__.update(info.__dict__)
    return copied


def _keep_value(holder, value):
    if value is None:
        return
    array = np.asarray(value)
    holder.summary = summarize(array)
    holder.value = array.copy() if array.size <= VALUE_CAP else None


def _rule_of(op_type, grad_fn):
    if grad_fn is not None:
        return "custom", "custom_gradient"
    registration = registry.registrations.get(op_type)
    if registration is not None:
        return "plugin", registration.plugin
    if op_type in registry.not_differentiable:
        return "not differentiable", registry.not_differentiable[op_type].plugin
    return "missing", ""


def _plain_attrs(attrs):
    plain = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, int, float, str)) or value is None:
            plain[key] = value
        elif isinstance(value, (tuple, list)) and all(isinstance(v, (bool, int, float, str)) or v is None for v in value):
            plain[key] = list(value)
        else:
            plain[key] = repr(value)
    return plain


def _read_sources(run):
    files = set()
    for item in list(run.ops.values()) + list(run.events) + list(run.calls) + list(run.tapes.values()):
        if item.location is not None:
            files.add(item.location.file)
    sources = {}
    for name in sorted(files):
        lines = linecache.getlines(name)
        text = "".join(lines)
        if text and len(text) <= _MAX_SOURCE_BYTES:
            sources[name] = text
    return sources


_active = []


def active_recorder():
    return _active[-1] if _active else None


class record:
    """``with tapeviz.record(path=None) as recorder:`` records every tape created inside the block.

    With a path, the run is saved there as a tape file when the block ends (even if it raised).
    ``recorder.snapshot()`` gives the inspection model at any time.
    """

    def __init__(self, path=None, meta=None):
        self.path = path
        self.recorder = Recorder(meta)

    def __enter__(self):
        _active.append(self.recorder.start())
        return self.recorder

    def __exit__(self, exc_type, exc, tb):
        self.recorder.stop()
        _active.remove(self.recorder)
        if exc is not None:
            self.recorder.run.meta.setdefault("error", f"{exc_type.__name__}: {exc}")
        if self.path is not None:
            from .tapefile import save
            save(self.recorder.snapshot(), self.path)
        return False


def record_from_environment(variable="TAPEVIZ_RECORD"):
    """Record the whole process to the file named by ``$TAPEVIZ_RECORD``, saved at exit."""
    import atexit

    path = os.environ.get(variable)
    if not path or active_recorder() is not None:
        return None
    block = record(path, meta={"script": sys.argv[0] if sys.argv else "", "argv": list(sys.argv)})
    block.__enter__()
    atexit.register(block.__exit__, None, None, None)
    return block.recorder


def explain_tape(tape, target, source):
    """``tape.explain``: from the active recording if it saw this tape, else from the tape alone.

    Returns why the gradient is None; for a gradient that exists, why it is NaN/Inf or exactly zero
    (if it is); else None.
    """
    from tapeviz.core.tensor import Tensor

    for item, role in ((target, "target"), (source, "source")):
        if not isinstance(item, (Tensor, Variable)):
            raise TypeError(f"explain needs a Tensor or Variable as {role}, got {type(item).__name__}.")
    recorder = active_recorder()
    if recorder is not None and recorder.tape_id(tape) is not None:
        with recorder._lock:
            recorder.explain_pending()
            recorder._tensor(target)
            recorder._tensor(source)
            tape_id = recorder.tape_id(tape)
            explanation = explain_pair(recorder.run, tape_id, target._id, source._id)
            if explanation is not None:
                return explanation
            for call in reversed(recorder.run.calls):
                if call.tape == tape_id and target._id in call.targets and source._id in call.sources:
                    result = call.results[call.sources.index(source._id)]
                    return result.diagnosis
        if not tape._ops:
            return None
    recorder = Recorder()
    run = recorder.run
    tape_id = recorder._tape_id(tape)
    for variable in tape.watched_variables():
        recorder._variables[variable._id] = (variable.name, variable.trainable)
    for item in (target, source):
        if isinstance(item, Variable):
            recorder._variables[item._id] = (item.name, item.trainable)
    produced = set()
    for op in tape._operations():
        recorder._add_op(op.type, op.inputs, op.outputs, op.attrs, op.grad_fn, [tape_id], [tape_id], [], None)
        produced.update(t._id for t in op.outputs)
    for watched_id in sorted(tape._ids - produced):
        run.events.append(Event(0, "watch", tape_id, watched_id))
    recorder._tensor(target)
    recorder._tensor(source)
    explanation = explain_pair(run, tape_id, target._id, source._id)
    if explanation is not None:
        explanation.fix += (" (This tape was not recorded: run the code inside `with tapeviz.record():` or with "
                            "`tapeviz run script.py` for an explanation that sees the whole run.)")
        return explanation
    return _diagnose_from_tape(recorder, tape, tape_id, target, source)


def _diagnose_from_tape(recorder, tape, tape_id, target, source):
    """Run the tape's backward pass once more, observed, and diagnose the gradient it gives."""
    from tapeviz.core.backward import backward
    from tapeviz.core.tensor import Tensor

    if not isinstance(target, Tensor) or not tape._ops:
        return None
    seed = Tensor(np.ones_like(target._value))
    context.observers.append(recorder)
    try:
        grads = backward(tape._ops, [target], [seed], {source._id})
    finally:
        context.observers.remove(recorder)
    grad = grads.get(source._id)
    if grad is None:
        return None
    recorder.gradient_computed(tape, "gradient", [target], [source], {"unconnected_gradients": "NONE"}, [grad])
    recorder.explain_pending()
    return recorder.run.calls[-1].results[0].diagnosis
