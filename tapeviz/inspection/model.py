"""The inspection model: a plain-data picture of a run (tapes, ops, tensors, events, gradient calls).

No Qt and no live references: only ints, strings, lists, dicts and numpy arrays, so a run can be
saved to a tape file, loaded in another process, and explained or drawn there.
"""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

VALUE_CAP = 4096  # elements; larger values are kept as a summary only


@dataclass(slots=True)
class Location:
    file: str
    line: int
    function: str = ""

    def __str__(self):
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class TensorInfo:
    id: int
    kind: str                      # "variable", "constant" or "intermediate"
    shape: tuple
    dtype: str
    name: Optional[str] = None     # variables: 'x:0'
    trainable: Optional[bool] = None
    producer: Optional[int] = None  # op id, for intermediates
    value: Optional[np.ndarray] = None
    summary: dict = field(default_factory=dict)
    first_seen: Optional[Location] = None
    read_of: Optional[int] = None   # for a tensor made by reading a variable: that variable's id

    @property
    def label(self):
        return self.name or f"t{self.id}"

    @property
    def floating(self):
        return self.dtype.startswith("float")


@dataclass(slots=True)
class OpInfo:
    id: int
    seq: int
    type: str
    inputs: list
    outputs: list
    attrs: dict
    rule: str                       # "plugin", "not differentiable", "custom", "missing"
    rule_source: str = ""          # the plugin that supplied the rule
    tapes: list = field(default_factory=list)          # tapes that recorded it
    recording_tapes: list = field(default_factory=list)  # tapes recording in its thread when it ran
    paused_tapes: list = field(default_factory=list)   # tapes inside stop_recording when it ran
    location: Optional[Location] = None
    backward: bool = False  # run by a backward pass (a gradient rule's op, or the sum of two gradients)


@dataclass(slots=True)
class TapeInfo:
    id: int
    persistent: bool
    watch_accessed_variables: bool
    location: Optional[Location] = None
    parent: Optional[int] = None    # the tape that was recording when this one was first entered
    ops: list = field(default_factory=list)
    spans: list = field(default_factory=list)   # [enter_seq, exit_seq or None] recording spans
    resets: list = field(default_factory=list)  # seqs of reset() calls

    @property
    def label(self):
        return f"tape {self.id}" + (f" ({self.location})" if self.location else "")


@dataclass(slots=True)
class Event:
    seq: int
    kind: str     # watch, accessed variable, stop_recording, resume_recording, reset, numpy, bool, ...
    tape: Optional[int] = None
    tensor: Optional[int] = None
    location: Optional[Location] = None
    detail: str = ""


@dataclass
class Explanation:
    code: str
    sentence: str
    fix: str
    evidence: list = field(default_factory=list)  # [{"op": id or None, "tensor": id or None, "location": Location}]
    kind: str = "none"   # "none": why the gradient is None; "nonfinite": why NaN/Inf; "zero": why exactly zero

    def __str__(self):
        lines = [f"[{self.code}] {self.sentence}"]
        for item in self.evidence:
            where = f" at {item['location']}" if item.get("location") else ""
            lines.append(f"    - {item.get('what', '')}{where}")
        lines.append(f"    fix: {self.fix}")
        return "\n".join(lines)


@dataclass(slots=True)
class GradientResult:
    source: int
    is_none: bool
    value: Optional[np.ndarray] = None
    summary: dict = field(default_factory=dict)
    explanations: dict = field(default_factory=dict)  # target id -> Explanation, for unconnected pairs
    tensor: Optional[int] = None  # the gradient's own tensor id, when it has one
    diagnosis: Optional[Explanation] = None  # why a gradient that exists is NaN/Inf or exactly zero


@dataclass(slots=True)
class GradientCall:
    id: int
    seq: int
    tape: int
    kind: str                       # "gradient" or "jacobian"
    targets: list
    sources: list
    options: dict
    results: list                   # GradientResult per source
    location: Optional[Location] = None


@dataclass
class Run:
    """Everything recorded about one run of a script (or one ``tapeviz.record()`` block)."""

    tapes: dict = field(default_factory=dict)     # id -> TapeInfo
    ops: dict = field(default_factory=dict)       # id -> OpInfo
    tensors: dict = field(default_factory=dict)   # id -> TensorInfo
    events: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)   # file -> source text, for showing code around a line
    names: dict = field(default_factory=dict)     # tensor id -> what the user's gradient call named it
    meta: dict = field(default_factory=dict)      # script, argv, tapeviz version, plugins, exit status

    def ops_of(self, tape_id):
        return [self.ops[i] for i in self.tapes[tape_id].ops]

    def watched(self, tape_id, before_seq=None):
        """(tensor id, how) for each tensor the tape watched, after its last reset before ``before_seq``."""
        start = _last_reset(self.tapes[tape_id], before_seq)
        seen = {}
        for event in self.tape_events(tape_id):
            if event.kind in ("watch", "accessed variable") and event.seq > start:
                if before_seq is None or event.seq < before_seq:
                    seen.setdefault(event.tensor, event.kind)
        return seen

    def tape_events(self, tape_id):
        """The events of one tape, in order; indexed once per batch of new events, not scanned per call."""
        cache = self.__dict__.get("_events_by_tape")
        if cache is None or cache[0] is not self.events or cache[1] > len(self.events):
            cache = self.__dict__["_events_by_tape"] = [self.events, 0, {}]
        events, done, by_tape = cache
        if done < len(events):  # most calls find nothing new: no slice of a long list then
            for event in events[done:]:
                by_tape.setdefault(event.tape, []).append(event)
            cache[1] = len(events)
        return by_tape.get(tape_id, ())

    def diagnoses(self):
        """Every (call, result, explanation) whose gradient is NaN/Inf or blocked to exactly zero."""
        for call in self.calls:
            for result in call.results:
                if result.diagnosis is not None:
                    yield call, result, result.diagnosis

    def nones(self):
        """Every (call, result, target id, explanation) whose gradient is None or unconnected."""
        for call in self.calls:
            for result in call.results:
                for target, explanation in result.explanations.items():
                    yield call, result, target, explanation


def _last_reset(tape, before_seq):
    resets = [s for s in tape.resets if before_seq is None or s < before_seq]
    return max(resets) if resets else -1


_DTYPE_NAMES = {}


def dtype_name(dtype):
    """numpy's ``dtype.name``, cached: numpy computes it anew on every access."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = dtype.name
    return name


def summarize(value):
    """Statistics of an array, kept for every value and all that is kept of a large one."""
    array = np.asarray(value)
    summary = {"shape": list(array.shape), "dtype": dtype_name(array.dtype), "size": int(array.size)}
    if array.size == 1 and array.dtype.kind in "fiub":  # most values of a scalar program: keep it cheap
        number = float(array.reshape(()))
        summary.update(min=number, max=number, mean=number, nonfinite=int(not np.isfinite(number)), norm=abs(number))
    elif array.size and array.dtype.kind in "fiub":
        # Read in place, with no float64 copy: every recorded value passes through here, and a large
        # one's copy cost more than the op that made it. NaN propagates into min/max, as before.
        summary.update(min=float(array.min()), max=float(array.max()), mean=float(array.mean(dtype=np.float64)),
                       nonfinite=int(array.size - np.count_nonzero(np.isfinite(array))),
                       norm=float(np.sqrt(np.einsum("i,i->", flat := array.reshape(-1), flat, dtype=np.float64))))
    return summary
