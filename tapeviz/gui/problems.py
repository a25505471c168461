"""Every gradient problem of a run in one list: None, NaN/Inf and blocked (exactly zero) gradients.

The same problem repeated by a loop (one per training step) is one group ("mlp.py:16 x50"), so
a long run's list stays short. Pure functions of the inspection model: computed off the UI thread.
"""
import os
from dataclasses import dataclass, field

from tapeviz.inspection.explain import describe
from tapeviz.inspection.model import JvpCall

KINDS = ("None", "NaN/Inf", "blocked")   # in order of how badly they break training


@dataclass
class Problem:
    kind: str           # one of KINDS
    call: object        # GradientCall
    result: object      # GradientResult
    target: object      # target id, or None when the problem is about the whole result
    explanation: object = None   # Explanation, for None and unconnected gradients
    text: str = ""      # one line: what, of what


@dataclass
class ProblemGroup:
    kind: str
    title: str
    members: list = field(default_factory=list)   # Problem, in run order

    @property
    def first(self):
        return self.members[0]


def short_name(run, tensor_id):
    """What the user called a tensor (``loss``, ``w1``), else a short description of it."""
    if tensor_id in run.names:
        return run.names[tensor_id]
    info = run.tensors.get(tensor_id)
    if info is not None and info.name:
        return info.name.split(":")[0]
    return describe(run, tensor_id)


def _where(location):
    return f"{os.path.basename(location.file)}:{location.line}" if location is not None else "?"


def result_problems(run, call, result):
    """The problems of one gradient result (none, one or several)."""
    found = []
    if result.explanations:
        for target, explanation in result.explanations.items():
            label = "None" if result.is_none else "None (filled with zeros)"
            found.append(Problem("None", call, result, target, explanation,
                                 f"d {short_name(run, target)} / d {short_name(run, result.source)} is {label}: "
                                 f"{explanation.code}"))
        return found
    if result.is_none:
        return [Problem("None", call, result, None, None, f"d / d {short_name(run, result.source)} is None")]
    summary = result.summary or {}
    code = f": {result.diagnosis.code}" if result.diagnosis is not None else ""  # why, as the None rows say
    if summary.get("nonfinite"):
        found.append(Problem("NaN/Inf", call, result, None, None,
                             f"d / d {short_name(run, result.source)} has {summary['nonfinite']} NaN/Inf values{code}"))
    elif summary.get("size") and summary.get("min") == 0 and summary.get("max") == 0:
        found.append(Problem("blocked", call, result, None, None,
                             f"d / d {short_name(run, result.source)} is exactly zero everywhere{code}"))
    return found


def run_problems(run):
    """Every problem of the run, in run order, and the same grouped: ``(problems, groups)``.

    Problems group when their kind, the gradient call's line, the source's description and the
    reason code are the same: the one problem a training loop repeats at every step.
    """
    problems = [p for call in run.calls for result in call.results for p in result_problems(run, call, result)]
    problems += jvp_problems(run)
    groups = {}
    for problem in problems:
        code = problem.explanation.code if problem.explanation is not None else ""
        key = (KINDS.index(problem.kind), _where(problem.call.location), problem.text, code)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ProblemGroup(problem.kind, problem.text)
        group.members.append(problem)
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[1].first.call.seq))
    result = []
    for (_, where, _, _), group in ordered:
        count = len(group.members)
        group.title = f"{group.title} ({where}" + (f", x{count})" if count > 1 else ")")
        result.append(group)
    return problems, result


def jvp_problems(run):
    """A problem for each ``acc.jvp(target)`` that is None (forward mode), its reason code as its text's end."""
    return [Problem("None", call, result, result.target, None,
                    f"jvp of {short_name(run, result.target)} is None: {result.reason or 'no tangent'}")
            for call in run.jvps for result in call.results if result.is_none]


def problems_per_tape(problems):
    counts = {}
    for problem in problems:
        if type(problem.call) is not JvpCall:
            counts[problem.call.tape] = counts.get(problem.call.tape, 0) + 1
    return counts


def problems_per_accumulator(problems):
    counts = {}
    for problem in problems:
        if type(problem.call) is JvpCall:
            counts[problem.call.accumulator] = counts.get(problem.call.accumulator, 0) + 1
    return counts
