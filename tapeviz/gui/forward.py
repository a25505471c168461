"""Forward mode in the inspector: an accumulator's graph, tangents beside values, jvp calls and their Nones.

Pure functions of the inspection model (no Qt widgets): what the graph, the tape list, the gradient
list and the inspector panel show about ``ForwardAccumulator`` runs. A graph's subject is a tape id
(an int) or ``accumulator_subject(id)``, so the graph view lays out either the same way.
"""
import html

from tapeviz.inspection.explain import _path_ops, describe
from tapeviz.inspection.model import jvp_reason

ACCUMULATOR = "accumulator"


def accumulator_subject(accumulator_id):
    """The graph subject of an accumulator: its ops, its primals drawn as watched."""
    return (ACCUMULATOR, accumulator_id)


def accumulator_of(subject):
    """The accumulator id of a graph subject, or None for a tape."""
    return subject[1] if isinstance(subject, tuple) and len(subject) == 2 and subject[0] == ACCUMULATOR else None


def subject_parts(run, subject):
    """(ops, watched {tensor id: how}, gradient calls) the graph of ``subject`` draws."""
    accumulator_id = accumulator_of(subject)
    if accumulator_id is None:
        return ([run.ops[i] for i in run.tapes[subject].ops], run.watched(subject),
                [c for c in run.calls if c.tape == subject])
    info = run.accumulators[accumulator_id]
    return [run.ops[i] for i in info.ops if i in run.ops], {t: "primal" for t in info.primals}, []


def tangents_for(run, subject=None):
    """tensor id -> [(accumulator id, Tangent)]: an accumulator's own tangents, or for a tape (or None)
    every accumulator's, so that forward over backward shows H v beside a tape's gradient ops."""
    accumulator_id = accumulator_of(subject)
    if accumulator_id is not None:
        return {tensor_id: [(accumulator_id, tangent)]
                for tensor_id, tangent in run.accumulators[accumulator_id].tangents.items()}
    # Every tape's graph asks: made once per run (a loop's hundreds of tapes would each scan every tangent).
    cached = run.__dict__.get("_tangents_by_tensor")
    if cached is None or cached[0] is not run.accumulators:
        found = {}
        for info in run.accumulators.values():
            for tensor_id, tangent in info.tangents.items():
                found.setdefault(tensor_id, []).append((info.id, tangent))
        cached = run.__dict__["_tangents_by_tensor"] = (run.accumulators, found)
    return cached[1]


def short_stats(summary):
    """The few characters a node shows under its box: "tangent 0..6" (min..max of the tangent)."""
    if not summary or "min" not in summary:
        return "tangent"
    low, high = summary["min"], summary["max"]
    return f"tangent {low:.3g}" if low == high else f"tangent {low:.3g}..{high:.3g}"


def tangent_lines(entries, value_text, several):
    """Hover lines for a tensor's tangents (``several``: the run has more than one accumulator)."""
    return [f"tangent{f' (accumulator {a})' if several else ''}: {value_text(t.summary) or 'no statistics'}"
            for a, t in entries]


def forward_path_keys(run, accumulator_id, target_id):
    """Node keys of an accumulator's graph on the way from its primals to ``target_id``."""
    info = run.accumulators[accumulator_id]
    ops = [run.ops[i] for i in info.ops if i in run.ops]
    on_path = _path_ops(ops, set(info.primals), target_id)
    keys = {f"op:{op.id}" for op in on_path}
    if on_path:
        keys |= {f"t:{p}" for p in info.primals if any(p in op.inputs for op in on_path)}
    return keys


def _summary_html(summary, value=None):
    from .panels import _value_html

    head = f"<i>{html.escape(summary['dtype'])}{summary['shape']}</i>" if summary.get("dtype") else ""
    return head + _value_html(value, summary)


def tangents_html(run, tensor_id):
    """The inspector's rows for a tensor's tangents, beside its value (empty when it has none)."""
    parts = []
    for accumulator_id, tangent in tangents_for(run).get(tensor_id, []):
        parts.append(f"<p><b>tangent</b> in accumulator {accumulator_id} "
                     f"<small>(tensor t{tangent.tangent})</small></p>" + _summary_html(tangent.summary, tangent.value))
    return "".join(parts)


def jvp_result_text(result):
    """The cell of a jvp result: its statistics, None, or the zeros of UnconnectedGradients.ZERO."""
    from .panels import _summary_text

    if result.is_none:
        return "None"
    return _summary_text(result.summary) + (" (unconnected: zeros)" if result.reason else "")


def jvp_html(run, call, result):
    """A jvp result: its tangent beside the target's value, or why it is None and what to do."""
    from .panels import _line_link, _summary_text

    target = html.escape(describe(run, result.target))
    where = f" ({_line_link(call.location, f'line {call.location.line}')})" if call.location else ""
    info = run.tensors.get(result.target)
    value = (f"<p><b>value</b> {html.escape(_summary_text(info.summary))}</p>" if info is not None else "")
    reason = jvp_reason(run, call, result)
    if reason is None:
        return (f"<p><b>jvp of {target}</b> in accumulator {call.accumulator}{where}</p>{value}"
                f"<p><b>tangent</b></p>" + _summary_html(result.summary, result.value))
    label = "None" if result.is_none else "zeros (unconnected_gradients='zero')"
    return (f"<p><b>jvp of {target} is {label}</b> <code>[{html.escape(result.reason)}]</code>{where}</p>"
            f"<p>{html.escape(reason[0])}</p>{value}<p><b>Fix:</b> {html.escape(reason[1])}</p>")


def accumulator_html(run, info):
    """The inspector's page for an accumulator: where it was made, its primals and their tangents."""
    from .panels import _code_around

    primals = "".join(f"<li>{html.escape(describe(run, p))}"
                      + (f": tangent {html.escape(_stats(info.tangents[p].summary))}" if p in info.tangents else
                         " (not floating: no tangent)") + "</li>" for p in info.primals)
    calls = [c for c in run.jvps if c.accumulator == info.id]
    return (f"<h3>ForwardAccumulator {info.id}</h3><p>{len(info.ops)} ops pushed tangents; "
            f"{len(info.tangents)} tensors have one; {len(calls)} jvp calls.</p>"
            f"<p><b>primals</b></p><ul>{primals}</ul>" + _code_around(run, info.location))


def _stats(summary):
    from .graph import value_text

    return value_text(summary) or f"{summary.get('dtype', '')}{summary.get('shape', '')}"
