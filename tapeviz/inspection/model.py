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
    scope: str = ""         # the name scope it ran in, as TensorFlow names it ("sequential/dense_1"; "" for none)


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
    scope: str = ""   # the name scope it happened in ("adam" for a Keras optimizer's update; "" for none)


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


@dataclass(slots=True)
class Tangent:
    """A tensor's tangent in one accumulator: the tangent's own tensor id, its summary, a small value."""

    tensor: int                    # the tensor (a primal, or an op's output) that has this tangent
    tangent: int                   # the tangent's own tensor id
    summary: dict = field(default_factory=dict)
    value: Optional[np.ndarray] = None


@dataclass(slots=True)
class AccumulatorInfo:
    """A ``ForwardAccumulator``: its primals, the ops it pushed tangents through and every tangent."""

    id: int
    location: Optional[Location] = None
    primals: list = field(default_factory=list)   # primal tensor ids, in the order given
    ops: list = field(default_factory=list)       # ids of the ops that gave their outputs tangents
    tangents: dict = field(default_factory=dict)  # tensor id -> Tangent (the primals' included)
    spans: list = field(default_factory=list)     # [enter_seq, exit_seq or None] recording spans

    @property
    def label(self):
        return f"accumulator {self.id}" + (f" ({self.location})" if self.location else "")


# Why ``acc.jvp(target)`` is None (TF returns None in each case; zeros under UnconnectedGradients.ZERO).
JVP_REASONS = {
    "NOT_FLOATING": ("{target} is {dtype}: only floating-point tensors carry tangents.",
                     "Take the JVP of a floating-point tensor (cast to float before the op if the value matters)."),
    "OUTSIDE_ACCUMULATOR": ("{target} was computed while the accumulator was not recording (before its `with` "
                            "block or after it ended), so no tangent was pushed through the ops that made it.",
                            "Compute the target inside `with ForwardAccumulator(primals, tangents) as acc:`."),
    "NOT_CONNECTED": ("{target} does not depend on any primal of the accumulator: no op on its way was given a "
                      "tensor with a tangent.",
                      "Pass the tensor the target is computed from as a primal (with a tangent of its shape), or "
                      "use unconnected_gradients='zero' if zeros are what you want."),
}


@dataclass(slots=True)
class JvpResult:
    target: int
    is_none: bool
    summary: dict = field(default_factory=dict)
    tangent: Optional[int] = None   # the tangent's own tensor id (None for a None result)
    value: Optional[np.ndarray] = None
    reason: str = ""                # a JVP_REASONS code when the target has no tangent ("" when it has one)


@dataclass(slots=True)
class JvpCall:
    """One ``acc.jvp(targets)`` call: a result per flattened target."""

    id: int
    seq: int
    accumulator: int
    targets: list
    options: dict
    results: list                   # JvpResult per target
    location: Optional[Location] = None
    kind: str = "jvp"


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
    accumulators: dict = field(default_factory=dict)  # id -> AccumulatorInfo (forward mode)
    jvps: list = field(default_factory=list)          # JvpCall, in run order

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


def jvp_reason(run, call, result):
    """(sentence, fix) saying why a jvp result is None (or unconnected zeros), or None if it has a tangent."""
    from .explain import describe

    found = JVP_REASONS.get(result.reason)
    if found is None:
        return None
    info = run.tensors.get(result.target)
    target = describe(run, result.target) if info is not None else f"tensor {result.target}"
    sentence = found[0].format(target=target, dtype=info.dtype if info is not None else "not floating")
    return sentence[:1].upper() + sentence[1:], found[1]


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
