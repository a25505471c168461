"""Why a gradient is None: one reason code, one plain sentence, the evidence and the fix.

A pure function of the inspection model, so it works alike on a live recorder, a loaded tape file,
the command line and the desktop inspector. It looks only at what lies near the call: the ops since
the tape's last reset (found by bisection, ops and events being in execution order) and the ops
the target was computed from (walked back through producers, bounded by ``CONE_LIMIT``), never at
the whole run, so explaining the Nones of a 10,000-step loop costs the same per step as of a short one.
Evidence lies between the source and the target: an ``if`` counts only if its statement names the
source, and a value that left through numpy only if the target was rebuilt from numpy afterwards.
"""
import ast
import bisect
import math
import re

from .model import Explanation
from .names import statement_at

STATEFUL = ("assign", "assign_add", "assign_sub")
CONVERSIONS = ("numpy", "numpy array", "float", "int", "bool")
CONE_LIMIT = 5000  # ops walked back from a target at most


def describe(run, tensor_id):
    """A tensor in words: its name in the user's code where known, and what it is."""
    what = _what(run, tensor_id)
    name = run.names.get(tensor_id)
    return f"`{name}` ({what})" if name and name != _variable_name(run, tensor_id) else what


def _variable_name(run, tensor_id):
    info = run.tensors.get(tensor_id)
    return info.name.split(":")[0] if info is not None and info.name else None


def _what(run, tensor_id):
    info = run.tensors.get(tensor_id)
    if info is None:
        return f"tensor t{tensor_id}"
    if info.kind == "variable":
        return f"Variable '{info.name}'"
    if info.kind == "intermediate" and info.producer in run.ops:
        op = run.ops[info.producer]
        return f"the {info.dtype} output of {op.type}" + (f" (line {op.location.line})" if op.location else "")
    return f"a {info.dtype} constant of shape {tuple(info.shape)}"


def _evidence(what, op=None, tensor=None, location=None):
    if op is not None and location is None:
        location = op.location
    if op is not None and tensor is None and op.outputs:
        tensor = op.outputs[0]
    return {"what": what, "op": op.id if op is not None else None, "tensor": tensor, "location": location}


# Finding what is near a call -------------------------------------------------------------------------
def ops_between(run, low, high):
    """The ops with ``low < seq < high``, in execution order (bisection: op ids follow execution order)."""
    ops = run.ops
    count = len(ops)
    if not count:
        return []
    if 1 in ops and count in ops:  # ids 1..count, as every recorder and tape file makes them
        ids = range(1, count + 1)
        first = bisect.bisect_right(ids, low, key=lambda i: ops[i].seq)
        last = bisect.bisect_left(ids, high, key=lambda i: ops[i].seq)
        return [ops[i] for i in ids[first:last]]
    return sorted((op for op in ops.values() if low < op.seq < high), key=lambda op: op.seq)


def events_between(run, low, high):
    events = run.events
    first = bisect.bisect_right(events, low, key=lambda e: e.seq)
    last = bisect.bisect_left(events, high, key=lambda e: e.seq)
    return events[first:last]


def cone(run, tensor_id, high=math.inf, limit=CONE_LIMIT):
    """The ops ``tensor_id`` was computed from (before ``high``), in execution order.

    Gradient computations (ops a rule ran) are not walked through: in a training loop they lead back
    through every earlier step, and a path through them is never what the user meant.
    """
    ops, tensors = run.ops, run.tensors
    found = {}
    stack = [tensor_id]
    seen = {tensor_id}
    while stack and len(found) < limit:
        info = tensors.get(stack.pop())
        if info is None or info.producer is None:
            continue
        op = ops.get(info.producer)
        if op is None or op.id in found or op.seq >= high or op.backward:
            continue
        found[op.id] = op
        for i in op.inputs:
            if i not in seen:
                seen.add(i)
                stack.append(i)
    return sorted(found.values(), key=lambda op: op.seq)


def step_of(run, location, seq):
    """How many gradient calls were made at ``location`` before ``seq``: the loop's step, from 1."""
    cache = run.__dict__.get("_calls_by_location")
    if cache is None or cache[0] is not run.calls or cache[1] > len(run.calls):
        cache = run.__dict__["_calls_by_location"] = [run.calls, 0, {}]
    calls, done, by_location = cache
    for call in calls[done:]:
        if call.location is not None:
            by_location.setdefault((call.location.file, call.location.line), []).append(call.seq)
    cache[1] = len(calls)
    if location is None:
        return 0
    return bisect.bisect_left(by_location.get((location.file, location.line), ()), seq)


def _call_at(run, seq):
    index = bisect.bisect_left(run.calls, seq, key=lambda c: c.seq)
    if index < len(run.calls) and run.calls[index].seq == seq:
        return run.calls[index]
    return None


def _forward(ops, start):
    """Tensor ids reachable from ``start`` through ``ops`` (in execution order)."""
    reach = set(start)
    for op in ops:
        if any(i in reach for i in op.inputs):
            reach.update(op.outputs)
    return reach


def _path_ops(ops, source_id, target_id):
    """The ops on some path from source (an id, or a set of ids that stand for it) to target, in order."""
    ahead = _forward(ops, source_id if isinstance(source_id, (set, frozenset)) else [source_id])
    behind = {target_id}
    on_path = []
    for op in reversed(ops):
        if any(o in behind for o in op.outputs):
            behind.update(op.inputs)
            if any(i in ahead for i in op.inputs):
                on_path.append(op)
    return list(reversed(on_path))


def _aliases(run, source_id, ops):
    """The source and every tensor in ``ops`` that is a read of it (cores where reads are new tensors)."""
    ids = {source_id}
    tensors = run.tensors
    for op in ops:
        for i in op.inputs:
            info = tensors.get(i)
            if info is not None and info.read_of == source_id:
                ids.add(i)
    return ids


def _passes_gradient(run, op):
    if op.rule == "not differentiable" or op.type == "StopGradient":
        return False
    return all(run.tensors[o].floating for o in op.outputs if o in run.tensors)


def _session_start(tape, start, high):
    """The seq at which the tape began recording after ``start`` (its last reset)."""
    for enter, _ in tape.spans:
        if start < enter < high:
            return enter
    return start


# The explanation --------------------------------------------------------------------------------------
def explain(run, tape_id, target_id, source_id, before_seq=None, options=None, came_out_none=False):
    """The Explanation of why d target / d source is None on this tape, or None if it is connected.

    ``came_out_none``: the gradient call did give None. A path of ops that all have gradient rules then
    means a rule gave None for the input on the path (a custom gradient that returns None)."""
    tape = run.tapes[tape_id]
    if not tape.spans and not tape.ops and tape.location is not None:
        # Made, never entered (TensorFlow raises RuntimeError here; the explanation says what happened).
        return Explanation(
            "TAPE_NEVER_ENTERED", f"This tape (made at line {tape.location.line}) was never entered with `with`, "
            "so it recorded nothing.",
            "Open it around the forward pass: `with tapeviz.GradientTape() as tape:` (a tape made inside another "
            "function records only inside its own `with` block).",
            [_evidence("the tape was made here, and never entered", location=tape.location)])
    high = math.inf if before_seq is None else before_seq
    resets = [s for s in tape.resets if s < high]
    start = max(resets) if resets else -1
    # No op before the tape first started recording can be on it: a loop's new tape per step looks
    # only at its own step.
    first_enter = tape.spans[0][0] if tape.spans else -1
    low = max(start, first_enter - 1)
    window = ops_between(run, low, high)
    tape_ops = [op for op in window if tape_id in op.tapes]
    watched = run.watched(tape_id, before_seq)
    on_tape = set(watched) | {o for op in tape_ops for o in op.outputs}
    source, target = run.tensors.get(source_id), run.tensors.get(target_id)
    src, tgt = describe(run, source_id), describe(run, target_id)
    zeros_asked = (options or {}).get("unconnected_gradients") == "ZERO"

    if source is not None and not source.floating:
        return Explanation(
            "SOURCE_NOT_FLOATING", f"The source, {src}, has dtype {source.dtype}; gradients exist only for "
            "floating-point tensors, so the tape never follows integer or bool values.",
            "If it is a counter, a step or an index, leave it out of the sources (it has no gradient); otherwise "
            "create it with a floating dtype (dtype=tapeviz.float32), or cast it with tapeviz.cast(x, "
            "tapeviz.float32) before the tape uses it.",
            [_evidence(f"{src} first used here", tensor=source_id, location=source.first_seen)])
    if target_id == source_id:
        return None  # d x / d x is ones, watched or not
    target_cone = cone(run, target_id, high)
    aliases = _aliases(run, source_id, target_cone)
    full_path = _path_ops(target_cone, aliases, target_id)
    context = _Context(run, tape, start, low, high, window, target_cone, aliases, source_id, target_id, src, tgt,
                       zeros_asked, before_seq)

    if not aliases & on_tape:
        never_read = source is not None and source.kind == "variable" and source.trainable is not False \
            and tape.watch_accessed_variables
        if not never_read:
            return _unwatched_source(context, source)
        unrecorded = _unrecorded_target(run, tape, target, target_id, tgt, start, context) \
            if target_id not in on_tape else None
        if unrecorded is not None and unrecorded.code != "TARGET_OUTSIDE_CONTEXT":
            return unrecorded  # the target's own story (stop_recording, reset, another tape) says most
        if full_path:
            found = _broken_path(context, full_path)
            if found is not None:
                return found
        return unrecorded or _no_path(context, never_read=True)
    if target_id not in on_tape:
        found = _unrecorded_target(run, tape, target, target_id, tgt, start, context)
        if found is not None and found.code == "TARGET_NOT_RECORDED":
            left = _no_path(context)  # a target rebuilt from numpy: name the line the value left by
            if left.code == "NO_PATH_LEFT_TAPE":
                return left
        if found is not None:
            return found

    recorded_path = _path_ops(tape_ops, aliases, target_id)
    if recorded_path:
        live = _forward([op for op in tape_ops if _passes_gradient(run, op)], aliases)
        if target_id in live:
            return _rule_gave_none(context, recorded_path) if came_out_none else None
        blockers = [op for op in recorded_path if not _passes_gradient(run, op)]
        return _not_differentiable(blockers, src, tgt)
    if full_path:
        found = _broken_path(context, full_path)
        if found is not None:
            return found
    stateful = _stateful_link(context)
    if stateful is not None:
        return stateful
    return _no_path(context)


class _Context:
    """What every reason's test needs about one (call, target, source)."""

    def __init__(self, run, tape, start, low, high, window, target_cone, aliases, source_id, target_id, src, tgt,
                 zeros_asked, before_seq):
        # ``low``: no op or event of this tape's session comes before it (its last reset, or its first entry)
        self.run, self.tape, self.start, self.low, self.high, self.window = run, tape, start, low, high, window
        self.cone, self.aliases, self.source_id, self.target_id = target_cone, aliases, source_id, target_id
        self.src, self.tgt, self.zeros_asked, self.before_seq = src, tgt, zeros_asked, before_seq


# What to do instead of the ops people most often put on the path, said for the ops that are there.
_BLOCKER_FIXES = (
    (("ArgMax", "ArgMin"), "argmax picks an index and has no gradient: train on a loss of the logits themselves "
     "(a cross-entropy such as tapeviz.keras.losses.SparseCategoricalCrossentropy(from_logits=True)) and keep "
     "argmax and accuracy for the metrics."),
    (("Round", "Floor", "Ceil", "Sign"), "a step function has no gradient: use the values before rounding (the "
     "probabilities), or a straight-through estimator: x + tapeviz.stop_gradient(tapeviz.round(x) - x)."),
    (("Multinomial", "RandomCategorical"), "a sampled action has no gradient: for a policy gradient, weight the "
     "log-probabilities of the sampled actions by the returns: tapeviz.reduce_mean(returns * "
     "tapeviz.nn.sparse_softmax_cross_entropy_with_logits(labels=actions, logits=logits))."),
    (("InTopKV2",), "the answer of in_top_k is yes or no and has no gradient: train on a cross-entropy of the "
     "logits and keep top-k accuracy for the metrics."),
    (("Where",), "the coordinates of true entries (tapeviz.where(condition), the rows boolean_mask and "
     "dynamic_partition select) have no gradient: select the values that depend on the model "
     "(boolean_mask(predictions, mask)), not targets or indices chosen by a comparison, or weight by a soft "
     "mask instead of choosing rows (predictions * tapeviz.sigmoid(router_logits))."),
    (("RandomShuffle",), "a shuffle (random.shuffle) passes no gradient: shuffle the data before the model, or "
     "gather with shuffled indices (tapeviz.gather(values, tapeviz.random.shuffle(tapeviz.range(n)))), which "
     "does pass it."),
    (("OnesLike", "ZerosLike", "Shape", "Size", "Rank"), "ones_like, zeros_like, shape, size and rank keep only "
     "the shape of what they are given, not its values: pass the model's output itself where its values "
     "should count (bce(tapeviz.ones_like(fake_output), fake_output))."),
    (("StopGradient",), "the stop_gradient blocks what it wraps: put it around the values that must not be "
     "trained (a target network's output, the labels), not around the model being trained."),
)


# The same, for ops whose integer output is the cut (argsort is TopKV2's indices).
_NOT_FLOATING_FIXES = {
    "TopKV2": "An order (argsort, top_k's indices) has no gradient: use the sorted values themselves "
              "(tapeviz.sort, tapeviz.math.top_k(...).values pass it), or a differentiable ranking loss such as "
              "a pairwise logistic loss on score differences.",
}


def _not_differentiable(blockers, src, tgt):
    types = {op.type for op in blockers}
    specific = [fix for kinds, fix in _BLOCKER_FIXES if types & set(kinds)]
    fix = " ".join(f[0].upper() + f[1:] for f in specific) if specific else (
        "Use a differentiable formulation on the path (e.g. a smooth approximation instead of round/argmax/"
        "comparisons), remove the stop_gradient, or register a gradient for the op with RegisterGradient.")
    return Explanation(
        "NOT_DIFFERENTIABLE", f"Every path from {src} to {tgt} crosses an op that passes no gradient: "
        + ", ".join(sorted(types)) + ".", fix,
        [_evidence(f"{op.type} passes no gradient", op) for op in blockers[:5]])


def _rule_gave_none(c, path):
    """Every op on the recorded path has a gradient rule, yet the gradient is None: a rule returned None
    for the input the path goes through. A custom gradient is the usual one."""
    run = c.run
    ahead = _forward(path, c.aliases)
    custom = [op for op in path if op.rule == "custom"]
    suspects = custom or path
    op = suspects[0]
    index = next((i for i, tensor in enumerate(op.inputs) if tensor in ahead), None)
    which = f"input {index}" if index is not None else "an input"
    name = op.attrs.get("function") if isinstance(op.attrs, dict) else None
    what = f"the custom gradient of `{name}`" if custom and name else (
        "a custom gradient" if custom else f"the gradient rule of {op.type}")
    line = f" at line {op.location.line}" if op.location else ""
    return Explanation(
        "RULE_RETURNED_NONE", f"Every op from {c.src} to {c.tgt} has a gradient, yet the gradient is None: "
        f"{what}{line} returned None for its {which}, which {c.src} flows into.",
        ("Return a gradient for every input from the custom gradient's grad function (tapeviz.zeros_like(x) "
         "where it has none), or leave that input out of the sources." if custom else
         "Check that op's gradient rule (tapeviz check --op " + op.type + "), or leave the source out."),
        [_evidence(f"{what} returned None for its {which}", op)])


def _first_use(path, aliases):
    """The path's ops that take the source itself: the lines where values were computed from it."""
    return [op for op in path if any(i in aliases for i in op.inputs)] or path[:1]


def _broken_path(c, path):
    """A path from source to target exists among the ops that ran: say why the tape has none of it."""
    run, tape, src, tgt = c.run, c.tape, c.src, c.tgt
    # A blocker counts only if every path crosses one: a GAN's loss from logits compares them
    # (GreaterEqual) beside the paths that carry the gradient, and those are the ones that broke.
    blocked = c.target_id not in _forward([op for op in path if _passes_gradient(run, op)], c.aliases)
    blockers = [op for op in path if op.rule == "not differentiable" or op.type == "StopGradient"] if blocked else []
    if blockers:
        return _not_differentiable(blockers, src, tgt)
    not_floating = [op for op in path if any(not run.tensors[o].floating for o in op.outputs if o in run.tensors)] \
        if blocked else []
    if not_floating:
        op = not_floating[0]
        # The output that is not floating (TopKV2's indices, not its values)
        dtype = next(run.tensors[o].dtype for o in op.outputs if o in run.tensors and not run.tensors[o].floating)
        return Explanation(
            "PATH_NOT_FLOATING", f"The path from {src} to {tgt} turns {dtype} at {op.type}; the tape does not "
            "record ops on integer or bool values, so the gradient stops there.",
            _NOT_FLOATING_FIXES.get(op.type, f"Keep the computation in floating point (remove or change the "
            f"{op.type}, or cast to a float dtype instead); to quantize and still train, use a straight-through "
            "estimator: x + tapeviz.stop_gradient(quantized - x)."),
            [_evidence(f"{op.type} gives {dtype}", op) for op in not_floating[:3]])
    first = _first_use(path, c.aliases)
    paused = [op for op in path if tape.id in op.paused_tapes]
    if paused:
        only = all(tape.id in op.paused_tapes for op in first)
        sentence = (f"{src} was read only inside tape.stop_recording(), so the tape neither watched it nor "
                    f"recorded what was computed from it." if only else
                    f"Ops on the path from {src} to {tgt} ran inside tape.stop_recording(), so the tape did not "
                    "record them.")
        return Explanation("PATH_IN_STOP_RECORDING", sentence,
                           "Move those ops out of the stop_recording() block (keep only logging and metrics there).",
                           [_evidence(f"{op.type} ran inside stop_recording()", op) for op in paused[:3]])
    before_reset = [op for op in path if tape.id in op.recording_tapes and op.seq < c.start]
    if before_reset:
        reset = next((e for e in events_between(run, c.start - 1, c.start + 1) if e.kind == "reset"), None)
        return Explanation(
            "PATH_BEFORE_RESET", f"{src} was used only before tape.reset(), which forgot everything the tape had "
            f"recorded, so nothing recorded after it joins {src} to {tgt}.",
            f"Compute {tgt} from {src} again after the reset, or reset before computing it.",
            [_evidence(f"{op.type} recorded before the reset", op) for op in before_reset[:2]]
            + ([_evidence("tape.reset() forgot it", location=reset.location)] if reset is not None else []))
    outside = [op for op in path if tape.id not in op.recording_tapes]
    if outside:
        session = _session_start(tape, c.start, c.high)
        before = [op for op in outside if op.seq < session]
        where = f" (line {tape.location.line})" if tape.location else ""
        if before and any(op in before for op in first):
            used = [op for op in first if op in before]
            lines = ", ".join(str(op.location.line) for op in used[:3] if op.location)
            # Where the tape's code picks up the value made before it: in a model's call() the line above
            # is inside the model; this one is next to the tape, where the fix goes (y_pred = model(x)).
            made_before = {o for op in path if op.seq < session for o in op.outputs}
            handoff = next((op for op in path if op.seq > session and any(i in made_before for i in op.inputs)), None)
            taken = f"; line {handoff.location.line} uses that value inside the tape" \
                if handoff is not None and handoff.location else ""
            return Explanation(
                "FORWARD_BEFORE_TAPE", f"The forward pass ran before the tape started recording: {tgt} was "
                f"computed from {src}" + (f" at line {lines}" if lines else "") + f", before the tape's `with` "
                f"block{where}, and a tape sees only the ops that run inside it{taken}.",
                "Run the forward pass (the model call and the loss) inside `with tapeviz.GradientTape() as tape:`.",
                [_evidence(f"{op.type} computed a value from {src} before the tape", op) for op in used[:3]]
                + [_evidence("the tape starts recording here", location=tape.location)]
                + ([_evidence(f"{handoff.type} inside the tape takes the value computed before it", handoff)]
                   if handoff is not None else []))
        return Explanation(
            "PATH_OUTSIDE_CONTEXT", f"Ops on the path from {src} to {tgt} ran while this tape was not "
            "recording (outside its `with` block).", "Compute the whole path inside the tape's context.",
            [_evidence(f"{op.type} ran outside the tape", op) for op in outside[:3]])
    return None


def _watch_text(c):
    """``tape.watch(x)`` in the user's own names: the tape and the source as the gradient call writes them
    (``gp_tape.watch(interpolated)``), where the call's line says."""
    run = c.run
    source = run.names.get(c.source_id) or "x"
    call = _call_at(run, c.before_seq) if c.before_seq is not None else None
    statement = statement_at(call.location.file, call.location.line) if call is not None and call.location else None
    tape = "tape"
    for node in ast.walk(statement) if statement is not None else ():
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "gradient", "jacobian", "batch_jacobian"):
            text = ast.unparse(node.func.value)
            if text.replace(".", "").replace("_", "").isalnum() and len(text) <= 30:
                tape = text
            break
    return f"{tape}.watch({source})"


def _unwatched_source(c, source):
    run, tape, src, source_id = c.run, c.tape, c.src, c.source_id
    where = [_evidence(f"{src} first used here", tensor=source_id, location=source.first_seen if source else None)]
    if source is not None and source.kind == "variable":
        if source.trainable is False:
            return Explanation(
                "SOURCE_NOT_TRAINABLE", f"{src} was created with trainable=False, and a tape watches only "
                "trainable variables on its own.",
                f"Call {_watch_text(c)} inside the tape's context, or create the variable with trainable=True.", where)
        if not tape.watch_accessed_variables:
            created = next((e for e in events_between(run, c.low, c.high)
                            if e.kind == "variable created" and e.tensor == source_id
                            and any(enter < e.seq and (leave is None or e.seq < leave) for enter, leave in tape.spans)),
                           None)
            if created is not None:  # a Keras model builds its weights on its first call
                line = f" at line {created.location.line}" if created.location else ""
                return Explanation(
                    "SOURCE_NOT_WATCHED", f"{src} was created inside the tape's context{line} (a model builds its "
                    "weights on its first call), after any tape.watch call could name it; with "
                    "watch_accessed_variables=False, reading it did not watch it.",
                    "Build the model before the tape (model.build(input_shape), or call it once on a batch), so "
                    "that tape.watch(model.trainable_variables) sees the weights; or call tape.watch after the "
                    "model's first call.",
                    [_evidence(f"{src} created here, inside the tape", tensor=source_id, location=created.location)])
            return Explanation(
                "SOURCE_NOT_WATCHED", f"The tape was created with watch_accessed_variables=False, so reading {src} "
                "did not watch it.", f"Call {_watch_text(c)} inside the tape's context.", where)
    if source is not None and source.kind == "intermediate" and source.producer in run.ops:
        producer = run.ops[source.producer]
        source_cone = cone(run, source_id, c.high)
        variables = [i for op in source_cone for i in op.inputs
                     if i in run.tensors and (run.tensors[i].kind == "variable" or run.tensors[i].read_of)]
        if variables:
            variable = run.tensors[variables[0]].read_of or variables[0]
            name = describe(run, variable)
            call = _call_at(run, c.before_seq) if c.before_seq is not None else None
            step = step_of(run, call.location, producer.seq) if call is not None else 0
            line = f" at line {producer.location.line}" if producer.location else ""
            when = f" in step {step}" if step else ""
            return Explanation(
                "SOURCE_BECAME_TENSOR", f"The source is not {name} itself but a new tensor computed from it by "
                f"{producer.type}{line}{when} (as `w = w - lr * g` or `x = x + 1` rebinds the name to a tensor); "
                "tapes watch variables, not tensors computed from them, unless told to.",
                "Update the variable in place with w.assign_sub(lr * g) / x.assign_add(...) / x.assign(...), so the "
                f"name keeps the variable; or call {_watch_text(c)} on the tensor inside the tape's context.",
                [_evidence(f"{producer.type} turned {name} into a tensor" + (f" (step {step})" if step else ""),
                           producer)])
        ignored = _ignored_watch(c, source_cone)
        if ignored is not None:
            return ignored
        if tape.id in producer.recording_tapes:  # computed inside already: do not suggest that
            return Explanation(
                "SOURCE_NOT_WATCHED", f"The source, {src}, was computed inside the tape's context but from "
                "values the tape does not watch, so the tape did not record it.",
                f"Call {_watch_text(c)} right after computing it, or compute it from a watched value.",
                [_evidence(f"{producer.type} computed it", producer)])
        return Explanation(
            "SOURCE_NOT_WATCHED", f"The source, {src}, was computed outside the tape and never watched.",
            f"Call {_watch_text(c)} inside the tape's context, or compute it inside the context from a watched value.",
            [_evidence(f"{producer.type} computed it", producer)])
    return Explanation(
        "SOURCE_NOT_WATCHED", f"The source, {src}, is a constant: tapes watch tensors only when told to.",
        f"Call {_watch_text(c)} inside the tape's context, or make it a tapeviz.Variable.", where)


def _ignored_watch(c, source_cone):
    """The source was computed from a tensor the user watched, but that tensor is not floating point, so
    the watch did nothing (an image watched as uint8, then cast to float)."""
    run, tape = c.run, c.tape
    leaves = {i for op in source_cone for i in op.inputs}
    for event in events_between(run, c.low, c.high):
        if event.kind == "watch" and event.tape == tape.id and event.tensor in leaves:
            info = run.tensors.get(event.tensor)
            if info is None or info.floating:
                continue
            watched = describe(run, event.tensor)
            producer = run.ops[run.tensors[c.source_id].producer]
            line = f" (line {producer.location.line})" if producer.location else ""
            return Explanation(
                "SOURCE_NOT_WATCHED", f"The source, {c.src}, was computed from {watched}, which tape.watch was asked "
                f"to watch; but it is {info.dtype}, and a tape watches only floating-point tensors, so the watch "
                f"did nothing, and nothing computed from it was recorded.",
                f"Watch the floating-point tensor instead: call tape.watch({run.names.get(c.source_id) or 'x'}) on "
                f"the source right after it is computed{line}, before it is used.",
                [_evidence(f"tape.watch of a {info.dtype} tensor did nothing", tensor=event.tensor,
                           location=event.location), _evidence(f"{producer.type} computed the source", producer)])
    return None


def _tape_words(tape):
    """A tape in a sentence, the same at every step of a loop (not its id: each step makes a new tape)."""
    return f"the tape made at line {tape.location.line}" if tape.location else tape.label


def _answers(run, other, c, target_id):
    """Would ``other`` tape give a gradient: does it watch the source (or record it) and record a path?"""
    recorded = [o for o in c.cone if other.id in o.tapes]
    has_source = c.aliases & (set(run.watched(other.id, c.before_seq)) | {i for o in recorded for i in o.outputs})
    return bool(has_source) and bool(_path_ops(recorded, c.aliases, target_id))


def _unrecorded_target(run, tape, target, target_id, tgt, start, context=None):
    if target is None or target.producer not in run.ops:
        return Explanation(
            "TARGET_NOT_RECORDED", f"The target, {tgt}, was not computed by any op this tape recorded.",
            "Compute the target inside the tape's context, from watched values.",
            [_evidence(f"{tgt} first used here", tensor=target_id, location=target.first_seen if target else None)])
    op = run.ops[target.producer]
    if tape.id in op.tapes and op.seq <= start:
        return Explanation(
            "TARGET_BEFORE_RESET", f"The target, {tgt}, was recorded before tape.reset() cleared the tape.",
            "Compute the target again after the reset, or call gradient before resetting.", [_evidence(op.type, op)])
    if tape.id in op.paused_tapes:
        return Explanation(
            "TARGET_IN_STOP_RECORDING", f"The target, {tgt}, was computed inside tape.stop_recording().",
            "Compute the target outside the stop_recording() block.", [_evidence(op.type, op)])
    if tape.id not in op.recording_tapes:
        others = [run.tapes[t] for t in op.tapes if t != tape.id]
        # Another tape recorded it: asking that tape is the fix only if it joins the source to the target
        # (a nested gradient penalty's inner tape watched x; the outer, which recorded a sum made after
        # the inner block, did not).
        answering = [t for t in others if context is None or _answers(run, t, context, target_id)]
        if answering:
            names = ", ".join(_tape_words(t) for t in answering)
            return Explanation(
                "TARGET_OTHER_TAPE", f"The target, {tgt}, was recorded on another tape ({names}), not on this one.",
                "Ask the tape that recorded it: call gradient on that tape.", [_evidence(op.type, op)])
        where = f" (line {tape.location.line})" if tape.location else ""
        after = bool(tape.spans) and all(leave is not None and leave < op.seq for _, leave in tape.spans)
        also = (f"; {', '.join(_tape_words(t) for t in others)} recorded it, but does not join the source to it "
                "either") if others else ""
        return Explanation(
            "TARGET_OUTSIDE_CONTEXT", f"The target, {tgt}, was computed " + ("after this tape's `with` block"
            f"{where} had ended" if after else f"outside this tape's `with` block{where}") + ", so the tape did not "
            f"record it{also}.", "Compute the target inside the tape's context (indent the line that computes it "
            "into the tape's `with` block).", [_evidence(op.type, op)])
    return None


def _stateful_link(c):
    """Does the source reach the target only through a variable assignment?"""
    run = c.run
    leaves = {i for op in c.cone for i in op.inputs}
    variables = {i for i in leaves if i in run.tensors and run.tensors[i].kind == "variable"}
    variables |= {run.tensors[i].read_of for i in leaves if i in run.tensors and run.tensors[i].read_of}
    for event in events_between(run, c.start, c.high):
        if event.kind in STATEFUL and event.tensor in variables and event.detail:
            value_id = int(event.detail)
            if value_id in c.aliases or _path_ops(cone(run, value_id, c.high), c.aliases, value_id):
                name = describe(run, event.tensor)
                return Explanation(
                    "STATEFUL_UPDATE", f"The source reaches the target only through {event.kind} on {name}; a "
                    "stateful update passes no gradient.",
                    "Keep the value in a tensor (state = tapeviz.tanh(...), y = v + delta) instead of assigning it "
                    f"to {name} and reading it back; assign the final value after the gradient call if it must "
                    "persist.",
                    [_evidence(f"{event.kind} on {name}", tensor=event.tensor, location=event.location)])
    return None


def _source_names(run, source_id):
    names = {run.names.get(source_id), _variable_name(run, source_id)}
    return {n for n in names if n}


def _mentions(statement, names):
    if statement is None or not names:
        return False
    text = ast.unparse(statement)
    return any(re.search(r"(?<![\w.])" + re.escape(name) + r"(?!\w)", text) for name in names)


def calls_function(location, function):
    """Does the user's statement at ``location`` call ``function`` (``tf.norm(...)``, ``model.predict(...)``)?"""
    statement = statement_at(location.file, location.line) if location is not None else None
    if statement is None:
        return False
    return any(isinstance(node, ast.Call) and function == (node.func.attr if isinstance(node.func, ast.Attribute)
                                                          else getattr(node.func, "id", None))
               for node in ast.walk(statement))


def _control_statement(location):
    """The ``if``/``while`` whose test is on ``location``'s line, or None."""
    if location is None:
        return None
    statement = statement_at(location.file, location.line)
    if isinstance(statement, (ast.If, ast.While)) and statement.test.lineno <= location.line <= \
            (statement.test.end_lineno or statement.test.lineno):
        return statement
    return None


def _assigns(location):
    """Is the statement on ``location``'s line an assignment (its value goes somewhere)?"""
    if location is None:
        return True  # no source to read: do not throw the evidence away
    statement = statement_at(location.file, location.line)
    return isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return)) or statement is None


def _rebuilt_from_numpy(run, tensor_id, target_id, cone_ops):
    """Is the target, or a constant it was computed from, made after ``tensor_id`` left the tape?"""
    produced = {o for op in cone_ops for o in op.outputs}
    leaves = {i for op in cone_ops for i in op.inputs} - produced
    if target_id not in produced:
        leaves.add(target_id)
    if target_id in leaves:  # the target itself first: the strongest evidence
        leaves = [target_id] + sorted(leaves - {target_id})
    for leaf in leaves:
        info = run.tensors.get(leaf)
        if info is not None and info.kind == "constant" and info.read_of is None and leaf > tensor_id:
            return leaf
    return None


COPY_LOOKBACK = 64  # seqs before a variable's creation in which the value it copies was read


def _copied_into_variable(c):
    """The target uses a variable made, while this tape recorded, from the source's value: ``tf.Variable(w)``
    inside the forward pass copies ``w`` (and makes a new variable at every step)."""
    run = c.run
    leaves = {i for op in c.cone for i in op.inputs}
    variables = {i for i in leaves if i in run.tensors and run.tensors[i].kind == "variable"}
    variables |= {run.tensors[i].read_of for i in leaves if i in run.tensors and run.tensors[i].read_of}
    variables.discard(c.source_id)
    if not variables:
        return None
    for event in events_between(run, c.low, c.high):
        if event.kind != "variable created" or event.tensor not in variables or event.location is None:
            continue
        nearby = ops_between(run, event.seq - COPY_LOOKBACK, event.seq)
        ahead = _forward(nearby, c.aliases)
        here = (event.location.file, event.location.line)
        reads = [op for op in nearby if _where(op.location) == here and any(i in ahead for i in op.inputs)]
        conversions = [e for e in events_between(run, event.seq - COPY_LOOKBACK, event.seq)
                       if e.kind in CONVERSIONS and e.tensor in ahead and _where(e.location) == here]
        if not reads and not conversions:
            continue
        copy = describe(run, event.tensor)
        return Explanation(
            "SOURCE_COPIED", f"{c.tgt} does not use {c.src} but {copy}, a new variable made from its value at line "
            f"{event.location.line}. A variable made from another one copies its value: nothing links the "
            "copy back, so the gradient with respect to the original is None.",
            f"Use {c.src} itself in the forward pass instead of wrapping it in a new tapeviz.Variable(...); create "
            "variables once, outside the training step (in __init__ or build).",
            [_evidence(f"{copy} made from {c.src}", tensor=event.tensor, location=event.location)]
            + [_evidence(f"{op.type} read {c.src} for the copy", op) for op in reads[:1]])
    return None


def _where(location):
    return None if location is None else (location.file, location.line)


def _metric_state(c):
    """The source reached a Keras metric's update_state and the target uses that metric's result(): the
    value went into the metric's variables (assign_add) and came back as their reading."""
    run = c.run
    events = events_between(run, c.low, c.high)
    leaves = {i for op in c.cone for i in op.inputs} | {c.target_id}
    results = [e for e in events if e.kind == "metric result" and e.tensor in leaves]
    if not results:
        return None
    ahead = _forward(c.window, c.aliases)
    updates = [e for e in events if e.kind == "metric update" and e.tensor in ahead and e.seq < results[-1].seq]
    if not updates:
        return None
    update, result = updates[-1], results[-1]
    return Explanation(
        "STATEFUL_UPDATE", f"{c.tgt} is computed from a Keras metric's result() (line {_line(result)}), and "
        f"{c.src} reaches that metric only through update_state (line {_line(update)}), which adds to the "
        "metric's variables (assign_add) and reads them back: a stateful update passes no gradient.",
        "Compute the loss from the model's outputs with a loss function or tapeviz ops (for example "
        "tapeviz.keras.losses.BinaryCrossentropy()(y, y_pred)); keep metrics for reporting progress (an "
        "accuracy counts matches: it has no gradient even written as ops).",
        [_evidence(f"{describe(run, update.tensor)} went into the metric's update_state", tensor=update.tensor,
                   location=update.location),
         _evidence("the metric's result() read back", tensor=result.tensor, location=result.location)])


def _line(event):
    return event.location.line if event.location is not None else "?"


def _no_path(c, never_read=False):
    metric = _metric_state(c)
    if metric is not None:
        return metric
    run, tape, src, tgt = c.run, c.tape, c.src, c.tgt
    events = [e for e in events_between(run, c.low, c.high) if e.tape == tape.id]
    ahead = _forward(c.window, c.aliases)
    names = _source_names(run, c.source_id)
    target_info = run.tensors.get(c.target_id)
    target_made = run.ops[target_info.producer].seq if target_info and target_info.producer in run.ops else c.high
    conversions, branches = [], []
    for event in events:
        if event.kind in CONVERSIONS and event.tensor in ahead:
            control = _control_statement(event.location)
            if control is not None:
                if _mentions(control, names) and event.seq < target_made:
                    conversions.append(event)
                continue
            rebuilt = _rebuilt_from_numpy(run, event.tensor, c.target_id, c.cone)
            # A value that left through numpy counts only if something was rebuilt from it: the target
            # itself, or a constant the target used, made by an assignment (a logging line is not one).
            if rebuilt == c.target_id or (rebuilt is not None and _assigns(event.location)):
                conversions.append(event)
        elif event.kind == "bool" and event.seq < target_made and _mentions(_control_statement(event.location), names):
            branches.append(event)
    zero_hint = "" if c.zeros_asked else \
        " If it is unused on purpose, unconnected_gradients=tapeviz.UnconnectedGradients.ZERO gives zeros instead."
    if conversions:
        kinds = sorted({e.kind for e in conversions})
        constant = target_info is not None and target_info.kind == "constant" and target_info.producer is None
        sentence = (f"The target, {tgt}, is a constant made from a Python/numpy value: a value computed from {src} "
                    f"left the tape through {', '.join(kinds)} and came back as a new tensor the tape cannot link to "
                    f"{src}." if constant else
                    f"No recorded op joins {src} to {tgt}. A value computed from the source left the tape as a "
                    f"Python/numpy value ({', '.join(kinds)}): the tape cannot follow it, whether it steered an "
                    "`if` or came back as a constant.")
        predict = next((e for e in conversions if calls_function(e.location, "predict")), None)
        if predict is not None:  # Keras' predict returns numpy: the most common way out of the tape
            sentence += f" model.predict (line {predict.location.line}) returns a numpy array."
        return Explanation(
            "NO_PATH_LEFT_TAPE", sentence,
            ("Call the model itself, model(x, training=True), instead of model.predict(x) inside the tape. "
             if predict is not None else "")
            + "Keep the computation in tapeviz ops (tapeviz.where instead of `if` on a tensor, tapeviz ops instead "
            "of numpy, no .numpy() or float() between the model and the loss).",
            [_evidence(f"{describe(run, e.tensor)} became a {e.kind} value", tensor=e.tensor, location=e.location)
             for e in conversions[:3]])
    if branches:
        return Explanation(
            "NO_PATH", f"No recorded op joins {src} to {tgt}: Python control flow chose a branch that does not "
            "use it.",
            "Check that the source is used on the branch that runs; a gradient through a branch not taken is None."
            + zero_hint,
            [_evidence(f"Python branch on {describe(run, e.tensor)}", tensor=e.tensor, location=e.location)
             for e in branches[:3]])
    copied = _copied_into_variable(c)
    if copied is not None:
        return copied
    made = [_evidence(f"{tgt} computed here", run.ops[target_info.producer])] \
        if target_info is not None and target_info.producer in run.ops else []
    call = _call_at(run, c.before_seq) if c.before_seq is not None else None
    asked = [_evidence(f"the gradient call asks for {src}", tensor=c.source_id, location=call.location)] \
        if call is not None else []
    return Explanation(
        "SOURCE_UNUSED", f"{tgt} does not use {src}: no op that ran takes it, or anything computed from it, on "
        "the way to the target" + (" (it was never read while the tape recorded)" if never_read else "") + ".",
        f"Use {src} in the forward pass (a layer left out of the model's call, or another model or a copy run "
        "instead?), or leave it out of the sources."
        + zero_hint,
        made + asked)
