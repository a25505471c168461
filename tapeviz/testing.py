"""Finite-difference checks of gradient rules, for tapeviz's own tests and for plugin authors.

Each registered rule carries ``CheckCase``s (how to run its op, and where). A check compares the
rule's first derivatives, and its second derivatives through nested tapes, with central
differences in float64 along random directions (as HIPS autograd's ``check_grads`` does). A rule
registered ``batched=True`` is also checked in a vectorized pass: its jacobian, computed with one
batched call, must equal the one computed row by row; one with a ``diagonal`` rule must give
``batch_jacobian``'s diagonal gradients the numbers its rule gives them dense. Forward mode is checked too: the JVP a
``ForwardAccumulator`` computes (from the op's forward rule, and also from its gradient rule where
a forward rule exists) against central differences along the tangent::

    from tapeviz.testing import check_gradients
    assert all(r.passed for r in check_gradients(plugin="my_plugin"))
"""
from dataclasses import dataclass

import numpy as np

from tapeviz.core import execute, registry
from tapeviz.core.backward import backward_batched
from tapeviz.core.batching import DiagonalGradient
from tapeviz.core.forward import ForwardAccumulator
from tapeviz.core.tape import GradientTape
from tapeviz.core.tensor import Tensor

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-6


@dataclass
class CheckResult:
    op_type: str
    plugin: str
    case: str
    order: int
    passed: bool
    detail: str = ""

    def __str__(self):
        status = "ok  " if self.passed else "FAIL"
        return f"{status} {self.op_type} [{self.case}] order {self.order}" + (f": {self.detail}" if self.detail else "")


def registered_rules(plugin=None, op_types=None):
    """The gradient Registrations to check, optionally only one plugin's or some op types."""
    registry.ensure_loaded()
    regs = [r for r in registry.registrations.values() if r.kind == "gradient"]
    if plugin is not None:
        regs = [r for r in regs if r.plugin == plugin]
    if op_types is not None:
        wanted = set(op_types)
        regs = [r for r in regs if r.op_type in wanted]
    return sorted(regs, key=lambda r: r.op_type)


def check_gradients(op_types=None, plugin=None, order=2, seed=0):
    """Check the registered rules (all, one plugin's, or some op types); one CheckResult per case and order.

    Values a rule promised not to read (``needs_inputs=False`` / ``needs_outputs=False``) are
    replaced by zero stand-ins however small they are, so a broken promise fails the check.
    """
    saved = execute.STAND_IN_MIN_BYTES
    execute.STAND_IN_MIN_BYTES = 0
    try:
        return _check_all(op_types, plugin, order, seed)
    finally:
        execute.STAND_IN_MIN_BYTES = saved


def _check_all(op_types, plugin, order, seed):
    results = []
    for reg in registered_rules(plugin, op_types):
        if not reg.checks:
            results.append(CheckResult(reg.op_type, reg.plugin, "-", 1, False,
                                       "no CheckCase registered: pass checks=[CheckCase(...)] with the rule"))
            continue
        for number, case in enumerate(reg.checks):
            name = case.name or f"case {number}"
            for result_order in range(1, (order if case.second_order else 1) + 1):
                results.append(_result(reg, name, result_order, _check_case, case, result_order, seed + number))
            for derived in ((False, True) if reg.op_type in registry.forward_rules else (False,)):
                label = ", forward mode" + (" from the gradient rule" if derived else "")
                results.append(_result(reg, name + label, 1, _check_jvp, case, seed + number, derived))
            if reg.batched:
                results.append(_result(reg, name + ", vectorized", 1, _check_vectorized, case))
            if reg.diagonal is not None:
                results.append(_result(reg, name + ", diagonal", 1, _check_diagonal, case))
    return results


def _result(reg, name, order, check, *args):
    """The CheckResult of ``check(reg.op_type, *args)``, which returns "" or what differs."""
    try:
        detail = check(reg.op_type, *args)
    except Exception as error:  # a crashing rule is a failed check, not a crashed checker
        detail = f"raised {type(error).__name__}: {error}"
    return CheckResult(reg.op_type, reg.plugin, name, order, detail == "", detail)


def _check_jvp(op_type, case, seed, derived):
    """"" if the JVP of the case's outputs along a random tangent matches central differences.

    ``derived`` hides the op type's forward rule, so the JVP comes from its gradient rule.
    """
    missing = _probe(op_type, case)[1]
    if missing:
        return missing
    rng = np.random.default_rng(seed + 104729)
    arrays = [np.array(a) for a in case.inputs]
    floating = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    tangents = {i: rng.standard_normal(arrays[i].shape) for i in floating}
    hidden = registry.forward_rules.pop(op_type) if derived else None
    try:
        xs = _tensors(arrays)
        with ForwardAccumulator([xs[i] for i in floating], [Tensor(tangents[i]) for i in floating]) as acc:
            outputs = _outputs(case.fn(*xs))
        jvps = acc.jvp(outputs)
    finally:
        if hidden is not None:
            registry.forward_rules[op_type] = hidden
    weights = [rng.standard_normal(np.shape(o._value)) for o in outputs]

    def value(t):
        moved = [a + t * tangents[i] if i in tangents else a for i, a in enumerate(arrays)]
        return sum(float(np.sum(np.asarray(o._value, np.float64) * w))
                   for o, w in zip(_outputs(case.fn(*_tensors(moved))), weights))

    for k, (output, jvp) in enumerate(zip(outputs, jvps)):
        if jvp is not None and np.shape(jvp._value) != np.shape(output._value):
            return f"JVP of output {k} has shape {np.shape(jvp._value)}, the output has {np.shape(output._value)}"
    numeric = (value(EPS) - value(-EPS)) / (2 * EPS)
    exact = sum(float(np.sum(np.asarray(j._value, np.float64) * w)) for j, w in zip(jvps, weights) if j is not None)
    if not np.isclose(exact, numeric, rtol=RTOL, atol=ATOL):
        return f"JVP {exact:.9g} ({'gradient' if derived else 'forward'} rule) vs {numeric:.9g} (finite differences)"
    return ""


def _check_vectorized(op_type, case):
    """"" if the jacobians of the case's outputs are the same vectorized (batched=True) and row by row."""
    missing = _probe(op_type, case)[1]
    if missing:
        return missing
    xs = _tensors(case.inputs)
    floating = [x for x in xs if x._value.dtype.kind == "f"]
    with GradientTape(persistent=True) as tape:
        tape.watch(floating)
        outputs = [o for o in _outputs(case.fn(*xs)) if o._value.dtype.kind == "f"]
    for k, output in enumerate(outputs):
        vectorized = tape.jacobian(output, floating, unconnected_gradients="zero")
        by_row = tape.jacobian(output, floating, unconnected_gradients="zero", experimental_use_pfor=False)
        for i, (v, r) in enumerate(zip(vectorized, by_row)):
            if not np.allclose(v._value, r._value, rtol=1e-12, atol=1e-12):
                return (f"vectorized jacobian of output {k} by input {i} differs from the row-by-row one by "
                        f"{np.max(np.abs(v._value - r._value)):.3g}: the rule does not handle a leading batch "
                        "dimension (tapeviz.core.batching.batch_dims()) as it declares with batched=True")
    return ""


def _check_diagonal(op_type, case):
    """"" if the rule's diagonal rule gives the batched gradients its rule gives for the same gradients dense.

    Seeds each output (rank 1 or more) with a random DiagonalGradient, all of its rows and then a
    later part of them (a ``parallel_iterations`` pass), as ``batch_jacobian`` does.
    """
    missing = _probe(op_type, case)[1]
    if missing:
        return missing
    rng = np.random.default_rng(104723)
    xs = _tensors(case.inputs)
    floating = [x for x in xs if x._value.dtype.kind == "f"]
    with GradientTape(persistent=True) as tape:
        tape.watch(floating)
        outputs = [o for o in _outputs(case.fn(*xs)) if o._value.dtype.kind == "f" and o._value.ndim >= 1]
    source_ids = {x._id for x in floating}
    for k, output in enumerate(outputs):
        shape = output._value.shape
        positions = int(np.prod(shape[1:], dtype=np.int64))
        for start in sorted({0, positions // 2}):
            seed = DiagonalGradient(Tensor(rng.standard_normal(shape).astype(output._value.dtype)), start, positions)
            structured = backward_batched(tape._ops, [output], [seed], source_ids)
            dense = backward_batched(tape._ops, [output], [seed.dense()], source_ids)
            for i, x in enumerate(floating):
                got, want = structured.get(x._id), dense.get(x._id)
                if (got is None) != (want is None) or got is not None and (
                        got._value.shape != want._value.shape
                        or not np.allclose(got._value, want._value, rtol=1e-12, atol=1e-12)):
                    return (f"rows {start}-{positions} of a diagonal gradient of output {k}: the diagonal rule's "
                            f"gradient of input {i} differs from the rule's on the dense gradient "
                            f"({'None' if got is None else list(got._value.shape)} vs "
                            f"{'None' if want is None else list(want._value.shape)})")
    return ""


def _tensors(arrays):
    return [Tensor(np.array(a)) for a in arrays]


def _outputs(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _forward_mismatch(op_type, operations):
    """"" if every ``op_type`` op the case ran computed what the installed forward computes.

    A plugin may replace an op type's forward (``register.op(..., override=True)``): the rule is
    then checked against that forward, not against another implementation the case happens to call.
    """
    forward = registry.forward_functions.get(op_type)
    if forward is None:
        return ""
    for op in operations:
        if op.type != op_type:
            continue
        expected = forward(*[t._value for t in op.inputs], **op.attrs)
        expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
        for got, want in zip(op.outputs, expected):
            if np.shape(got._value) != np.shape(want) or not np.allclose(got._value, want, rtol=1e-6, atol=1e-9,
                                                                         equal_nan=True):
                return (f"the case computes {op_type} with another forward than the one installed "
                        f"({registry.op_definitions[op_type].describe()}), so the rule would be checked against "
                        f"the wrong function; run the op as tapeviz.raw_ops.{op_type} in the check case")
    return ""


def _probe(op_type, case):
    """The case's outputs, and "" if it runs an op of ``op_type`` through the installed forward (else a
    sentence saying what is wrong)."""
    arrays = [np.array(a) for a in case.inputs]
    xs = _tensors(arrays)
    saved, execute.STAND_IN_MIN_BYTES = execute.STAND_IN_MIN_BYTES, float("inf")  # the probe keeps real values
    try:
        with GradientTape() as probe:
            probe.watch([x for x in xs if x._value.dtype.kind == "f"])
            outputs = _outputs(case.fn(*xs))
    finally:
        execute.STAND_IN_MIN_BYTES = saved
    if op_type not in {op.type for op in probe._operations()}:
        return outputs, f"the check case never runs an op of type {op_type}"
    return outputs, _forward_mismatch(op_type, probe._operations())


def _check_case(op_type, case, order, seed):
    """"" if the rule's derivatives of the given order match central differences, else what differs.

    Order 1 checks d/dt sum(fn(x + t*u) * w); order 2 checks d/dt <grad(x + t*u), v>, where the
    gradient is the rule's own. Seeds go in as ``output_gradients``, so no other rule is involved.
    """
    rng = np.random.default_rng(seed)
    arrays = [np.array(a) for a in case.inputs]
    floating = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    fn = case.fn

    def first(a, outer=None):
        xs = _tensors(a)
        for i in floating:
            if outer is not None:
                outer.watch(xs[i])
        with GradientTape() as tape:
            tape.watch([xs[i] for i in floating])
            outputs = _outputs(fn(*xs))
        weights = [Tensor(w.astype(o._value.dtype)) for o, w in zip(outputs, output_weights)]
        grads = tape.gradient(outputs, [xs[i] for i in floating], output_gradients=weights)
        return xs, tape, grads

    probe_outputs, missing = _probe(op_type, case)
    if missing:
        return missing
    output_weights = [rng.standard_normal(np.shape(o._value)) for o in probe_outputs]
    v = [rng.standard_normal(arrays[i].shape) for i in floating]

    if order == 1:
        def value(a):
            return sum(float(np.sum(np.asarray(o._value, np.float64) * w))
                       for o, w in zip(_outputs(fn(*_tensors(a))), output_weights))

        grads = first(arrays)[2]
    else:
        def value(a):
            return sum(float(np.sum(np.asarray(g._value, np.float64) * vi))
                       for g, vi in zip(first(a)[2], v) if g is not None)

        with GradientTape() as outer:
            xs, _, inner = first(arrays, outer)
        pairs = [(g, Tensor(vi.astype(g._value.dtype))) for g, vi in zip(inner, v) if g is not None]
        if pairs:
            grads = outer.gradient([g for g, _ in pairs], [xs[i] for i in floating],
                                   output_gradients=[s for _, s in pairs])
        else:
            grads = [None] * len(floating)

    for i, g in zip(floating, grads):
        if g is not None and np.shape(g._value) != arrays[i].shape:
            return f"gradient of input {i} has shape {np.shape(g._value)}, input has {arrays[i].shape}"
    for _ in range(2):
        direction = {i: rng.standard_normal(arrays[i].shape) for i in floating}
        moved = [[a + t * direction[i] if i in direction else a for i, a in enumerate(arrays)] for t in (EPS, -EPS)]
        numeric = (value(moved[0]) - value(moved[1])) / (2 * EPS)
        exact = sum(float(np.sum(np.asarray(g._value, np.float64) * direction[i]))
                    for i, g in zip(floating, grads) if g is not None)
        if not np.isclose(exact, numeric, rtol=RTOL, atol=ATOL):
            return f"directional derivative {exact:.9g} (rule) vs {numeric:.9g} (finite differences)"
    return ""
