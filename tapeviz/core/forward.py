"""Forward mode: ``ForwardAccumulator`` computes Jacobian-vector products as ops run, as TF's does.

While an accumulator is active, every op that reads a tensor with a tangent gets the tangent of
its outputs at once: from the op type's forward rule (``register.forward`` in a plugin), or, where
none is registered, from its reverse rule by the double-backward trick (the reverse rule is linear
in its upstream gradient u, so differentiating <rule(u), tangents> by u gives J times the tangents).
Every op with a gradient rule therefore works in forward mode.

The ops that compute tangents are ordinary ops: tapes and accumulators opened before this one
record them, which is how ``ForwardAccumulator`` around ``GradientTape`` gives Hessian-vector
products and accumulators nest. An accumulator sits in the thread's list of recording tapes and
receives the recorded entries there, so the per-op path of ``execute`` is the same for both.

Observers (the run recorder) are told of an accumulator's life: created with its primals and tangents,
entered and exited, the tangents each op pushed, each ``jvp`` call and its results. With none
installed, each of those costs one empty-list test. With observers, an op's tangents are computed
just after the observers are told of the op (``execute.record`` calls ``push_due_tangents``), so
they see each op before the ops that computed its tangents, in the order a backward pass needs.
"""
import numpy as np

from . import nest, registry
from .backward import backward
from .batching import leading_batch_dims
from .context import notify, observers, state
from .dtypes import FLOATING_NUMPY
from .execute import Operation
from .tape import UnconnectedGradients, _unconnected_option
from .tensor import Tensor, Variable, convert_to_tensor


class ForwardAccumulator:
    """``with ForwardAccumulator(primals, tangents) as acc: y = f(x)``, then ``acc.jvp(y)``."""

    # Read by code that walks the recording tapes (variable reads, the run recorder).
    _watch_accessed_variables = False
    _persistent = True

    def __init__(self, primals, tangents):
        flat_primals, flat_tangents = nest.flatten(primals), nest.flatten(tangents)
        if len(flat_primals) != len(flat_tangents):
            raise ValueError(f"The two structures don't have the same nested structure: {len(flat_primals)} "
                             f"primals and {len(flat_tangents)} tangents. Pass one tangent per primal.")
        self._ids = set()
        self._tangents = {}   # tensor id -> tangent Tensor
        self._ops = _TangentPropagator(self)
        self._recording = False
        for primal, tangent in zip(flat_primals, flat_tangents):
            if not isinstance(primal, (Tensor, Variable)):
                raise TypeError(f"ForwardAccumulator's primals must be Tensors or Variables, got "
                                f"{type(primal).__name__}: {primal!r}. Convert it first with tapeviz.constant.")
            value = primal._snapshot._value if isinstance(primal, Variable) else primal._value
            tangent = convert_to_tensor(tangent, dtype=primal.dtype)
            if tangent._value.shape != value.shape:
                raise ValueError(f"A tangent must have its primal's shape: primal {list(value.shape)}, tangent "
                                 f"{list(tangent._value.shape)}.")
            if value.dtype in FLOATING_NUMPY:
                self._ids.add(primal._id)
                self._tangents[primal._id] = tangent
        if observers:
            notify("accumulator_created", self, flat_primals)

    def __enter__(self):
        if self._recording:
            raise ValueError("Accumulator is already recording.")
        registry.ensure_loaded()
        state.tapes.append(self)
        self._recording = True
        if observers:
            notify("accumulator_entered", self)
        return self

    def __exit__(self, *exc_info):
        if self in state.tapes:
            state.tapes.remove(self)
        self._recording = False
        if observers:
            notify("accumulator_exited", self)

    def _watch_variable(self, variable):
        pass  # an accumulator watches its primals only

    def jvp(self, primals, unconnected_gradients="none"):
        """The tangent of each tensor in ``primals`` (same structure): None where it has none, or zeros
        with ``unconnected_gradients=tapeviz.UnconnectedGradients.ZERO``."""
        unconnected = _unconnected_option(unconnected_gradients)
        if state.tangents_due:
            push_due_tangents(None)
        items = nest.flatten(primals)
        results = []
        for item in items:
            if not isinstance(item, (Tensor, Variable)):
                raise TypeError(f"jvp takes Tensors or Variables, got {type(item).__name__}: {item!r}.")
            tangent = self._tangents.get(item._id)
            if tangent is None and unconnected is UnconnectedGradients.ZERO:
                value = item._snapshot._value if isinstance(item, Variable) else item._value
                tangent = Tensor(np.zeros_like(value))
            results.append(tangent)
        if observers:
            # connected: whether each result is a tangent the accumulator computed (not None, not zeros filled in)
            notify("jvp_computed", self, items, results, [item._id in self._tangents for item in items],
                   unconnected.name)
        return nest.pack_sequence_as(primals, results)


class _TangentPropagator:
    """The accumulator's stand-in for a tape's list of entries: each recorded entry gets its tangents now."""

    __slots__ = ("_accumulator",)

    def __init__(self, accumulator):
        self._accumulator = accumulator

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())

    def append(self, entry):
        due = state.tangents_due
        if due and due[-1][1] is not entry:
            push_due_tangents(None)   # left by an op whose observers raised: they are due before this one
        tangents = self._accumulator._tangents
        if all(tangents.get(i) is None for i in entry[1]):
            return
        if observers:
            due.append((self, entry))   # pushed by execute.record once the observers have seen the op
            return
        self.push(entry)

    def push(self, entry):
        """Compute the tangents of the op's outputs, with the ops that do it seen by what was opened before."""
        accumulator = self._accumulator
        tangents = accumulator._tangents
        in_tangents = [tangents.get(i) for i in entry[1]]
        observed = bool(observers)
        if observed:
            notify("tangents_started", accumulator, entry[3])
        recording, hidden = state.tapes, state.tangent_ops_hidden
        # Only what was opened before this accumulator sees the tangent ops (TF's nesting order), and
        # observers see only those a tape or accumulator records (the rest are most of the run's ops).
        state.tapes = recording[:recording.index(accumulator)] if accumulator in recording else list(recording)
        state.tangent_ops_hidden = True
        out_tangents = ()
        try:
            with leading_batch_dims(0):  # tangents of an op run inside a vectorized pass are ordinary tensors
                out_tangents = op_tangents(entry, in_tangents)
        finally:
            state.tapes, state.tangent_ops_hidden = recording, hidden
            if observed:  # also when a rule raised: an observer waiting for the end must hear of it
                notify("tangents_pushed", accumulator, entry[3], out_tangents)
        for out_id, tangent in zip(entry[3], out_tangents):
            if tangent is not None:
                tangents[out_id] = tangent


def push_due_tangents(entry):
    """Compute the tangents deferred for ``entry`` (all that are due, for None), in the order they were due.

    Only the items at the end of the list belong to the op being recorded: those of an outer op were taken
    off before its tangent ops ran, so nested accumulators push in the order they would without observers.
    """
    due = state.tangents_due
    mine = []
    while due and (entry is None or due[-1][1] is entry):
        mine.append(due.pop())
    for propagator, item in reversed(mine):
        propagator.push(item)


def op_tangents(entry, in_tangents):
    """The tangents of an op's outputs given its inputs' (None: no tangent), from its forward rule or its
    reverse rule."""
    op_type, out_values, grad_fn = entry[0], entry[4], entry[6]
    op = Operation(entry)
    if grad_fn is None:
        forward_rule = registry.forward_rules.get(op_type)
        if forward_rule is not None:
            result = forward_rule(op, *in_tangents)
            return list(result) if isinstance(result, (list, tuple)) else [result]
        if op_type in registry.not_differentiable:
            return [None] * len(out_values)
    rule = grad_fn or registry.gradient_functions.get(op_type)
    if rule is None:
        raise registry.missing_rule_error(op_type)
    return jvp_from_reverse(op, rule, in_tangents, out_values)


def jvp_from_reverse(op, rule, in_tangents, out_values):
    """J @ tangents from the reverse rule: d/du <rule(op, u), tangents> (rule is linear in u)."""
    # u = ones, not zeros: a rule may select on its upstream gradient (0 where it is 0). An integer
    # output (TopKV2's indices) has no tangent: its upstream gradient is the zeros a backward pass
    # gives it, untracked, so the floating outputs beside it still get theirs.
    upstream = [Tensor(np.ones_like(v)) if v.dtype in FLOATING_NUMPY else Tensor(np.zeros_like(v))
                for v in out_values]
    cotangents = [u for u, v in zip(upstream, out_values) if v.dtype in FLOATING_NUMPY]
    if not cotangents:
        return [None] * len(out_values)
    helper = _HelperTape([u._id for u in cotangents])
    state.tapes.append(helper)
    try:
        in_grads = rule(op, *upstream)
    finally:
        state.tapes.remove(helper)
    if type(in_grads) is not tuple and type(in_grads) is not list:
        in_grads = (in_grads,)
    pairs = [(g, t) for g, t in zip(in_grads, in_tangents) if g is not None and t is not None]
    if not pairs:
        return [None] * len(out_values)
    source_ids = {u._id for u in cotangents}
    grads = backward(helper._ops, [g for g, _ in pairs], [convert_to_tensor(t, dtype=g.dtype) for g, t in pairs],
                     source_ids)
    return [grads.get(u._id) if v.dtype in FLOATING_NUMPY else None for u, v in zip(upstream, out_values)]


class _HelperTape:
    """The tape of the double-backward trick: it records the reverse rule's ops on the cotangents.

    Not a GradientTape, so the run recorder lists no tape or gradient call the user never made.
    """

    __slots__ = ("_ids", "_ops")
    _watch_accessed_variables = False
    _persistent = False

    def __init__(self, ids):
        self._ids = set(ids)
        self._ops = []

    def _watch_variable(self, variable):
        pass
