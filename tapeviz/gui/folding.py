"""Repeated structure folded into one node: a 5,000-step loop is one "Sin, Mul x5000" block.

A *spine* is a run of ops each feeding only the next; each step of it takes along its *side* ops
and constants, those that feed nothing else (the ``w * 2.0`` added at each step of a sum). Steps
with the same shape repeat; a run of at least ``MIN_REPEATS`` repetitions becomes one block. A loop
body with no single spine (an LSTM's time step carries two states) is found in the order the ops ran:
the same sequence of op types, at least ``MIN_REPEATS`` times in a row, becomes one block too (a run
that is contiguous in that order is closed under the graph's paths, so the block makes no cycle).
Variables and watched tensors always stay outside, so the graph still shows what it trains; many
alike variables that feed the same node then become one group ("w0 … w999, 1000 variables").

Pure functions of a ``TapeGraph``; no Qt.
"""
from .scopes import common_scope

MIN_REPEATS = 4      # fewer repetitions are drawn op by op
MIN_FOLDED_OPS = 12  # and so are short runs: a block must save drawing
MAX_PERIOD = 6       # steps in one repetition
MIN_GROUP = 6        # alike variables feeding one node, before they become a group
MAX_BODY = 40        # ops in one repetition of a loop body found in the order the ops ran


def fold_key(first):
    return f"fold:{first}"


def group_key(first):
    return f"group:{first}"


def find_folds(graph):
    """[(fold key, label, member keys)] for each repeated run, and the variable groups beside them.

    Returns ``(folds, groups)``; both are lists of ``(key, label, members)``; members of a fold
    include its side nodes; no key is in two of them.
    """
    nodes, edges = graph.nodes, graph.edges
    preds, succs = {k: [] for k in nodes}, {k: [] for k in nodes}
    for e in edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)
    consumers = {k: set(v) for k, v in succs.items()}
    depth = _depths(nodes, preds)

    def movable(key):   # may disappear into a block
        node = nodes[key]
        return node.kind != "variable" and "watched" not in node.flags and len(consumers[key]) == 1

    # Spine: each op's deepest op input, when that input feeds this op alone.
    main, following = {}, {}
    for key, node in nodes.items():
        if node.kind != "op":
            continue
        candidates = [p for p in set(preds[key]) if nodes[p].kind == "op" and movable(p)]
        if candidates:
            best = max(candidates, key=lambda p: (depth[p], p))
            if best not in following:
                main[key], following[best] = best, key
    sides = {}

    def side_of(key, seen):
        """Signature and members of what feeds ``key`` alone, apart from its spine input."""
        parts, members = [], []
        for p in preds[key]:
            if p == main.get(key) or p in seen or not movable(p) or p in following or p in main:
                continue
            seen.add(p)
            if nodes[p].kind == "op":
                signature, inner = side_of(p, seen)
                parts.append((nodes[p].label, signature))
                members += [p] + inner
            else:
                parts.append(("leaf", nodes[p].kind, nodes[p].detail))
                members.append(p)
        return (tuple(sorted(parts, key=repr)) if len(parts) > 1 else tuple(parts)), members

    folds, taken = [], set()
    for start in nodes:
        if start in main or nodes[start].kind != "op" or start not in following:
            continue
        spine = [start]
        while spine[-1] in following:
            spine.append(following[spine[-1]])
        steps = []
        for key in spine:
            signature, members = side_of(key, set())
            sides[key] = members
            steps.append((nodes[key].label, signature))
        for begin, period, repeats in _repeats(steps):
            keys = spine[begin:begin + period * repeats]
            members = [m for k in keys for m in [k] + sides[k]]
            ops = sum(1 for m in members if nodes[m].kind == "op")
            if ops < MIN_FOLDED_OPS:
                continue
            types = list(dict.fromkeys(nodes[m].label if nodes[m].kind == "op" else None
                                       for k in keys[:period] for m in [k] + sides[k]))
            label = ", ".join(t for t in types if t) + f" x{repeats}"
            name = nodes[keys[-1]].name   # what the loop's last step assigned: the block's result
            folds.append((fold_key(keys[0]), label + (f" → {name}" if name else ""), members))
            taken.update(members)
    folds += _loop_folds(nodes, preds, consumers, taken, movable)
    return folds, _variable_groups(graph, folds, preds, consumers, taken)


def _loop_folds(nodes, preds, consumers, taken, movable):
    """Blocks for loop bodies repeated in the order the ops ran (op keys are "op:<id>", ids in that order).

    An op already folded, not movable (watched, or read by several) or not an op of the run breaks a
    run, so every block is a stretch of consecutive ops."""
    ordered = sorted((k for k, n in nodes.items() if n.kind == "op" and k.startswith("op:") and k[3:].isdigit()),
                     key=lambda k: int(k[3:]))
    ordered_set = set(ordered)
    steps = [(nodes[k].label, len(preds[k])) if k not in taken and (movable(k) or not consumers[k] or
                                                                     consumers[k] <= ordered_set) else ("break", k)
             for k in ordered]
    folds = []
    for begin, period, repeats in _repeats(steps, MAX_BODY):
        keys = ordered[begin:begin + period * repeats]
        if any(step[0] == "break" for step in steps[begin:begin + period]) or len(keys) < MIN_FOLDED_OPS:
            continue
        inside = set(keys)
        # Constants that feed only this run go in with it, unless they come from outside its scope (the
        # data a layer's loop slices stays outside the layer's block).
        scope = common_scope(nodes[k].scope for k in keys)
        leaves = [p for k in keys for p in preds[k] if nodes[p].kind not in ("op", "variable")
                  and "watched" not in nodes[p].flags and p not in taken and consumers[p] <= inside
                  and _within(nodes[p].scope, scope)]
        members = list(dict.fromkeys(keys + leaves))
        types = list(dict.fromkeys(nodes[k].label for k in keys[:period]))
        shown = ", ".join(types[:4]) + (", …" if len(types) > 4 else "")
        folds.append((fold_key(keys[0]), f"{shown} x{repeats}", members))
        taken.update(members)
    return folds


def _variable_groups(graph, folds, preds, consumers, taken):
    """Alike variables (kind, shape, dtype) whose every reader lies in one drawn node."""
    owner = {m: key for key, _, members in folds for m in members}
    buckets = {}
    for key, node in graph.nodes.items():
        if node.kind != "variable" or key in taken or not consumers[key]:
            continue
        drawn_readers = {owner.get(c, c) for c in consumers[key]}
        if len(drawn_readers) == 1:
            buckets.setdefault((drawn_readers.pop(), node.kind, node.detail), []).append(key)
    groups = []
    for (_, _, detail), members in buckets.items():
        if len(members) >= MIN_GROUP:
            first, last = graph.nodes[members[0]].label, graph.nodes[members[-1]].label
            groups.append((group_key(members[0]), f"{first} … {last} ({len(members)} variables)", members))
    return groups


def _within(scope, outer):
    return not outer or scope == outer or (scope or "").startswith(outer + "/")


def _repeats(steps, max_period=MAX_PERIOD):
    """(start, period, repeats) for each run of ``steps`` made of one block repeated MIN_REPEATS+ times."""
    found, i, count = [], 0, len(steps)
    while i < count:
        if steps[i][0] == "break":   # an op that may not be folded starts no run
            i += 1
            continue
        best = None
        for period in range(1, max_period + 1):
            if i + period >= count or steps[i + period] != steps[i]:
                continue   # cheap test first: a long list with no repeats costs one comparison per period
            repeats = 1
            while i + (repeats + 1) * period <= count and \
                    steps[i + repeats * period:i + (repeats + 1) * period] == steps[i:i + period]:
                repeats += 1
            if repeats >= MIN_REPEATS and (best is None or repeats * period > best[1] * best[2]):
                best = (i, period, repeats)
        if best is None:
            i += 1
        else:
            found.append(best)
            i += best[1] * best[2]
    return found


def _depths(nodes, preds):
    """Longest path from any input to each node (the spine follows the deepest input)."""
    depth = {}
    for key in _topological(nodes, preds):
        depth[key] = 1 + max((depth[p] for p in preds[key]), default=-1)
    return depth


def topological_order(count, pairs):
    """Nodes 0..count-1 in an order where each comes after its inputs (``pairs`` are (from, to) edges)."""
    outgoing = [[] for _ in range(count)]
    indegree = [0] * count
    for a, b in pairs:
        outgoing[a].append(b)
        indegree[b] += 1
    ready = [n for n in range(count) if indegree[n] == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for nxt in outgoing[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return order


def _topological(nodes, preds):
    keys = list(nodes)
    number = {k: i for i, k in enumerate(keys)}
    order = topological_order(len(keys), [(number[p], number[k]) for k, ps in preds.items() for p in ps])
    return [keys[i] for i in order]
