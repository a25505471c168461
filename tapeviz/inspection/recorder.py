"""The recorder: an observer of the core that builds the inspection model while a script runs.

``with tapeviz.record("run.tapeviz"):`` (or ``TAPEVIZ_RECORD=run.tapeviz``) installs one. Plain
library use never pays for it: the core tests one empty list per op when no recorder is installed.
"""
import copy
import itertools
from dataclasses import replace
import linecache
import os
import sys
import threading

import numpy as np

from tapeviz.core import context, registry
from tapeviz.core.context import state
from tapeviz.core.tensor import Variable

from .explain import explain as explain_pair
from .names import names_at
from .model import (VALUE_CAP, Event, GradientCall, GradientResult, Location, OpInfo, Run, TapeInfo,
                    TensorInfo, dtype_name, summarize)

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_SKIP = (_PACKAGE_DIR + os.sep, _NUMPY_DIR + os.sep)
_USER_CODE = os.path.join(_PACKAGE_DIR, "examples") + os.sep  # bundled examples are user code
_MAX_SOURCE_BYTES = 1_000_000


def _library_frame(filename):
    return filename.startswith(_SKIP) and not filename.startswith(_USER_CODE) or filename.startswith("<frozen")


def user_location(depth=2):
    """The first frame outside tapeviz and numpy: the user's line that caused the event."""
    frame = sys._getframe(depth)
    while frame is not None and _library_frame(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None
    return Location(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


class Recorder:
    """Observes tapes, ops and gradient calls and keeps them as a ``Run``."""

    def __init__(self, meta=None):
        self.run = Run(meta=dict(meta or {}))
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._tape_ids = {}    # id(tape) -> tape id; tapes are kept alive in _tapes so ids stay unique
        self._tapes = []
        self._paused = set()
        self._variables = {}   # variable id -> Variable's name/trainable at creation
        self._values = {}      # tensor id -> live numpy value (copied into the snapshot)

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
        if key not in self._tape_ids:
            tape_id = len(self._tapes) + 1
            self._tape_ids[key] = tape_id
            self._tapes.append(tape)
            self.run.tapes[tape_id] = TapeInfo(tape_id, tape._persistent, tape._watch_accessed_variables)
        return self._tape_ids[key]

    def tape_id(self, tape):
        return self._tape_ids.get(id(tape))

    def _tensor(self, tensor, location=None):
        """The TensorInfo for a tensor or variable, made on first sight."""
        tensor_id = tensor._id
        info = self.run.tensors.get(tensor_id)
        if info is None:
            value = tensor._value_for_read()
            kind = "variable" if tensor_id in self._variables else "constant"
            info = TensorInfo(tensor_id, kind, tuple(np.shape(value)), dtype_name(value.dtype), first_seen=location)
            if kind == "variable":
                info.name, info.trainable = self._variables[tensor_id]
            self.run.tensors[tensor_id] = info
            self._values[tensor_id] = value
        return info

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
        with self._lock:
            tapes = [self._tape_id(t) for t in (recorded_on or ())]
            self._add_op(op_type, inputs, outputs, attrs, grad_fn, tapes, [self._tape_id(t) for t in state.tapes],
                         sorted(self._paused), user_location(4))

    def _add_op(self, op_type, inputs, outputs, attrs, grad_fn, tapes, recording, paused, location):
        op_id = len(self.run.ops) + 1
        input_ids = [self._tensor(t, location).id for t in inputs]
        for t in outputs:
            self.run.tensors[t._id] = TensorInfo(t._id, "intermediate", tuple(np.shape(t._value)),
                                                 dtype_name(t._value.dtype), producer=op_id, first_seen=location)
            self._values[t._id] = t._value
        rule, source = _rule_of(op_type, grad_fn)
        self.run.ops[op_id] = OpInfo(op_id, next(self._seq), op_type, input_ids, [t._id for t in outputs],
                                     _plain_attrs(attrs), rule, source, tapes, recording, paused, location)
        for tape_id in tapes:
            self.run.tapes[tape_id].ops.append(op_id)

    def gradient_computed(self, tape, kind, targets, sources, options, results):
        with self._lock:
            tape_id = self._tape_id(tape)
            location = user_location(3)
            for t in list(targets) + list(sources):
                self._tensor(t, location)
            seq = next(self._seq)
            call = GradientCall(len(self.run.calls) + 1, seq, tape_id, kind, [t._id for t in targets],
                                [s._id for s in sources], dict(options), [], location)
            self.run.names.update(names_at(location, kind, call.targets, call.sources))
            for source, grad in zip(sources, results):
                result = GradientResult(source._id, grad is None)
                if grad is not None:
                    self._values[("call", call.id, source._id)] = grad._value
                    result.summary = summarize(grad._value)
                for target in call.targets:
                    explanation = explain_pair(self.run, tape_id, target, source._id, seq)
                    if explanation is not None and (grad is None or options.get("unconnected_gradients") == "ZERO"):
                        result.explanations[target] = explanation
                call.results.append(result)
            self.run.calls.append(call)

    # Output ---------------------------------------------------------------------------------------
    def snapshot(self):
        """A plain-data copy of the run so far: values copied (or summarized above the cap), sources read."""
        with self._lock:
            # Ops, events and explanations never change once made, so they are shared; what grows or
            # gets values filled in is copied (a deepcopy took 30x the recording time itself).
            live = self.run
            tapes = {i: replace(t, ops=list(t.ops), spans=[list(s) for s in t.spans], resets=list(t.resets))
                     for i, t in live.tapes.items()}
            tensors = {}
            for tensor_id, info in live.tensors.items():
                tensors[tensor_id] = copied = _shallow_copy(info)
                _keep_value(copied, self._values.get(tensor_id))
            calls = []
            for call in live.calls:
                results = [replace(r, explanations=dict(r.explanations)) for r in call.results]
                for result in results:
                    if not result.is_none:
                        _keep_value(result, self._values.get(("call", call.id, result.source)))
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
    """``tape.explain``: from the active recording if it saw this tape, else from the tape alone."""
    from tapeviz.core.tensor import Tensor

    for item, role in ((target, "target"), (source, "source")):
        if not isinstance(item, (Tensor, Variable)):
            raise TypeError(f"explain needs a Tensor or Variable as {role}, got {type(item).__name__}.")
    recorder = active_recorder()
    if recorder is not None and recorder.tape_id(tape) is not None:
        with recorder._lock:
            recorder._tensor(target)
            recorder._tensor(source)
            return explain_pair(recorder.run, recorder.tape_id(tape), target._id, source._id)
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
