"""Stateful updates after a tape (an optimizer's assignments), as one node of the tape's graph.

No tape records an assignment: it is an event of the run, and no gradient flows through it. The
graph shows the ones that followed a tape, until the next tape began (a training step's update),
as a node of its own drawn apart from the ops. Pure functions of the inspection model; no Qt.
"""
from bisect import bisect_right
from operator import attrgetter

STATEFUL = ("assign", "assign_add", "assign_sub")
_seq = attrgetter("seq")


def update_key(tape_id):
    return f"update:{tape_id}"


def assignments_after(run, tape_id):
    """The assignment events (tape None) after the tape closed and its gradients were taken, until the
    next tape began: in a training loop, the step's update (the next step's belongs to the next tape).
    An accumulator (forward mode) has none."""
    tape = run.tapes.get(tape_id)
    if tape is None:
        return []
    ends = [span[1] if span[1] is not None else span[0] for span in tape.spans]
    ends += [call.seq for call in run.calls if call.tape == tape_id]
    if not ends:
        return []
    end = max(ends)
    until = min((other.spans[0][0] for other in run.tapes.values()
                 if other.id != tape_id and other.spans and other.spans[0][0] > end), default=None)
    events = run.events   # in seq order: a long loop's graph looks at its own step's events only
    found = []
    for event in events[bisect_right(events, end, key=_seq):]:
        if until is not None and event.seq >= until:
            break
        if event.kind in STATEFUL and event.tape is None:
            found.append(event)
    return found


def add_updates(run, tape_id, nodes, make_node):
    """The assignments to this tape's variables after it (an optimizer's update), as one node made by
    ``make_node(key, kind, label, detail)`` and added to ``nodes``.

    They are stateful: no tape records them, so no gradient flows through them. Drawn apart, below
    the graph, named by the scope they ran in (a Keras optimizer's, "adam") or the line that ran them;
    each variable they wrote is flagged "updated"."""
    written = {}
    for event in assignments_after(run, tape_id):
        if f"t:{event.tensor}" in nodes and nodes[f"t:{event.tensor}"].kind == "variable":
            written.setdefault(event.tensor, event)
    if not written:
        return
    first = next(iter(written.values()))
    by = first.scope or (f"line {first.location.line}" if first.location else "")
    kinds = sorted({event.kind for event in written.values()})
    names = [nodes[f"t:{tensor}"].label for tensor in written]
    for tensor in written:
        nodes[f"t:{tensor}"].flags.add("updated")
    count = f"{len(written)} variable{'s' if len(written) > 1 else ''}"
    where = f" ({first.location})" if first.location else ""
    nodes[update_key(tape_id)] = make_node(
        update_key(tape_id), "update", f"{by}: {'/'.join(kinds)} {count}" if by else f"{'/'.join(kinds)} {count}",
        f"stateful update after the tape{where}: not recorded, no gradient flows through it\n" + "\n".join(names))
