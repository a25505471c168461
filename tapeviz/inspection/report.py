"""Text and JSON summaries of a run: what ``tapeviz run``, ``show`` and ``explain`` print.

A training loop asks the same question every step: an explanation identical to one given at an
earlier step of the same gradient call (same line, same source and target position, same reason
and evidence) is folded into that first one: printed once, then "same as step 1, x8". Tapes made
by the same line with the same ops and watches are folded the same way, and so are gradient calls
made again by the same line with nothing to report (no None, NaN/Inf or zero result): "the same call
again at steps 2-50". A call with many sources lists its first ``CLEAN_RESULTS_SHOWN`` ordinary
results and every result with something to report; an explanation that holds for several sources
of one call is given once, then named per source. ``full=True`` (``tapeviz show --all``) lists
everything. In JSON every item carries its tensor ids and source file and line, and nothing is folded.
"""
import itertools
import os

from .explain import describe, step_of
from .model import jvp_reason


def _short(location, cwd=None):
    if location is None:
        return "?"
    path = location.file
    try:
        relative = os.path.relpath(path, cwd or os.getcwd())
        path = relative if not relative.startswith("..") else path
    except ValueError:
        pass
    return f"{path}:{location.line}"


def _value_text(result):
    if result.is_none:
        return "None"
    s = result.summary
    if not s:
        return "value"
    text = f"{s['dtype']}{s['shape']}"
    if "min" in s:
        text += f" min {s['min']:.6g} max {s['max']:.6g} mean {s['mean']:.6g}"
        if s.get("norm") is not None:
            text += f" norm {s['norm']:.6g}"
        if s.get("nonfinite"):
            text += f" ({s['nonfinite']} NaN/Inf)"
    return text


def watched_names(run, tape_id):
    return [(describe(run, tensor_id), how) for tensor_id, how in run.watched(tape_id).items()]


def _where(location):
    return None if location is None else (location.file, location.line)


def _explanation_key(call, result, target, explanation):
    """What makes two explanations the same one, step after step. A NaN/zero warning's sentence holds the
    values of its step (a dead ReLU's input drifts as training goes on): the same op at the same line
    with the same code is the same warning."""
    where = [_where(item.get("location")) for item in explanation.evidence]
    told = (explanation.code, explanation.fix, tuple(where)) if explanation.kind != "none" else (
        explanation.code, explanation.sentence, explanation.fix,
        tuple((item.get("what"), place) for item, place in zip(explanation.evidence, where)))
    return (_where(call.location), call.sources.index(result.source) if result.source in call.sources else -1,
            call.targets.index(target) if target in call.targets else -1) + told


def step(run, call):
    """The call's step: 1 + the gradient calls made at the same line before it."""
    return step_of(run, call.location, call.seq) + 1


def folded(run):
    """[(call, result, target, explanation, repeats)] for each distinct explanation, first occurrence first;
    ``repeats`` lists the (call, result, target) of every later identical one."""
    groups = {}
    diagnoses = ((call, result, None, explanation) for call, result, explanation in run.diagnoses())
    for call, result, target, explanation in itertools.chain(run.nones(), diagnoses):
        key = _explanation_key(call, result, target, explanation)
        if key in groups:
            groups[key][4].append((call, result, target))
        else:
            groups[key] = [call, result, target, explanation, []]
    return [tuple(group) for group in groups.values()]


CLEAN_RESULTS_SHOWN = 12  # per gradient call and tape: a 1,000-variable model would print 1,000 lines a step


def _call_key(run, call):
    """What makes a gradient call the same one, step after step: its line, its kind, its targets and sources."""
    return (_where(call.location), call.kind, tuple(describe(run, t) for t in call.targets),
            tuple(describe(run, r.source) for r in call.results))


def _has_problem(result):
    return bool(result.explanations) or result.diagnosis is not None


def _steps_text(steps):
    """[2, 3, 4, 7] -> "2-4, 7"."""
    runs = []
    for value in steps:
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    parts = [str(a) if a == b else f"{a}-{b}" for a, b in runs]
    return ", ".join(parts[:6]) + (", ..." if len(parts) > 6 else "")


def scope_counts(run, tape):
    """The name scopes the tape's ops ran in (a Keras layer's "sequential/dense"), each with its op count,
    in the order first met; ops outside any scope are not counted."""
    counts = {}
    for op_id in tape.ops:
        scope = run.ops[op_id].scope
        if scope:
            counts[scope] = counts.get(scope, 0) + 1
    return counts


def _tape_key(run, tape):
    return (_where(tape.location), tape.persistent, len(tape.ops), tuple(watched_names(run, tape.id)))


def text_summary(run, only_nones=False, full=False):
    """Lines describing the run: tapes, their ops and watched variables, every gradient call and None.

    Unless ``full``, a call made again by the same line with nothing to report is folded into the first
    one, and a call lists at most ``CLEAN_RESULTS_SHOWN`` results with nothing to report."""
    lines = []
    groups = folded(run)
    first_of, repeat_of = {}, {}
    for call, result, target, explanation, repeats in groups:
        first_of[(call.id, result.source, target)] = repeats
        for index, (other, other_result, other_target) in enumerate(repeats):
            repeat_of[(other.id, other_result.source, other_target)] = (index, call, len(repeats))
    nones = list(run.nones())
    variables = [t for t in _variables(run)]
    if not only_nones:
        lines.append(f"tapeviz: {len(run.tapes)} tapes, {len(run.ops)} ops run, {len(variables)} variables, "
                     f"{len(run.calls)} gradient calls, {len(nones)} None results explained"
                     + (f", {len(run.accumulators)} forward accumulators, {len(run.jvps)} jvp calls"
                        if run.accumulators else ""))
        seen_tapes = {}
        for tape in run.tapes.values():
            key = _tape_key(run, tape)
            if key in seen_tapes:
                seen_tapes[key][1] += 1
                continue
            seen_tapes[key] = [tape, 0]
        for tape, more in seen_tapes.values():
            kind = "persistent" if tape.persistent else "non-persistent"
            nested = f", inside tape {tape.parent}" if tape.parent else ""
            again = f"; {more} more tapes made there, the same" if more else ""
            lines.append(f"tape {tape.id} (created at {_short(tape.location)}, {kind}{nested}): "
                         f"{len(tape.ops)} ops recorded{again}")
            watched = watched_names(run, tape.id)
            shown = watched if full or len(watched) <= CLEAN_RESULTS_SHOWN else watched[:CLEAN_RESULTS_SHOWN]
            for name, how in shown:
                lines.append(f"    watches {name} ({how})")
            if len(shown) < len(watched):
                lines.append(f"    ... and {len(watched) - len(shown)} more watched (--all lists them)")
            scopes = list(scope_counts(run, tape).items())
            if scopes:
                listed = scopes if full or len(scopes) <= CLEAN_RESULTS_SHOWN else scopes[:CLEAN_RESULTS_SHOWN]
                lines.append("    scopes: " + ", ".join(f"{scope} ({count} op{'s' if count > 1 else ''})"
                                                       for scope, count in listed)
                             + (f", ... and {len(scopes) - len(listed)} more" if len(listed) < len(scopes) else ""))
    first_call_of, folded_steps = {}, {}  # call key -> the first call's id; first call id -> [later steps]
    fold_line_at = {}  # first call id -> the index in ``lines`` where its fold line goes
    for call in run.calls:
        folding = not only_nones and not full
        if folding:
            first = first_call_of.setdefault(_call_key(run, call), call.id)
            if first != call.id and not any(_has_problem(r) for r in call.results):
                folded_steps[first].append(step(run, call))
                continue
        shown = [r for r in call.results if not only_nones or r.explanations or r.diagnosis is not None]
        hidden = 0
        if not full and not only_nones and len(shown) > CLEAN_RESULTS_SHOWN:
            clean = [r for r in shown if not _has_problem(r)]
            kept = {id(r) for r in clean[:CLEAN_RESULTS_SHOWN]}
            hidden = len(clean) - len(kept)
            shown = [r for r in shown if _has_problem(r) or id(r) in kept]
        items = []
        told = {}   # within this call: an explanation given for an earlier source -> that source
        for result in shown:
            reasons = [(t, e) for t, e in result.explanations.items()]
            if result.diagnosis is not None:
                reasons.append((None, result.diagnosis))
            body = []
            for target, explanation in reasons:
                repeat = repeat_of.get((call.id, result.source, target))
                prefix = f"      (target {describe(run, target)}) " if target is not None and len(call.targets) > 1 \
                    else "      "
                label = "why" if explanation.kind == "none" else "warning"
                if repeat is not None:
                    index, first, count = repeat
                    if index == 0:
                        body.append(f"{prefix}{label}: same as step {step(run, first)} (call {first.id}), x{count}")
                    continue
                # Alike but for the source's own name (a model run before the tape: one paragraph, not one
                # per variable).
                name = describe(run, result.source)
                keys = [(target, explanation.code, explanation.fix.replace(old, "\0"),
                         tuple((item.get("what", "").replace(old, "\0"), _where(item.get("location")))
                               for item in explanation.evidence)) for old in (name, "\0")]
                earlier = next((told[key] for key in keys if key in told), None)
                if not full and earlier is not None:   # a frozen layer: one explanation, then a line per variable
                    body.append(f"{prefix}{label}: [{explanation.code}] the same as for {earlier} above")
                    continue
                told.update((key, name) for key in keys)
                body.append(f"{prefix}{label}: [{explanation.code}] {explanation.sentence}")
                for item in explanation.evidence:
                    where = f" at {_short(item['location'])}" if item.get("location") else ""
                    body.append(f"        - {item['what']}{where}")
                body.append(f"      fix: {explanation.fix}")
            if reasons and not body:
                continue  # folded into an earlier step's explanation, already counted there
            items.append(f"    / d {describe(run, result.source)} = {_value_text(result)}")
            items.extend(body)
        if only_nones and not items:
            continue
        targets = ", ".join(describe(run, t) for t in call.targets)
        lines.append(f"{call.kind} call {call.id} (step {step(run, call)}) on tape {call.tape} at "
                     f"{_short(call.location)}: d[{targets}]")
        lines.extend(items)
        if hidden:
            lines.append(f"    ... and {hidden} more sources with a value and nothing to report (--all lists them)")
        if folding and first == call.id:
            folded_steps[call.id] = []
            fold_line_at[call.id] = len(lines)
    for first, index in sorted(fold_line_at.items(), key=lambda item: -item[1]):  # from the end: indices hold
        steps = folded_steps[first]
        if steps:
            lines.insert(index, f"    the same call again at step{'s' if len(steps) > 1 else ''} {_steps_text(steps)}: "
                                f"{len(steps)} more call{'s' if len(steps) > 1 else ''} with nothing to report "
                                "(--all lists them)")
    lines.extend(forward_lines(run, only_nones))
    if only_nones and not nones and not groups and not any(r.is_none for c in run.jvps for r in c.results):
        lines.append("tapeviz: no gradient came out None.")
    return lines


def _tangent_text(result):
    if result.is_none:
        return "None"
    text = _value_text(result)
    return text + (" (unconnected: zeros)" if result.reason else "")


def forward_lines(run, only_nones=False):
    """Forward mode: each accumulator (primals, ops that pushed tangents) and each jvp call's results;
    a None (or unconnected zeros) with its reason. ``only_nones``: the jvp calls with a None only."""
    lines = []
    if not only_nones:
        for info in run.accumulators.values():
            primals = ", ".join(describe(run, t) for t in info.primals)
            lines.append(f"accumulator {info.id} (created at {_short(info.location)}): {len(info.primals)} primals, "
                         f"{len(info.ops)} ops pushed tangents")
            lines.append(f"    primals: {primals}")
    for call in run.jvps:
        if only_nones and not any(r.is_none for r in call.results):
            continue
        lines.append(f"jvp call {call.id} on accumulator {call.accumulator} at {_short(call.location)}")
        for result in call.results:
            if only_nones and not result.is_none:
                continue
            lines.append(f"    {describe(run, result.target)} = {_tangent_text(result)}")
            reason = jvp_reason(run, call, result)
            if reason is not None:
                lines.append(f"      why: [{result.reason}] {reason[0]}")
                lines.append(f"      fix: {reason[1]}")
    return lines


def forward_json(run):
    """The accumulators and jvp calls of ``json_summary`` (small: counts and summaries, no tangents listed)."""
    accumulators = [{"id": a.id, "location": _location(a.location), "primals": [describe(run, t) for t in a.primals],
                     "primal_ids": list(a.primals), "ops": len(a.ops), "tangents": len(a.tangents)}
                    for a in run.accumulators.values()]
    jvps = []
    for call in run.jvps:
        results = []
        for result in call.results:
            item = {"target": describe(run, result.target), "target_id": result.target,
                    "value": _tangent_text(result), "is_none": result.is_none, "reason": result.reason or None}
            reason = jvp_reason(run, call, result)
            if reason is not None:
                item.update(sentence=reason[0], fix=reason[1])
            results.append(item)
        jvps.append({"id": call.id, "accumulator": call.accumulator, "location": _location(call.location),
                     "options": call.options, "results": results})
    return accumulators, jvps


def _variables(run):
    ids = getattr(run.tensors, "variable_ids", None)
    if ids is not None:
        return [run.tensors[i] for i in ids()]
    return [t for t in run.tensors.values() if t.kind == "variable"]


def _location(loc):
    return None if loc is None else {"file": loc.file, "line": loc.line}


def _explanation(e):
    return {"code": e.code, "kind": e.kind, "sentence": e.sentence, "fix": e.fix,
            "evidence": [{"what": i["what"], "op": i.get("op"), "tensor": i.get("tensor"),
                          "location": _location(i.get("location"))} for i in e.evidence]}


def json_summary(run, only_nones=False):
    """The same facts as text_summary, as JSON-ready data (folded explanations list their repeats)."""
    nones, diagnoses = [], []
    for call, result, target, explanation, repeats in folded(run):
        item = {"call": call.id, "step": step(run, call), "tape": call.tape, "location": _location(call.location),
                "source": describe(run, result.source), "source_id": result.source, "result": _value_text(result),
                "explanation": _explanation(explanation),
                "repeats": len(repeats), "repeated_in": [{"call": c.id, "step": step(run, c)} for c, _, _ in repeats]}
        if target is not None:
            item.update(target=describe(run, target), target_id=target)
            nones.append(item)
        else:
            item.update(targets=[describe(run, t) for t in call.targets], target_ids=list(call.targets))
            diagnoses.append(item)
    accumulators, jvps = forward_json(run)
    if only_nones:
        return {"nones": nones, "diagnoses": diagnoses,
                "jvp_nones": [dict(result, call=call["id"], accumulator=call["accumulator"], location=call["location"])
                              for call in jvps for result in call["results"] if result["is_none"]]}
    return {
        "meta": run.meta,
        "tapes": [{"id": t.id, "location": _location(t.location), "persistent": t.persistent,
                   "watch_accessed_variables": t.watch_accessed_variables, "parent": t.parent, "ops": len(t.ops),
                   "op_types": sorted({run.ops[i].type for i in t.ops}), "scopes": scope_counts(run, t),
                   "watched": [{"name": describe(run, i), "id": i, "how": h} for i, h in run.watched(t.id).items()]}
                  for t in run.tapes.values()],
        "variables": [{"id": t.id, "name": t.name, "shape": list(t.shape), "dtype": t.dtype, "trainable": t.trainable,
                       "location": _location(t.first_seen)} for t in _variables(run)],
        "calls": [{"id": c.id, "step": step(run, c), "tape": c.tape, "kind": c.kind, "location": _location(c.location),
                   "targets": [describe(run, t) for t in c.targets], "target_ids": list(c.targets),
                   "results": [{"source": describe(run, r.source), "source_id": r.source, "value": _value_text(r),
                                "is_none": r.is_none} for r in c.results]} for c in run.calls],
        "nones": nones,
        "diagnoses": diagnoses,
        "accumulators": accumulators,
        "jvps": jvps,
    }
