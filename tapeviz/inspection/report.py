"""Text and JSON summaries of a run: what ``tapeviz run``, ``show`` and ``explain`` print.

A training loop asks the same question every step: an explanation identical to one given at an
earlier step of the same gradient call (same line, same source and target position, same reason
and evidence) is folded into that first one: printed once, then "same as step 1, x8". Tapes made
by the same line with the same ops and watches are folded the same way. In JSON every item carries
its tensor ids and source file and line.
"""
import itertools
import os

from .explain import describe, step_of


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
        if s.get("nonfinite"):
            text += f" ({s['nonfinite']} NaN/Inf)"
    return text


def watched_names(run, tape_id):
    return [(describe(run, tensor_id), how) for tensor_id, how in run.watched(tape_id).items()]


def _where(location):
    return None if location is None else (location.file, location.line)


def _explanation_key(call, result, target, explanation):
    """What makes two explanations the same one, step after step."""
    return (_where(call.location), call.sources.index(result.source) if result.source in call.sources else -1,
            call.targets.index(target) if target in call.targets else -1, explanation.code, explanation.sentence,
            explanation.fix, tuple((item.get("what"), _where(item.get("location"))) for item in explanation.evidence))


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


def text_summary(run, only_nones=False):
    """Lines describing the run: tapes, their ops and watched variables, every gradient call and None."""
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
                     f"{len(run.calls)} gradient calls, {len(nones)} None results explained")
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
            for name, how in watched_names(run, tape.id):
                lines.append(f"    watches {name} ({how})")
            scopes = scope_counts(run, tape)
            if scopes:
                lines.append("    scopes: " + ", ".join(f"{scope} ({count} op{'s' if count > 1 else ''})" for scope, count in scopes.items()))
    for call in run.calls:
        shown = [r for r in call.results if not only_nones or r.explanations or r.diagnosis is not None]
        items = []
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
    if only_nones and not nones and not groups:
        lines.append("tapeviz: no gradient came out None.")
    return lines


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
    if only_nones:
        return {"nones": nones, "diagnoses": diagnoses}
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
    }
