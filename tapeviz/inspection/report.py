"""Text and JSON summaries of a run: what ``tapeviz run``, ``show`` and ``explain`` print."""
import os

from .explain import describe


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
    return text


def watched_names(run, tape_id):
    return [(describe(run, tensor_id), how) for tensor_id, how in run.watched(tape_id).items()]


def text_summary(run, only_nones=False):
    """Lines describing the run: tapes, their ops and watched variables, every gradient call and None."""
    lines = []
    nones = list(run.nones())
    variables = [t for t in run.tensors.values() if t.kind == "variable"]
    if not only_nones:
        lines.append(f"tapeviz: {len(run.tapes)} tapes, {len(run.ops)} ops run, {len(variables)} variables, "
                     f"{len(run.calls)} gradient calls, {len(nones)} None results explained")
        for tape in run.tapes.values():
            kind = "persistent" if tape.persistent else "non-persistent"
            nested = f", inside tape {tape.parent}" if tape.parent else ""
            lines.append(f"tape {tape.id} (created at {_short(tape.location)}, {kind}{nested}): "
                         f"{len(tape.ops)} ops recorded")
            for name, how in watched_names(run, tape.id):
                lines.append(f"    watches {name} ({how})")
    for call in run.calls:
        if only_nones and not any(r.explanations for r in call.results):
            continue
        targets = ", ".join(describe(run, t) for t in call.targets)
        lines.append(f"{call.kind} call {call.id} on tape {call.tape} at {_short(call.location)}: d[{targets}]")
        for result in call.results:
            if only_nones and not result.explanations:
                continue
            lines.append(f"    / d {describe(run, result.source)} = {_value_text(result)}")
            for target, explanation in result.explanations.items():
                prefix = f"      (target {describe(run, target)}) " if len(call.targets) > 1 else "      "
                lines.append(f"{prefix}why: [{explanation.code}] {explanation.sentence}")
                for item in explanation.evidence:
                    where = f" at {_short(item['location'])}" if item.get("location") else ""
                    lines.append(f"        - {item['what']}{where}")
                lines.append(f"      fix: {explanation.fix}")
    if only_nones and not nones:
        lines.append("tapeviz: no gradient came out None.")
    return lines


def json_summary(run, only_nones=False):
    """The same facts as text_summary, as JSON-ready data."""
    def location(loc):
        return None if loc is None else {"file": loc.file, "line": loc.line}

    def explanation(e):
        return {"code": e.code, "sentence": e.sentence, "fix": e.fix,
                "evidence": [{"what": i["what"], "op": i.get("op"), "tensor": i.get("tensor"),
                              "location": location(i.get("location"))} for i in e.evidence]}

    nones = [{"call": call.id, "tape": call.tape, "location": location(call.location),
              "target": describe(run, target), "source": describe(run, result.source), "result": _value_text(result),
              "explanation": explanation(e)} for call, result, target, e in run.nones()]
    if only_nones:
        return {"nones": nones}
    return {
        "meta": run.meta,
        "tapes": [{"id": t.id, "location": location(t.location), "persistent": t.persistent,
                   "watch_accessed_variables": t.watch_accessed_variables, "parent": t.parent, "ops": len(t.ops),
                   "op_types": sorted({run.ops[i].type for i in t.ops}),
                   "watched": [{"name": n, "how": h} for n, h in watched_names(run, t.id)]}
                  for t in run.tapes.values()],
        "variables": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "trainable": t.trainable}
                      for t in run.tensors.values() if t.kind == "variable"],
        "calls": [{"id": c.id, "tape": c.tape, "kind": c.kind, "location": location(c.location),
                   "targets": [describe(run, t) for t in c.targets],
                   "results": [{"source": describe(run, r.source), "value": _value_text(r), "is_none": r.is_none}
                               for r in c.results]} for c in run.calls],
        "nones": nones,
    }
