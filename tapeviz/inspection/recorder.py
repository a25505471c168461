"""The recorder: an observer of the core that builds the inspection model while a script runs.

``with tapeviz.record("run.tapeviz"):`` (or ``TAPEVIZ_RECORD=run.tapeviz``) installs one. Plain
library use never pays for it: the core tests one empty list per op when no recorder is installed.

What keeps recording linear and cheap in a training loop: while an op runs, the recorder finds its
user line through a per-code-object cache and appends one raw tuple to a list (``_records``);
every RECORD_BATCH ops, and before anything reads the run, ``_drain`` turns the batch into rows of
the columns in store.py in bulk, and the outputs are summarized in bulk, not kept. Events and
gradient calls are kept as numbers; the run's lists of them (lazylist.LazyList, the live run's and
each snapshot's) make their objects when first read, so a snapshot whose events and calls are not
read makes none, and taking a snapshot costs little per step. The ops of a backward
pass that no tape records are not shown to the recorder by ``GradientTape.gradient`` (the recorder
runs the pass again, and keeps its ops, only if a gradient is NaN/Inf or all zero; a jacobian's are held until the call ends); a gradient call
only notes its results, and the ones that need an explanation (None, unconnected zeros under
``UnconnectedGradients.ZERO``, NaN/Inf or exact zeros) are explained when someone asks
(``snapshot``, ``tape.explain``), each from the ops near its call, never from a pass over the
whole run. The recorder keeps no array of the run alive beyond a fixed budget of small values
(``VALUE_BUDGET_BYTES``).

The usual op and the usual watch and assignment events are recorded by the C path (recordfast_c/, an optional
extension): ``start`` installs its OpRecorder and EventRecorders as the instance's ``op_executed``,
``watched`` and ``variable_assigned``, and ``_walk`` is its Walker. Both answer only from the caches
the Python methods here fill, and hand every other case to them, so this file stays the
reference and the whole recorder when the extension is not built.
"""
import copy
from array import array
import functools
import itertools
import linecache
import math
import operator
import os
import sys
import threading
import weakref

import numpy as np

from tapeviz.core import backward as _backward_module
from tapeviz.core import context, registry
from tapeviz.core.context import state
from tapeviz.core.tape import GradientTape
from tapeviz.core.tensor import Variable

from .explain import explain as explain_pair
from .diagnose import diagnose
from .forward_recorder import ForwardRecording, gradient_tapes
from .lazylist import LazyList
from .names import names_at
from .model import VALUE_CAP, Event, GradientCall, GradientResult, Location, Run, TapeInfo
from .store import CONSTANT, VARIABLE, OpsView, Store, TensorsView, input_pairs, one_value
from .store import _recordfast  # the per-op path in C, or None: the Python methods below do the same

_SITE_SHIFT = 48  # _recordfast.SITE_SHIFT (store.py checks it): call-site keys are shared by both paths

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_SKIP = (_PACKAGE_DIR + os.sep, _NUMPY_DIR + os.sep)
_USER_CODE = os.path.join(_PACKAGE_DIR, "examples") + os.sep  # bundled examples are user code
_MAX_SOURCE_BYTES = 1_000_000
_BACKWARD_CODE = _backward_module.backward.__code__
# Values are kept (beside their summary) for the plots of gradients against 1-D sources (the source,
# the target, the gradient) and for small intermediates, until this many bytes are kept; past it,
# summaries only (a one-element value is its summary). A tutorial keeps everything it can plot; a long
# training loop keeps a few small values of its first steps and stays flat after.
VALUE_BUDGET_BYTES = 16 * 1024 ** 2
_ARRAY_OVERHEAD = 200  # bytes a kept array costs beside its data (object, dict entry, key)
_SIZE = operator.attrgetter("size")
_ID = operator.attrgetter("_id")
_isfinite = math.isfinite
_vdot = np.vdot
SMALL_VALUE = 64  # elements: an intermediate this small costs about what its summary costs
RECORD_BATCH = 512  # raw records (ops) turned into columns at a time
# ... or fewer, once the output values they hold reach this many bytes. Large, as a batch has a fixed
# cost (tens of numpy calls) that a few ops on large arrays would pay again and again; a model's
# step holds its activations for its backward pass anyway.
RECORD_BYTES = 16 * 1024 ** 2
EVENT_FIELDS = ("seq", "kind", "tape", "tensor", "location", "source", "scope")  # numbers an event keeps until read

# Keyed by id(code), not by the code object: hashing a code object hashes its bytecode and constants
# each time (it is not cached), which made finding the user's line the largest part of an op's cost.
# _codes_seen keeps every code object met alive, so its id is never reused for another.
_library_code = {}   # id(code) -> is it tapeviz's or numpy's (frames skipped to find the user's line)
_codes_seen = []
_locations = {}      # (id(code), line) -> one shared Location
_call_sites = {}     # call site -> its Location (f_lineno decodes a line table, f_lasti is free). The key, shared
                     # with the C walk: id(code) | bytecode offset << 48 (a tuple where an id needs 48+ bits)


def _library_frame(filename):
    return filename.startswith(_SKIP) and not filename.startswith(_USER_CODE) or filename.startswith("<frozen")


def user_location(depth=2):
    """The first frame outside tapeviz and numpy: the user's line that caused the event."""
    return _walk(sys._getframe(depth))[0]


class _BackwardSeen(threading.local):
    """Per thread: the running backward pass's frame and the user's Location above it (one walk per pass)."""

    frame = None
    location = None
    # A variable's read (Variable._read) tells the tapes it was accessed, then records its ReadVariableOp:
    # the frame of that read and what _walk found for the access, so the op skips the same walk.
    reader = None
    read_found = None


_backward_seen = _BackwardSeen()


def _walk_python(frame):
    """(the user's Location, whether a backward pass is running) for the frame and its callers.

    Also the reference for _recordfast's walk, which answers from the caches this fills and hands
    every case it does not know here."""
    backward = False
    while frame is not None:
        code = frame.f_code
        library = _library_code.get(id(code))
        if library is None:
            _codes_seen.append(code)
            library = _library_code[id(code)] = _library_frame(code.co_filename)
        if not library:
            address = id(code)
            site = address | (frame.f_lasti << _SITE_SHIFT) if not address >> _SITE_SHIFT else (address, frame.f_lasti)
            location = _call_sites.get(site)
            if location is None:
                key = (id(code), frame.f_lineno)
                location = _locations.get(key)
                if location is None:
                    location = _locations[key] = Location(code.co_filename, frame.f_lineno, code.co_name)
                _call_sites[site] = location
            if backward:
                _backward_seen.location = location
            return location, backward
        if code is _BACKWARD_CODE:
            seen = _backward_seen
            if frame is seen.frame and seen.location is not None:
                return seen.location, True  # every op of one backward pass has the same user line
            backward = True
            seen.frame, seen.location = frame, None
        frame = frame.f_back
    return None, backward


if _recordfast is not None:
    _walk = _recordfast.Walker(_library_code, _call_sites, _BACKWARD_CODE, _walk_python)
else:
    _walk = _walk_python


class _Held(threading.local):
    def __init__(self):
        self.ops = []  # per thread: the running backward pass's ops, until its gradient call ends


_held = _Held()
HELD_OPS = 50_000  # a jacobian runs many backward passes: past this many ops, the rest are not held


def _needs_diagnosis(value):
    """Is a gradient value NaN/Inf somewhere, or all zero (the results a diagnosis is made for)?"""
    if type(value) is not np.ndarray:
        value = np.asarray(value)
    if value.dtype.kind != "f" or not value.size:
        return False
    # One dot product answers for almost every gradient: finite and non-zero means no NaN/Inf and not
    # all zero. Only an overflow (huge values) or an underflow (tiny ones) needs the exact test below.
    # (The dot product is not a ufunc: it sets off no floating-point warning, and math.isfinite of a
    # Python float none either, so the usual case needs no np.errstate, which costs more than the test.)
    square = float(np.vdot(value, value))  # flattens in C: no view object per gradient
    if square != 0 and _isfinite(square):
        return False
    with np.errstate(all="ignore"):
        low, high = np.minimum.reduce(value, axis=None), np.maximum.reduce(value, axis=None)  # NaN propagates
    return not (np.isfinite(low) and np.isfinite(high)) or (low == 0 and high == 0)


def _any_needs_diagnosis(results):
    for grad in results:
        if grad is not None:
            value = grad._value
            # _needs_diagnosis's first test, inlined for the usual gradient (a float array): one call a
            # source a step.
            if type(value) is np.ndarray and value.dtype.kind == "f":
                square = _vdot(value, value)
                if square and _isfinite(square):
                    continue
            if _needs_diagnosis(value):
                return True
    return False


def _forget_backward_frame():
    _backward_seen.frame = _backward_seen.location = _backward_seen.reader = _backward_seen.read_found = None  # do not keep the finished pass's frame (and locals) alive


class Recorder(ForwardRecording):
    """Observes tapes, ops and gradient calls and keeps them as a ``Run``."""

    def __init__(self, meta=None):
        self.store = store = Store()
        self._lock = threading.RLock()
        # The live run's events and calls are made from the numbers below when something reads them.
        self.run = Run(ops=OpsView(store), tensors=TensorsView(store), meta=dict(meta or {}),
                       events=LazyList(self._new_events, self._lock, once=False),
                       calls=LazyList(self._new_calls, self._lock, once=False))
        self._seq = itertools.count(1)
        self._tape_ids = {}    # id(tape) -> tape id, while the tape lives (a weak reference drops it)
        self._tape_refs = {}
        self._reference_keys = {}  # id of a tape's weak reference -> id(tape), to forget it when it dies
        self._paused = set()
        self._variables = store.variables   # variable id -> Variable's name/trainable at creation
        self._values = {}      # tensor id or ("call", id, source) -> a small value kept within the budget
        self._value_bytes = 0
        self._tape_sets = {}   # key of the tapes recording/recorded/paused (see op_executed) -> tape set code
        self._checked_calls = 0  # calls before this index have had their results looked at
        # Raw records (store.RECORD_FIELDS) not yet in the columns (see _drain). One list for the whole
        # run: the C path holds it.
        self._records = []
        self._record_bytes = 0  # bytes of the output values they hold (of those the C path added: _fast.bytes)
        self._fast = None       # the C path's op_executed, while recording (see start)
        self._late_variables = []  # variables met before recording began: their rows become variables
        self._sighted_variables = set()  # ids of variables sighted once: later sightings add nothing
        self._last_output = None  # id of the output of the last one-output op recorded
        # Events and gradient calls are kept as numbers; their objects are made when something reads them
        # (a LazyList: the live run's, a snapshot's): a training step makes about ten, and objects made per
        # step cost their making, their memory and every later garbage collection.
        self._event_cells = array("q")  # EVENT_FIELDS numbers per event, every event of the run
        self._events_made = 0           # events the live run's list has made
        self._event_kinds = {}          # kind -> its number in _event_kind_names
        self._event_kind_names = []
        self._raw_calls = []   # (seq, tape, kind, target ids, source ids, options code, location code, gradient ids)
        self._call_count = 0
        self._calls_made = 0   # calls the live run's list has made
        self._named_calls = 0  # calls whose expressions are in run.names
        self._finished_tapes = set()  # ids of tapes that are gone: their TapeInfo changes no more
        self._gone_tapes = []
        store.sync = self._drain_locked  # a live view of the columns sees every op recorded so far
        self._options = {}     # a gradient call's options -> their number in _options_list (shared by calls)
        self._options_list = []
        self._rules = {}       # op type -> rule code, for ops without a custom gradient

    # Installation ---------------------------------------------------------------------------------
    def start(self):
        registry.ensure_loaded()
        if _recordfast is not None:
            # The usual op is recorded in C (an instance attribute shadows the method); every other op,
            # and every op when the extension is not built, by the Python method.
            self._fast = self.op_executed = _recordfast.OpRecorder(
                walker=_walk, recorder=self, records=self._records, tape_sets=self._tape_sets,
                paused=self._paused, seq=self._seq, lock=self._lock, state=state, seen=_backward_seen,
                held=_held, slow=type(self).op_executed.__get__(self), drain=self._drain_full,
                tape_set_of=self._tape_set_locked,
                batch=RECORD_BATCH, batch_bytes=RECORD_BYTES)
            # The usual watch and assignment event too (each variable of a training step, every step).
            for method in ("watched", "variable_assigned"):
                self.__dict__[method] = _recordfast.EventRecorder(
                    mode=method, walker=_walk, recorder=self, sighted=self._sighted_variables,
                    tape_ids=self._tape_ids, event_kinds=self._event_kinds,
                    location_by_id=self.store._location_by_id, cells=self._event_cells, seq=self._seq,
                    lock=self._lock, state=state, seen=_backward_seen, slow=getattr(type(self), method).__get__(self))
        context.observers.append(self)
        return self

    def stop(self):
        if self in context.observers:
            context.observers.remove(self)
        for method in ("op_executed", "watched", "variable_assigned"):
            self.__dict__.pop(method, None)  # the C path holds the recorder: no cycle left behind
        self._fast = None
        with self._lock:
            self._drain()
            self.store.tensors.finish()  # the waiting arrays and the flush buffer are not kept past the run

    # Helpers --------------------------------------------------------------------------------------
    def _tape_id(self, tape):
        key = id(tape)
        tape_id = self._tape_ids.get(key)
        if tape_id is None:
            tape_id = len(self.run.tapes) + 1
            self._tape_ids[key] = tape_id
            reference = self._tape_refs[key] = weakref.ref(tape, self._tape_gone)
            self._reference_keys[id(reference)] = key
            self.run.tapes[tape_id] = TapeInfo(tape_id, tape._persistent, tape._watch_accessed_variables)
        return tape_id

    def _tape_gone(self, reference):
        key = self._reference_keys.pop(id(reference), None)
        tape_id = self._tape_ids.get(key)
        if tape_id is not None:
            self._gone_tapes.append(tape_id)  # final once the ops recorded before it went are drained
        # The cached tape sets are keyed by id(tape), which a new tape may reuse (key 0, no tape, stays).
        idle = self._tape_sets.get(0)
        self._tape_sets.clear()
        if idle is not None:
            self._tape_sets[0] = idle
        self._tape_ids.pop(key, None)
        self._tape_refs.pop(key, None)

    def tape_id(self, tape):
        return self._tape_ids.get(id(tape))

    def _keep(self, key, value, always=False):
        """Keep a small value while the budget lasts (``always``: any size up to VALUE_CAP)."""
        size = value.size
        if size <= 1 or self._value_bytes >= VALUE_BUDGET_BYTES:
            return
        if size <= 1 or size > (VALUE_CAP if always else SMALL_VALUE) or key in self._values:
            return  # a one-element value is its own summary (min = max = the value)
        cost = value.nbytes + _ARRAY_OVERHEAD
        if self._value_bytes + cost > VALUE_BUDGET_BYTES:
            return
        self._values[key] = value
        self._value_bytes += cost

    def _sight(self, tensors, location=None):
        """Note tensors met outside an op (watched, assigned, a gradient call's): each one not seen before
        becomes a leaf row at the next drain, with its value as it is now."""
        seen = []
        for tensor in tensors:
            if isinstance(tensor, Variable):  # a variable (or what assign returns): its current value's tensor
                tensor_id = tensor._id
                if type(tensor) is Variable and tensor_id not in self._variables:  # created before recording began
                    self._variables[tensor_id] = (tensor.name, tensor.trainable)
                    self._late_variables.append(tensor_id)
                if tensor_id in self._sighted_variables:
                    continue  # its row exists (or will, from the first sighting): nothing more to note
                self._sighted_variables.add(tensor_id)
                tensor = tensor._snapshot
            seen.append(tensor)
        if seen:
            self._records.append((None, (), None, None, None, None, -1, location, False, 0, "", *input_pairs(seen)))

    def _tensor(self, tensor, location=None):
        """The table row of a tensor or variable, added on first sight."""
        self._sight((tensor,), location)
        self._drain()
        return self.store.tensors.row(tensor._id)

    def _drain_full(self):
        """A full batch of records, from the C path: into the columns."""
        with self._lock:
            self._drain()

    def _drain_locked(self):
        with self._lock:
            self._drain()
            self._name_calls()

    def _code_of(self, location):
        """A Location's code in the store (events and calls keep codes: a tuple of numbers and strings is
        one the garbage collector stops tracking, so a long run's events cost no collection time)."""
        code = self.store._location_by_id.get(id(location))
        return code if code is not None else self.store.location_codes((location,))[0]

    def _name_calls(self):
        """Add the expressions of the calls made since the last time to run.names (what describe() says)."""
        raw = self._raw_calls
        if self._named_calls < len(raw):
            names, locations = self.run.names, self.store.locations
            for _, _, kind, targets, sources, _, where, _ in raw[self._named_calls:]:
                names.update(names_at(locations[where] if where >= 0 else None, kind, targets, sources))
            self._named_calls = len(raw)

    def _events_of(self, start, stop):
        """The Event objects of events ``start`` to ``stop`` (in recording order)."""
        width = len(EVENT_FIELDS)
        # A slice is a copy: no buffer of the live array is held, which later events could not grow.
        rows = np.frombuffer(self._event_cells[start * width:stop * width], np.int64).reshape(-1, width).tolist()
        locations, kinds, scopes = self.store.locations, self._event_kind_names, self.store.scopes.values
        return [Event(seq, kinds[kind], None if tape < 0 else tape, None if tensor < 0 else tensor,
                      locations[where] if where >= 0 else None, str(source) if source >= 0 else "",
                      scopes[scope].removesuffix("/") if scope >= 0 else "")
                for seq, kind, tape, tensor, where, source, scope in rows]

    def _new_events(self):
        """The live run's events recorded since it last read them."""
        stop = len(self._event_cells) // len(EVENT_FIELDS)
        start, self._events_made = self._events_made, stop
        return self._events_of(start, stop) if stop > start else ()

    def _calls_of(self, start, stop, values):
        """The GradientCall objects of calls ``start`` to ``stop``, final: each result with its summary and
        value (a kept value in ``values``, or the one element its summary holds). Their rows are drained.
        Explanations and diagnoses are added by explain_pending, to the live run's objects."""
        raw = self._raw_calls[start:stop]
        store = self.store
        summaries = iter(store.summaries([grad for call in raw for grad in call[7] if grad is not None]))
        locations, options_of = store.locations, self._options_list
        calls = []
        for number, (seq, tape_id, kind, targets, sources, options, where, grads) in enumerate(raw, start + 1):
            results = []
            for source, grad in zip(sources, grads):
                if grad is None:
                    results.append(GradientResult(source, True, None, {}, {}, None))
                else:
                    summary = next(summaries)
                    value = values.get(("call", number, source))
                    results.append(GradientResult(source, False, one_value(summary) if value is None else
                                                  np.array(value), summary, {}, grad))
            calls.append(GradientCall(number, seq, tape_id, kind, list(targets), list(sources), options_of[options],
                                      results, locations[where] if where >= 0 else None))
        return calls

    def _new_calls(self):
        """The live run's gradient calls made since it last read them."""
        stop = len(self._raw_calls)
        if stop == self._calls_made:
            return ()
        self._drain()
        self._name_calls()
        start, self._calls_made = self._calls_made, stop
        return self._calls_of(start, stop, self._values)

    def _snapshot_calls(self, count, values):
        """A snapshot's first ``count`` calls: those the live run has made already (explained, when they
        needed it), the others made now (calls before the snapshot needed no explanation, or the live run
        would have made them)."""
        live = self.run.calls
        made = min(list.__len__(live), count)
        return list.__getitem__(live, slice(0, made)) + self._calls_of(made, count, values)

    def _drain(self):
        """Turn the raw records into rows of the columns, in one batch (callers hold the lock).

        Runs every RECORD_BATCH ops (or when the outputs they hold reach RECORD_BYTES), and before anything
        reads the run: the per-op work of recording is then one tuple appended to a list.
        """
        gone, self._gone_tapes = self._gone_tapes, []
        pending = self._records
        if not pending:
            self._finished_tapes.update(gone)
            return
        records = pending[:]
        del pending[:len(records)]
        self._record_bytes = 0
        if self._fast is not None:
            self._fast.bytes = 0
        store = self.store
        batch = store.add_records(records, plain=_plain_attrs, rule_of=_rule_of_type)
        if batch.ops:
            self._link_tapes(batch)
        if self._late_variables:
            table = store.tensors
            for tensor_id in self._late_variables:
                row = table.row(tensor_id)
                if row is not None and table.kind[row] == CONSTANT:
                    table.kind[row] = VARIABLE
            self._late_variables = []
        if self._value_bytes < VALUE_BUDGET_BYTES:
            self._keep_small(batch)
        self._finished_tapes.update(gone)

    def _link_tapes(self, batch):
        """Add each op of a batch to the ``ops`` of the tapes that recorded it (a run of ops with the same
        tape set at a time: a training step's forward pass is one run, its updates another)."""
        codes = batch.tape_sets
        values = self.store.tape_sets.values
        run_tapes = self.run.tapes
        first = batch.first_op
        if codes.count(codes[0]) == len(codes):
            starts, ends = [0], [len(codes)]
        else:
            column = np.asarray(codes)
            changes = (np.flatnonzero(column[1:] != column[:-1]) + 1).tolist()
            starts, ends = [0] + changes, changes + [len(codes)]
        for start, end in zip(starts, ends):
            for tape_id in values[codes[start]][0]:
                run_tapes[tape_id].ops.extend(range(first + start, first + end))

    def _keep_small(self, batch):
        """Keep the batch's small new leaves and small outputs (2 to SMALL_VALUE elements), in row order,
        while the budget lasts."""
        picked_rows, picked_ids, picked_values = [], [], []
        for rows, ids, values in ((batch.leaf_rows, batch.leaf_ids, batch.leaf_values),
                                  (batch.out_rows, batch.out_ids, batch.out_values)):
            if ids:
                sizes = np.fromiter(map(_SIZE, values), np.int64, len(values))
                small = np.flatnonzero((sizes > 1) & (sizes <= SMALL_VALUE))
                if len(small):
                    picked_rows.append(np.asarray(rows)[small])
                    small = small.tolist()
                    picked_ids += [ids[i] for i in small]
                    picked_values += [values[i] for i in small]
        if not picked_ids:
            return
        if len(picked_rows) > 1:  # leaves and outputs interleave in row order
            order = np.argsort(np.concatenate(picked_rows), kind="stable").tolist()
            picked_ids = [picked_ids[i] for i in order]
            picked_values = [picked_values[i] for i in order]
        # _keep, inlined (a training step keeps a few small values; their sizes are known to fit SMALL_VALUE).
        kept, used = self._values, self._value_bytes
        for tensor_id, value in zip(picked_ids, picked_values):
            if used >= VALUE_BUDGET_BYTES:
                break
            if tensor_id not in kept:
                cost = value.nbytes + _ARRAY_OVERHEAD
                if used + cost <= VALUE_BUDGET_BYTES:
                    kept[tensor_id] = value
                    used += cost
        self._value_bytes = used

    def _event(self, kind, tape=None, tensor=None, location=None, source=None, seq=None, scope=None):
        """Note an event (``source``: the id of the tensor an assignment took its value from; ``scope``: the
        name scope an assignment ran in, an optimizer's)."""
        code = self._event_kinds.get(kind)
        if code is None:
            code = self._event_kinds[kind] = len(self._event_kind_names)
            self._event_kind_names.append(kind)
        if location is None:
            location = user_location(3)
        where = self.store._location_by_id.get(id(location))  # _code_of, inlined: two events a variable a step
        if where is None:
            where = self._code_of(location)
        if scope:
            scope_code = self.store.scopes.codes.get(scope)
            if scope_code is None:
                scope_code = self.store.scopes.code(scope)
        else:
            scope_code = -1
        self._event_cells.fromlist([next(self._seq) if seq is None else seq, code, -1 if tape is None else tape,
                                    -1 if tensor is None else tensor, where, -1 if source is None else source,
                                    scope_code])

    # Observer methods (called by the core) ----------------------------------------------------------
    def tape_created(self, tape):
        location = _walk(sys._getframe(2))[0]  # user_location(3), without its call
        with self._lock:
            self.run.tapes[self._tape_id(tape)].location = location

    def tape_entered(self, tape):
        with self._lock:
            tape_id = self._tape_ids.get(id(tape))
            info = self.run.tapes[tape_id if tape_id is not None else self._tape_id(tape)]
            if info.parent is None and not info.spans:
                tapes = state.tapes
                if len(tapes) > 1 or (tapes and tapes[0] is not tape):  # else it is the only one: no parent
                    outer = [t for t in gradient_tapes(tapes) if t is not tape]
                    info.parent = self._tape_id(outer[-1]) if outer else None
            info.spans.append([next(self._seq), None])

    def tape_exited(self, tape):
        with self._lock:
            tape_id = self._tape_ids.get(id(tape))
            spans = self.run.tapes[tape_id if tape_id is not None else self._tape_id(tape)].spans
            if spans and spans[-1][1] is None:
                spans[-1][1] = next(self._seq)

    def tape_reset(self, tape):
        with self._lock:
            tape_id = self._tape_id(tape)
            seq = next(self._seq)
            self.run.tapes[tape_id].resets.append(seq)
            self._event("reset", tape_id, location=user_location(3), seq=seq)

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
        frame = sys._getframe(2)
        found = _walk(frame)
        location = found[0]
        if how == "accessed variable":  # variable_accessed's caller (a read) records its ReadVariableOp next
            seen = _backward_seen
            seen.reader, seen.read_found = frame.f_back, found
        with self._lock:
            item_id = item._id
            if item_id not in self._sighted_variables:
                self._sight((item,), location)
            tape_id = self._tape_ids.get(id(tape))
            if tape_id is None:
                tape_id = self._tape_id(tape)
            # _event, inlined for the usual case (a known kind and line): each variable a training step
            # reads is watched once per step.
            kind, where = self._event_kinds.get(how), self.store._location_by_id.get(id(location))
            if kind is None or where is None:
                self._event(how, tape_id, item_id, location)
            else:
                # (fromlist: one resize for the event; extend grows the array once per number)
                self._event_cells.fromlist([next(self._seq), kind, tape_id, item_id, where, -1, -1])

    def variable_created(self, variable):
        location = user_location(3)
        with self._lock:
            self._variables[variable._id] = (variable.name, variable.trainable)
            # Where it was made: a variable made anew inside a step (tf.Variable(w) copies w) is a reason.
            self._sight((variable,), location)
            self._event("variable created", None, variable._id, location)

    def variable_read(self, variable, tensor):
        """A read of ``variable`` made the new tensor ``tensor`` (for cores where reads are new tensors)."""
        with self._lock:
            self._tensor(variable)
            row = self._tensor(tensor, user_location(3))
            if tensor._id != variable._id:
                self.store.tensors.read_of[row] = variable._id

    def variable_assigned(self, variable, value, method):
        location = _walk(sys._getframe(2))[0]
        source = getattr(value, "_id", None)
        with self._lock:
            # The value is most often the output of the op just recorded (``lr * grad``): known already.
            if source is not None and source != self._last_output:
                self._sight((variable, value))
            elif variable._id not in self._sighted_variables:
                self._sight((variable,))
            scope = state.name_scope
            kind, where = self._event_kinds.get(method), self.store._location_by_id.get(id(location))
            if kind is None or where is None or scope:
                self._event(method, None, variable._id, location, source, scope=scope)
            else:  # _event, inlined for the usual case: each variable a training step updates is assigned once
                self._event_cells.fromlist([next(self._seq), kind, -1, variable._id, where,
                                            -1 if source is None else source, -1])

    def tensor_converted(self, tensor, how):
        if not state.tapes:  # conversions matter only while a tape records
            return
        tapes = gradient_tapes(state.tapes)
        if not tapes:
            return
        with self._lock:
            location = user_location(3)
            self._sight((tensor,), location)
            self._event(how, self._tape_id(tapes[-1]), tensor._id, location)

    def op_executed(self, op_type, inputs, outputs, attrs, grad_fn, recorded_on):
        frame = sys._getframe(2)
        seen = _backward_seen
        if frame is seen.reader:
            # The ReadVariableOp of a read whose access was just watched: the same frames above it, the same
            # line (a frame that is still referenced is never another call's).
            location, backward = seen.read_found
            seen.reader = seen.read_found = None
        else:
            location, backward = _walk(frame)
        if backward and not recorded_on:
            # An op of a backward pass that no tape records matters only if a gradient comes out NaN/Inf
            # or all zero: held until the call ends, then recorded only then (about half of a training
            # step's ops, so half the recording cost, when every gradient is fine).
            held = _held.ops
            if len(held) < HELD_OPS:
                held.append((op_type, inputs, outputs, attrs, grad_fn, location))
            return
        if _held.ops:
            _held.ops = []  # a backward pass that never reached gradient_computed (its rule raised)
        # The tapes recording now, those that recorded the op and those paused, as one code: a
        # loop repeats a few such sets, so this is one dictionary look-up per op. The key: with no tape
        # paused and at most one recording (a training step), a number; else one flat tuple, the three
        # parts separated by None (cheaper to build and hash than three).
        tapes_now = state.tapes
        paused = self._paused
        if not paused and len(tapes_now) <= 1:
            key = (id(tapes_now[0]) if recorded_on else -id(tapes_now[0])) if tapes_now else 0
        else:
            key = (*map(id, recorded_on), None, *map(id, tapes_now), None, *paused)
        with self._lock:
            tape_set = self._tape_sets.get(key)
            if tape_set is None:
                tape_set = self._tape_set(recorded_on, key)
            records = self._records
            if len(outputs) == 1:
                output = outputs[0]
                value, self._last_output = output._value, output._id
                if len(inputs) == 2:  # most ops: the pairs written out, with no call
                    x, y = inputs
                    records.append((op_type, None, self._last_output, value, attrs, grad_fn, tape_set, location,
                                    backward, next(self._seq), state.name_scope, x._id, x._value, y._id, y._value))
                else:
                    records.append((op_type, None, self._last_output, value, attrs, grad_fn, tape_set, location,
                                    backward, next(self._seq), state.name_scope, *input_pairs(inputs)))
                try:
                    self._record_bytes += value.nbytes
                except AttributeError:  # not a numpy value: counted when made an array
                    pass
            else:
                records.append((op_type, outputs, None, None, attrs, grad_fn, tape_set, location, backward,
                                next(self._seq), state.name_scope, *input_pairs(inputs)))
            if len(records) >= RECORD_BATCH or self._record_bytes >= RECORD_BYTES:
                self._drain()

    def _tape_set_locked(self, recorded_on, key):
        with self._lock:
            return self._tape_set(recorded_on, key)

    def _tape_set(self, recorded_on, key):
        """The code of a set of tapes (recorded the op, recording, paused), cached under ``key``."""
        tapes_now = state.tapes
        if len(tapes_now) == 1 and not self._paused and isinstance(tapes_now[0], GradientTape):
            # One tape recording, none paused (a training step's, met once a step: each step's tape is new).
            # The op's tapes are among those recording: that one, or none.
            tape = tapes_now[0]
            tape_id = self._tape_ids.get(id(tape))
            recording = (tape_id if tape_id is not None else self._tape_id(tape),)
            code = self._tape_sets[key] = self.store.tape_sets.code((recording if recorded_on else (), recording, ()))
            return code
        tape_id = self._tape_id
        tapes = tuple(tape_id(t) for t in gradient_tapes(recorded_on)) if recorded_on else ()
        recording = tuple(tape_id(t) for t in gradient_tapes(tapes_now))
        code = self._tape_sets[key] = self.store.tape_sets.code((tapes, recording, tuple(sorted(self._paused))))
        return code

    def _add_op(self, op_type, inputs, outputs, attrs, grad_fn, tape_set, location, backward=False):
        """Add an op outside the observed path (held backward ops, a tape explained on its own)."""
        self._records.append((op_type, tuple(outputs), None, None, attrs, grad_fn, tape_set, location, backward,
                              next(self._seq), state.name_scope, *input_pairs(inputs)))

    def gradient_computed(self, tape, kind, targets, sources, options, results):
        seen = _backward_seen
        # Do not keep the finished pass's frame (or a read's) alive.
        seen.frame = seen.location = seen.reader = None
        held, _held.ops = _held.ops, []
        rerun = state.rerun_backward  # set by GradientTape.gradient, whose backward ops were not shown to us
        location = _walk(sys._getframe(2))[0]
        with self._lock:
            if held or rerun is not None:
                diagnose_held = _any_needs_diagnosis(results)
                if diagnose_held and rerun is not None:
                    held += self._backward_ops_again(rerun)
            if held and diagnose_held:
                recording = tuple(self._tape_id(t) for t in gradient_tapes(state.tapes))
                tape_set = self.store.tape_sets.code(((), recording, tuple(sorted(self._paused))))
                for op_type, inputs, outputs, attrs, grad_fn, op_location in held:
                    self._add_op(op_type, inputs, outputs, attrs, grad_fn, tape_set, op_location, True)
            tape_id = self._tape_ids.get(id(tape))
            if tape_id is None:
                tape_id = self._tape_id(tape)
            # Values beyond a summary serve the inspector's plots: a gradient against a 1-D source (and the
            # target, if it has the source's size). Only those are kept.
            plotted = None
            if self._value_bytes < VALUE_BUDGET_BYTES:
                source_values = [s._value_for_read() for s in sources]
                for s, value in zip(sources, source_values):
                    if value.ndim == 1:
                        if plotted is None:
                            plotted = {}
                        plotted[s._id] = value.size
            # The tensors met here: the targets and sources not sighted yet (a training step's sources
            # are its variables, sighted at its first step), and the gradients (new tensors: their rules'
            # ops were not shown to the recorder).
            sighted = self._sighted_variables
            met = [t for t in targets if t._id not in sighted]
            met += [s for s in sources if s._id not in sighted]
            met += [g for g in results if g is not None]
            self._sight(met, location)
            seq = next(self._seq)
            self._call_count = number = self._call_count + 1
            if plotted:
                sizes = set(plotted.values())
                kept = self._values
                for t in targets:
                    if t._id not in kept:
                        value = t._value_for_read()
                        if t._id in plotted or value.size in sizes:
                            self._keep(t._id, np.asarray(value), always=True)
                for s, value in zip(sources, source_values):
                    if s._id not in kept and (s._id in plotted or value.size in sizes):
                        self._keep(s._id, np.asarray(value), always=True)
                # The gradients against the plotted sources (_keep, inlined: a step keeps one per 1-D source).
                used = self._value_bytes
                for s, grad in zip(sources, results):
                    if grad is not None and s._id in plotted and used < VALUE_BUDGET_BYTES:
                        value = grad._value
                        if type(value) is not np.ndarray:
                            value = np.asarray(value)
                        if 1 < value.size <= VALUE_CAP:
                            cost = value.nbytes + _ARRAY_OVERHEAD
                            if used + cost <= VALUE_BUDGET_BYTES:
                                kept[("call", number, s._id)] = value
                                used += cost
                self._value_bytes = used
            options_key = tuple(options.items())
            options_code = self._options.get(options_key)
            if options_code is None:
                options_code = self._options[options_key] = len(self._options_list)
                self._options_list.append(dict(options))
            where = self.store._location_by_id.get(id(location))  # _code_of, inlined: one call a step
            if where is None:
                where = self._code_of(location)
            # The gradients' summaries come from the tensor table (their rule's op made them, or they are
            # added as leaves): nothing is computed per call for a gradient nobody asks about.
            self._raw_calls.append((seq, tape_id, kind, tuple(map(_ID, targets)), tuple(map(_ID, sources)),
                                    options_code, where,
                                    tuple([None if grad is None else grad._id for grad in results])))

    @staticmethod
    def _backward_ops_again(rerun):
        """The ops of a gradient call's backward pass, run once more (observed, recorded by no tape)."""
        saved_tapes = state.tapes
        state.tapes, state.rerun_backward = [], None
        try:
            rerun()
        finally:
            state.tapes, state.rerun_backward = saved_tapes, rerun
            _forget_backward_frame()
        held, _held.ops = _held.ops, []
        return held

    def explain_pending(self):
        """Explain the calls made since the last time: the Nones, the zeros asked for with
        ``UnconnectedGradients.ZERO`` that are unconnected, and NaN/Inf or all-zero gradients."""
        with self._lock:
            self._drain()
            self._name_calls()
            start, stop = self._checked_calls, len(self._raw_calls)
            self._checked_calls = stop
            store = self.store
            # Most results are neither None nor remarkable: their statistics, looked up in bulk, say so, and
            # no object is made for them.
            raw = self._raw_calls[start:stop]
            grads = [grad for call in raw for grad in call[7]]
            if not grads:
                return
            low, high, _, bad = store.stats_of([-1 if grad is None else grad for grad in grads])
            notable = ((low == 0) & (high == 0)) | (bad > 0)
            notable |= np.fromiter((grad is None for grad in grads), bool, len(grads))
            found = np.flatnonzero(notable)
            if not len(found):
                return
            # Which call and result each notable one is: the calls' first results' places, searched.
            firsts = np.cumsum([0] + [len(call[7]) for call in raw])
            owners = (np.searchsorted(firsts, found, side="right") - 1).tolist()
            calls = self.run.calls
            for index, owner in zip(found.tolist(), owners):
                call = calls[start + owner]
                result_index = index - int(firsts[owner])
                result = call.results[result_index]
                zeros_wanted = call.options.get("unconnected_gradients") == "ZERO"
                stats = store.tensor_stats(result.tensor) if result.tensor is not None else None
                all_zero = stats is not None and stats[0] == 0 and stats[1] == 0
                if result.is_none or (zeros_wanted and all_zero):
                    for target in call.targets:
                        explanation = explain_pair(self.run, call.tape, target, result.source, call.seq,
                                                   call.options, came_out_none=result.is_none)
                        if explanation is not None:
                            result.explanations[target] = explanation
                if not result.explanations and stats is not None and (stats[3] or all_zero):
                    result.diagnosis = diagnose(self.run, call, result)

    # Output ---------------------------------------------------------------------------------------
    def snapshot(self):
        """The run so far, as plain data: a view of the columns as they are now (later recording does
        not change it; objects are made on first access), small values, the source files read."""
        with self._lock:
            self.explain_pending()
            live, store = self.run, self.store
            self._drain()
            store.tensors.flush()
            # A tape that is gone and a call already made change no more: the snapshot shares them.
            tapes = {i: t if i in self._finished_tapes else
                     TapeInfo(t.id, t.persistent, t.watch_accessed_variables, t.location, t.parent, list(t.ops),
                              [list(s) for s in t.spans], list(t.resets)) for i, t in live.tapes.items()}
            values = dict(self._values)
            # Events and calls are made when the snapshot's lists are first read (or never: a run that is
            # only saved is written from them, one that is only looked at for its ops never makes them).
            events = LazyList(functools.partial(self._events_of, 0, len(self._event_cells) // len(EVENT_FIELDS)),
                              self._lock)
            calls = LazyList(functools.partial(self._snapshot_calls, len(self._raw_calls), values), self._lock)
            run = Run(tapes=tapes, ops=OpsView(store, frozen=len(store.seq)),
                      tensors=TensorsView(store, frozen=len(store.tensors), values=values),
                      events=events, calls=calls, meta=copy.deepcopy(live.meta), names=dict(live.names))
            run.accumulators, run.jvps = self.forward_snapshot()
            run.sources = _read_sources(run, store.locations)
            return run


def _rule_of_type(op_type):
    return _rule_of(op_type, None)


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


def _read_sources(run, locations):
    """The text of every file a location of the run names (``locations``: the store's, which hold those of
    the ops, events and calls: they keep locations as its codes)."""
    files = {location.file for location in locations}
    for item in list(run.tapes.values()) + list(run.accumulators.values()) + list(run.jvps):
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
            try:
                save(self.recorder.snapshot(), self.path)
            except (OSError, ValueError) as error:
                if exc is None:
                    raise
                # The block's own exception is the one the user must see; the failed save is one line.
                print(f"tapeviz: could not save the run to {self.path}: {_reason(error)}", file=sys.stderr)
        return False


def _reason(error):
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)


def record_from_environment(variable="TAPEVIZ_RECORD"):
    """Record the whole process to the file named by ``$TAPEVIZ_RECORD``, saved at exit."""
    import atexit

    path = os.environ.get(variable)
    if not path or active_recorder() is not None:
        return None
    block = record(path, meta={"script": sys.argv[0] if sys.argv else "", "argv": list(sys.argv)})
    block.__enter__()

    def save_at_exit():
        try:
            block.__exit__(None, None, None)
        except (OSError, ValueError) as error:  # at exit a traceback would hide the one line that matters
            print(f"tapeviz: could not save the run to {path} (${variable}): {_reason(error)}", file=sys.stderr)

    atexit.register(save_at_exit)
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
            # A gradient call already asked this: its explanation knows whether the gradient came out None.
            for call in reversed(recorder.run.calls):
                if call.tape == tape_id and target._id in call.targets and source._id in call.sources:
                    result = call.results[call.sources.index(source._id)]
                    if result.explanations:
                        return result.explanations.get(target._id) or next(iter(result.explanations.values()))
                    if result.diagnosis is not None or not result.is_none:
                        return result.diagnosis
                    break
            explanation = explain_pair(recorder.run, tape_id, target._id, source._id)
            if explanation is not None:
                return explanation
        if not tape._ops:
            return None
    if getattr(tape, "_used", False):
        # Its record is gone: any reason found in what is left would be made up ("the target was not
        # recorded", "the source is unused"), the most likely use being right after a None.
        raise RuntimeError(
            "This non-persistent GradientTape let go of what it recorded when gradient was called, so nothing is "
            "left to explain. Record the run (`with tapeviz.record():` around the loop, or `tapeviz run "
            "script.py`), which keeps what every tape saw; or call tape.explain before tape.gradient, or create "
            "the tape with persistent=True.")
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
        recorder._add_op(op.type, op.inputs, op.outputs, op.attrs, op.grad_fn,
                         recorder.store.tape_sets.code(((tape_id,), (tape_id,), ())), None)
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
    diagnosis = recorder.run.calls[-1].results[0].diagnosis
    if diagnosis is not None:
        diagnosis.fix += (" (This tape was not recorded, so its lines are unknown: run the code inside "
                          "`with tapeviz.record():` or with `tapeviz run script.py` to see them.)")
    return diagnosis
