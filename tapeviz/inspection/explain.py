"""Why a gradient is None: one reason code, one plain sentence, the evidence and the fix.

A pure function of the inspection model, so it works alike on a live recorder, a loaded tape file,
the command line and the desktop inspector.
"""
from .model import Explanation

STATEFUL = ("assign", "assign_add", "assign_sub")
CONVERSIONS = ("numpy", "numpy array", "float", "int", "bool")


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
    return {"what": what, "op": op.id if op is not None else None, "tensor": tensor, "location": location}


def _forward(ops, start):
    """Tensor ids reachable from ``start`` through ``ops`` (in execution order)."""
    reach = set(start)
    for op in ops:
        if any(i in reach for i in op.inputs):
            reach.update(op.outputs)
    return reach


def _path_ops(ops, source_id, target_id):
    """The ops on some path from source to target, in execution order."""
    ahead = _forward(ops, [source_id])
    behind = {target_id}
    on_path = []
    for op in reversed(ops):
        if any(o in behind for o in op.outputs):
            behind.update(op.inputs)
            if any(i in ahead for i in op.inputs):
                on_path.append(op)
    return list(reversed(on_path))


def _passes_gradient(run, op):
    if op.rule == "not differentiable" or op.type == "StopGradient":
        return False
    return all(run.tensors[o].floating for o in op.outputs if o in run.tensors)


def explain(run, tape_id, target_id, source_id, before_seq=None):
    """The Explanation of why d target / d source is None on this tape, or None if it is connected."""
    tape = run.tapes[tape_id]
    resets = [s for s in tape.resets if before_seq is None or s < before_seq]
    start = max(resets) if resets else -1
    all_ops = sorted((op for op in run.ops.values() if before_seq is None or op.seq < before_seq),
                     key=lambda op: op.seq)
    tape_ops = [op for op in all_ops if tape_id in op.tapes and op.seq > start]
    watched = run.watched(tape_id, before_seq)
    on_tape = set(watched) | {o for op in tape_ops for o in op.outputs}
    source, target = run.tensors.get(source_id), run.tensors.get(target_id)
    src, tgt = describe(run, source_id), describe(run, target_id)

    if source is not None and not source.floating:
        return Explanation(
            "SOURCE_NOT_FLOATING", f"The source, {src}, has dtype {source.dtype}; gradients exist only for "
            "floating-point tensors, so the tape never follows integer or bool values.",
            "Create it with a floating dtype (dtype=tapeviz.float32), or cast it with tapeviz.cast(x, "
            "tapeviz.float32) before the tape uses it.",
            [_evidence(f"{src} first used here", tensor=source_id, location=source.first_seen)])
    if target_id == source_id:
        return None  # d x / d x is ones, watched or not
    if source_id not in on_tape:
        never_read = source is not None and source.kind == "variable" and source.trainable is not False \
            and tape.watch_accessed_variables
        if never_read and target_id not in on_tape:  # the target's story explains more than "never read"
            found = _unrecorded_target(run, tape, target, target_id, tgt, start)
            if found is not None:
                return found
        if never_read:
            return _no_path(run, tape_id, all_ops, source_id, target_id, src, tgt, before_seq,
                            f"{src} was never read while the tape recorded")
        return _unwatched_source(run, tape, source, source_id, src, all_ops)
    if target_id != source_id and target_id not in on_tape:
        found = _unrecorded_target(run, tape, target, target_id, tgt, start)
        if found is not None:
            return found

    recorded_path = _path_ops(tape_ops, source_id, target_id)
    if recorded_path or target_id == source_id:
        live = _forward([op for op in tape_ops if _passes_gradient(run, op)], [source_id])
        if target_id in live:
            return None
        blockers = [op for op in recorded_path if not _passes_gradient(run, op)]
        return _not_differentiable(blockers, src, tgt)

    full_path = _path_ops(all_ops, source_id, target_id)
    if full_path:
        blockers = [op for op in full_path if op.rule == "not differentiable" or op.type == "StopGradient"]
        if blockers:
            return _not_differentiable(blockers, src, tgt)
        not_floating = [op for op in full_path if any(not run.tensors[o].floating for o in op.outputs)]
        if not_floating:
            op = not_floating[0]
            dtype = run.tensors[op.outputs[0]].dtype
            return Explanation(
                "PATH_NOT_FLOATING", f"The path from {src} to {tgt} turns {dtype} at {op.type}; the tape does not "
                "record ops on integer or bool values, so the gradient stops there.",
                f"Keep the computation in floating point (remove or change the {op.type}, or cast to a float "
                "dtype instead).", [_evidence(f"{op.type} gives {dtype}", op) for op in not_floating[:3]])
        paused = [op for op in full_path if tape_id in op.paused_tapes]
        if paused:
            return Explanation(
                "PATH_IN_STOP_RECORDING", f"Ops on the path from {src} to {tgt} ran inside tape.stop_recording(), "
                "so the tape did not record them.", "Move those ops out of the stop_recording() block.",
                [_evidence(op.type, op) for op in paused[:3]])
        outside = [op for op in full_path if tape_id not in op.recording_tapes]
        if outside:
            return Explanation(
                "PATH_OUTSIDE_CONTEXT", f"Ops on the path from {src} to {tgt} ran while this tape was not "
                "recording (outside its `with` block).", "Compute the whole path inside the tape's context.",
                [_evidence(op.type, op) for op in outside[:3]])

    stateful = _stateful_link(run, all_ops, source_id, target_id, before_seq)
    if stateful is not None:
        return stateful
    return _no_path(run, tape_id, all_ops, source_id, target_id, src, tgt, before_seq)


def _not_differentiable(blockers, src, tgt):
    return Explanation(
        "NOT_DIFFERENTIABLE", f"Every path from {src} to {tgt} crosses an op that passes no gradient: "
        + ", ".join(sorted({op.type for op in blockers})) + ".",
        "Use a differentiable formulation on the path (e.g. a smooth approximation instead of round/argmax/"
        "comparisons), remove the stop_gradient, or register a gradient for the op with RegisterGradient.",
        [_evidence(f"{op.type} passes no gradient", op) for op in blockers[:5]])


def _unwatched_source(run, tape, source, source_id, src, all_ops):
    where = [_evidence(f"{src} first used here", tensor=source_id, location=source.first_seen if source else None)]
    if source is not None and source.kind == "variable":
        if source.trainable is False:
            return Explanation(
                "SOURCE_NOT_TRAINABLE", f"{src} was created with trainable=False, and a tape watches only "
                "trainable variables on its own.",
                "Call tape.watch(x) inside the tape's context, or create the variable with trainable=True.", where)
        if not tape.watch_accessed_variables:
            return Explanation(
                "SOURCE_NOT_WATCHED", f"The tape was created with watch_accessed_variables=False, so reading {src} "
                "did not watch it.", "Call tape.watch(x) inside the tape's context.", where)
    if source is not None and source.kind == "intermediate" and source.producer in run.ops:
        producer = run.ops[source.producer]
        ancestors = _ancestors(all_ops, source_id)
        variables = [t for t in ancestors if t in run.tensors and run.tensors[t].kind == "variable"]
        if variables:
            name = describe(run, variables[0])
            return Explanation(
                "SOURCE_BECAME_TENSOR", f"The source is not {name} itself but a new tensor computed from it by "
                f"{producer.type} outside the tape (as `x = x + 1` does); tapes watch variables, not tensors "
                "computed from them, unless told to.",
                "Update the variable in place with x.assign_add(...) / x.assign(...), or call tape.watch(x) on "
                "the tensor inside the tape's context.",
                [_evidence(f"{producer.type} turned {name} into a tensor", producer)])
        return Explanation(
            "SOURCE_NOT_WATCHED", f"The source, {src}, was computed outside the tape and never watched.",
            "Call tape.watch(x) inside the tape's context, or compute it inside the context from a watched value.",
            [_evidence(f"{producer.type} computed it", producer)])
    return Explanation(
        "SOURCE_NOT_WATCHED", f"The source, {src}, is a constant: tapes watch tensors only when told to.",
        "Call tape.watch(x) inside the tape's context, or make it a tapeviz.Variable.", where)


def _unrecorded_target(run, tape, target, target_id, tgt, start):
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
        if others:
            names = ", ".join(t.label for t in others)
            return Explanation(
                "TARGET_OTHER_TAPE", f"The target, {tgt}, was recorded on another tape ({names}), not on this one.",
                "Ask the tape that recorded it: call gradient on that tape.", [_evidence(op.type, op)])
        return Explanation(
            "TARGET_OUTSIDE_CONTEXT", f"The target, {tgt}, was computed outside this tape's `with` block, "
            "so the tape did not record it.", "Compute the target inside the tape's context.",
            [_evidence(op.type, op)])
    return None


def _ancestors(ops, tensor_id):
    behind = {tensor_id}
    for op in reversed(ops):
        if any(o in behind for o in op.outputs):
            behind.update(op.inputs)
    return behind


def _stateful_link(run, ops, source_id, target_id, before_seq):
    """Does the source reach the target only through a variable assignment?"""
    ahead = _forward(ops, [source_id])
    assigns = [e for e in run.events if e.kind in STATEFUL and e.detail and int(e.detail) in ahead
               and (before_seq is None or e.seq < before_seq)]
    for event in assigns:
        later = [op for op in ops if op.seq > event.seq]
        if target_id in _forward(later, [event.tensor]):
            name = describe(run, event.tensor)
            return Explanation(
                "STATEFUL_UPDATE", f"The source reaches the target only through {event.kind} on {name}; a stateful "
                "update passes no gradient.",
                "Compute the target from the value directly (e.g. y = v + delta) instead of assigning it to a "
                "variable and reading it back.", [_evidence(f"{event.kind} on {name}", location=event.location)])
    return None


def _no_path(run, tape_id, ops, source_id, target_id, src, tgt, before_seq, what=None):
    ahead = _forward(ops, [source_id])
    tape = run.tapes[tape_id]
    conversions = [e for e in run.events if e.kind in CONVERSIONS and e.tensor in ahead and e.tape == tape_id
                   and (before_seq is None or e.seq < before_seq)]
    if conversions:
        kinds = sorted({e.kind for e in conversions})
        return Explanation(
            "NO_PATH_LEFT_TAPE", f"No recorded op joins {src} to {tgt}. A value computed from the source left the "
            f"tape as a Python/numpy value ({', '.join(kinds)}): the tape cannot follow it, whether it steered "
            "an `if` or came back as a constant.",
            "Keep the computation in tapeviz ops (tapeviz.where instead of `if` on a tensor, tapeviz ops instead "
            "of numpy), or accept that the branch taken does not depend on the source.",
            [_evidence(f"{describe(run, e.tensor)} became a {e.kind} value", location=e.location)
             for e in conversions[:3]])
    branches = [e for e in run.events if e.kind == "bool" and e.tape == tape_id
                and (before_seq is None or e.seq < before_seq)]
    evidence = [_evidence(f"Python branch on {describe(run, e.tensor)}", location=e.location) for e in branches[:3]]
    what = what or f"No recorded op joins {src} to {tgt}: the code that ran computed the target without using the source"
    return Explanation(
        "NO_PATH", what + (" (Python control flow chose a branch that does not use it)." if branches else "."),
        "Check that the source is actually used on the path that runs; a gradient through a branch not taken "
        "is None (use unconnected_gradients=tapeviz.UnconnectedGradients.ZERO for zeros).",
        evidence or [_evidence(f"{tape.label} recorded {len(tape.ops)} ops", location=tape.location)])
