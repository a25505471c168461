"""The backward pass of one gradient call, replayed op by op from the recorded values.

A recorded run keeps each op's inputs and outputs (small values in full) but not the gradients
that flowed through it. ``replay_backward`` runs the same gradient rules again on the recorded
values, from the call's target back towards its sources, and keeps every gradient it passes: the
backward stepper walks these steps and the graph colours edges by their magnitude. Where a value
was not kept (too large) or a rule cannot run on recorded attributes, the replay stops there and
says so: the steps before stay valid. No Qt.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class BackwardStep:
    op: int                      # op id
    out_grads: list              # gradient arriving at each output (np.ndarray or None)
    in_grads: list               # gradient leaving through each input (np.ndarray or None)


@dataclass
class Replay:
    steps: list = field(default_factory=list)        # BackwardStep, in backward order
    grads: dict = field(default_factory=dict)        # tensor id -> total gradient (np.ndarray)
    stopped: str = ""                                # why the replay stopped early, if it did


def _value(run, tensor_id):
    info = run.tensors.get(tensor_id)
    return None if info is None or info.value is None else np.asarray(info.value)


def _attrs(attrs):
    """Recorded attributes as rules read them: lists back to tuples (shapes, axes)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in attrs.items()}


def replay_backward(run, call, target=None):
    """Replay the backward pass of ``call`` (for ``target``, default its first) on the recorded values."""
    from tapeviz.core import registry
    from tapeviz.core.execute import Operation
    from tapeviz.core.tensor import Tensor

    registry.ensure_loaded()
    target = call.targets[0] if target is None else target
    replay = Replay()
    seed = _value(run, target)
    if seed is None:
        replay.stopped = "the target's value was not kept (too large), so there is nothing to start from"
        return replay
    ops = [run.ops[i] for i in run.tapes[call.tape].ops if run.ops[i].seq < call.seq]
    # Only ops between the sources and the target carry gradient back.
    ahead = set(call.sources)
    relevant = []
    for op in ops:
        if any(i in ahead for i in op.inputs):
            relevant.append(op)
            ahead.update(op.outputs)
    grads = {target: np.ones_like(seed, dtype=np.float64 if seed.dtype.kind not in "fc" else seed.dtype)}
    for op in reversed(relevant):
        out_grads = [grads.get(o) for o in op.outputs]
        if all(g is None for g in out_grads):
            continue
        rule = registry.gradient_functions.get(op.type)
        if rule is None:
            if op.type in registry.not_differentiable or op.rule == "not differentiable":
                replay.steps.append(BackwardStep(op.id, out_grads, [None] * len(op.inputs)))
                continue
            replay.stopped = f"{op.type} (op {op.id}) has no gradient rule to replay"
            break
        in_values = [_value(run, i) for i in op.inputs]
        out_values = [_value(run, o) for o in op.outputs]
        if any(v is None for v in in_values + out_values):
            replay.stopped = f"the values around {op.type} (op {op.id}) were not kept (too large), so its gradient " \
                             "cannot be replayed"
            break
        entry = (op.type, list(op.inputs), in_values, list(op.outputs), out_values, _attrs(op.attrs), None)
        try:
            filled = [Tensor(np.zeros_like(v) if g is None else g) for g, v in zip(out_grads, out_values)]
            result = rule(Operation(entry, ahead), *filled)
        except Exception as error:  # noqa: BLE001 - a rule reading an attribute the recording simplified
            replay.stopped = f"the rule of {op.type} (op {op.id}) could not run on the recorded values: " \
                             f"{type(error).__name__}: {error}"
            break
        if not isinstance(result, (tuple, list)):
            result = (result,)
        in_grads = [None if g is None else np.asarray(g._value if isinstance(g, Tensor) else g) for g in result]
        replay.steps.append(BackwardStep(op.id, out_grads, in_grads))
        for tensor_id, g in zip(op.inputs, in_grads):
            if g is not None and tensor_id in ahead:
                grads[tensor_id] = g if tensor_id not in grads else grads[tensor_id] + g
    replay.grads = grads
    return replay


def magnitude(gradient):
    """A gradient's size for colouring: its largest absolute value (NaN/Inf count as infinite)."""
    if gradient is None or np.size(gradient) == 0:
        return None
    array = np.asarray(gradient, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        return float("inf")
    return float(np.max(np.abs(array)))
