"""A tape's graph for drawing, and its layout: pure functions of the inspection model (no Qt).

Nodes are ops and the leaf tensors they read (variables, constants, watched tensors); an op's
outputs are the edges out of it, as TensorBoard draws graphs. Layout is layered from the inputs
at the top to the loss at the bottom, as TensorBoard and Netron draw. Small graphs are ordered by
igraph's Sugiyama (C core, fast at that size); larger ones by barycentre sweeps in Python, which
the interpreter interrupts every few milliseconds, so laying out in a worker thread never holds
the GIL long enough to stall the window.
"""
from dataclasses import dataclass, field

from tapeviz.inspection.explain import _path_ops, describe

from .folding import find_folds, topological_order
from .forward import accumulator_of, short_stats, subject_parts, tangent_lines, tangents_for
from .scope_layout import compound_layout, has_open_scopes
from .scopes import common_scope, outermost_closed, scope_key, scope_leaves, scope_ops
from .updates import STATEFUL, add_updates, update_key  # noqa: F401 - update_key and STATEFUL: the graph's API
from .reads import variable_reads
from .short_names import short_names
from .source_names import input_names, op_names

SUGIYAMA_MAX_NODES = 400   # igraph holds the GIL for its whole run: only where that run is short


@dataclass
class Node:
    key: str            # "op:<id>" or "t:<id>"
    kind: str           # "op", "variable", "constant", "watched", "intermediate"
    label: str
    detail: str = ""
    flags: set = field(default_factory=set)   # watched, no_rule, not_differentiable, target, source
    scope: str = ""     # name scope ("sequential/dense_1", nested with "/") for collapsing
    x: float = 0.0
    y: float = 0.0
    name: str = ""      # the user's name for an op's output, from its source line ("hidden")
    reads: int = 0      # a variable's reads on the tape (ReadVariableOp ops, drawn as part of it)
    short: str = ""     # what the box shows for a long scoped name ("dense/kernel"); label keeps it whole
    tangent: str = ""   # forward mode: the tangent's range, shown under the box ("tangent 0..6")


@dataclass
class Edge:
    source: str
    target: str
    tensor: int         # the tensor id the edge carries


@dataclass
class TapeGraph:
    nodes: dict
    edges: list
    aliases: dict = field(default_factory=dict)   # key drawn as part of another node (a read) -> that node's key
    scope_boxes: dict = field(default_factory=dict)   # open scope -> its frame (left, top, right, bottom), by layout

    def neighbours(self):
        out = {}
        for e in self.edges:
            out.setdefault(e.source, []).append(e.target)
        return out


def build_graph(run, tape_id):
    """The op graph one tape recorded, with the tensors it watched; or, for ``tape_id`` an accumulator's
    subject (``forward.accumulator_subject``), the ops it pushed tangents through, its primals watched.

    A read of a variable (``ReadVariableOp``) is drawn as part of the variable: no node of its
    own, and the ops using the read take their edge from the variable (see ``reads.py``). A tensor
    with a tangent (forward mode) shows it under its node and in its hover, beside its value.
    """
    ops, watched, tape_calls = subject_parts(run, tape_id)
    tangents = tangents_for(run, tape_id)
    several = len(run.accumulators) > 1 and accumulator_of(tape_id) is None   # say whose tangent it is
    reads = variable_reads(run, ops)
    read_of = {run.ops[op_id].outputs[0]: variable for op_id, variable in reads.items()}
    produced = {o: f"op:{op.id}" for op in ops if op.id not in reads for o in op.outputs}
    names = op_names(run, ops)
    for op in ops:   # a name the user gave a value in a gradient call wins over its assignment
        if op.id in reads:
            continue
        for output in op.outputs:
            if output in run.names and len(op.outputs) == 1:
                names[op.id] = run.names[output]
    nodes, edges, aliases = {}, [], {}

    def leaf(tensor_id):
        """The node of a tensor no drawn op made (variable, constant, watched tensor), made once."""
        key = f"t:{tensor_id}"
        if key not in nodes:
            info = run.tensors.get(tensor_id)
            kind = info.kind if info is not None else "constant"
            node_flags = {"watched"} if tensor_id in watched else set()
            label = info.name if info is not None and info.name else describe(run, tensor_id)
            if info is not None and not info.name and info.value is not None and info.value.size == 1:
                label = f"{info.value.reshape(()).item():.4g}"
            read = variable_reads(run, [run.ops[info.producer]]) if info is not None and info.producer in run.ops \
                else {}
            if read:   # a read this tape did not record (made before it, or unwatched): a constant here
                label = f"read of {run.tensors[read[info.producer]].label}"
            nodes[key] = Node(key, kind, label, f"{info.dtype}{list(info.shape)}" if info else "", node_flags,
                              scope=(info.name or "").rsplit("/", 1)[0] if info and "/" in (info.name or "") else "")
        return key

    for op in ops:
        if op.id in reads:
            key = leaf(reads[op.id])
            nodes[key].reads += 1
            aliases[f"op:{op.id}"] = aliases[f"t:{op.outputs[0]}"] = key
            continue
        flags = set()
        if op.rule == "missing":
            flags.add("no_rule")
        elif op.rule == "not differentiable" or op.type == "StopGradient":
            flags.add("not_differentiable")
        outputs = ", ".join(f"{run.tensors[o].dtype}{list(run.tensors[o].shape)}" for o in op.outputs
                            if o in run.tensors)
        values = "; ".join(value_text(run.tensors[o].summary) for o in op.outputs if o in run.tensors)
        detail = f"-> {outputs}" + (f"\n{values}" if values else "")
        with_tangent = [tangents[o] for o in op.outputs if o in tangents]
        for entries in with_tangent:
            detail += "\n" + "\n".join(tangent_lines(entries, value_text, several))
        nodes[f"op:{op.id}"] = Node(f"op:{op.id}", "op", op.type, detail, flags, scope=op.scope, name=names.get(op.id, ""),
                                    tangent=short_stats(with_tangent[0][-1][1].summary) if with_tangent else "")
        for tensor_id in op.inputs:
            if tensor_id in read_of:   # the edge carries the read, from the variable it read
                source = leaf(read_of[tensor_id])
            else:
                source = produced.get(tensor_id) or leaf(tensor_id)
            edges.append(Edge(source, f"op:{op.id}", tensor_id))
    for tensor_id, how in watched.items():  # watched tensors that no recorded op read still show
        key = f"t:{tensor_id}"
        if key not in nodes and tensor_id not in produced and tensor_id not in read_of and tensor_id in run.tensors:
            info = run.tensors[tensor_id]
            nodes[key] = Node(key, info.kind, info.name or describe(run, tensor_id),
                              f"{info.dtype}{list(info.shape)}", {"watched"})
    # A gradient source this tape never read is drawn anyway, alone: its None is explained by the
    # missing edge, which the view marks as the break when its gradient is selected.
    for call in tape_calls:
        for tensor_id in call.sources:
            key = f"t:{tensor_id}"
            if key not in nodes and tensor_id not in produced and tensor_id not in read_of \
                    and tensor_id in run.tensors:
                info = run.tensors[tensor_id]
                flags = {"unread"} | ({"watched"} if tensor_id in watched else set())
                nodes[key] = Node(key, info.kind, info.name or run.names.get(tensor_id) or describe(run, tensor_id),
                                  f"{info.dtype}{list(info.shape)}, never read on this tape", flags)
    for key, node in nodes.items():   # leaves with a tangent: the primals
        tensor_id = int(key[2:]) if key.startswith("t:") else None
        if tensor_id in tangents:
            node.tangent = short_stats(tangents[tensor_id][-1][1].summary)
            node.detail += "\n" + "\n".join(tangent_lines(tangents[tensor_id], value_text, several))
    if any(op.scope for op in ops):
        scope_leaves(run, nodes, edges, reads)
    else:   # a run recorded without scopes: guess them from scoped variable names
        scope_ops(nodes, edges)
    _name_leaves(run, [op for op in ops if op.id not in reads], nodes)
    add_updates(run, tape_id, nodes, Node)
    return TapeGraph(nodes, edges, aliases)


def _name_leaves(run, ops, nodes):
    """Variables show the meaningful tail of their scoped names; constants the user named in the
    source (``x = tf.random.normal(...)`` read as ``x @ w1``) show that name above their shape."""
    variables = [n for n in nodes.values() if n.kind == "variable"]
    tails = short_names(n.label for n in variables)
    for node in variables:
        node.short = tails[node.label] if tails[node.label] != node.label else ""
    # Only inputs read by name on their op's line are looked at: a 10,000-op loop's constants cost
    # one pass over the ops, not one look-up each.
    named = dict(input_names(run, ops))
    named.update((t, name) for t, name in run.names.items() if f"t:{t}" in nodes)   # gradient calls' names win
    for tensor_id, name in named.items():
        node = nodes.get(f"t:{tensor_id}")
        info = run.tensors.get(tensor_id)
        # an "intermediate" leaf was made before the tape (y = tf.reduce_sum(...)): a constant to it
        if node is not None and node.kind in ("constant", "intermediate") and not node.name \
                and info is not None and not info.name and name != node.label:
            node.name = name


def hover_text(node):
    """A node's tooltip: the user's name, the label, the detail, and a variable's reads drawn into it."""
    text = ((node.name + " = ") if node.name else "") + f"{node.label}\n{node.detail}".strip()
    if node.scope and node.kind != "scope":
        text += f"\nin scope {node.scope}"
    if "updated" in node.flags:
        text += "\nupdated after the tape (a stateful assignment, outside the tape)"
    if node.reads:
        text += f"\nread {node.reads} time{'s' if node.reads > 1 else ''} on this tape (ReadVariableOp)"
    return text


def value_text(summary):
    """A value's statistics in one line: "min -1 max 2.5 mean 0.3 norm 4.1", and its NaN/Inf count if
    any; "norm —" for a value saved before the norm was kept."""
    if not summary or "min" not in summary:
        return ""
    text = (f"min {summary['min']:.4g}  max {summary['max']:.4g}  mean {summary['mean']:.4g}  "
            f"norm {norm_text(summary, 4)}")
    return text + (f"  NaN/Inf {summary['nonfinite']}" if summary.get("nonfinite") else "")


def norm_text(summary, digits):
    """A summary's L2 norm to ``digits`` significant digits, or "—" when it was not kept (older files)."""
    norm = summary.get("norm")
    return "—" if norm is None else f"{norm:.{digits}g}"


def path_keys(run, tape_id, source_id, target_id):
    """Node keys on the recorded path from a source to a target (for highlighting a gradient).

    Keys are those of ``build_graph``: a variable read on the path is its variable's node."""
    ops = [run.ops[i] for i in run.tapes[tape_id].ops]
    on_path = list(_path_ops(ops, source_id, target_id))
    producer = run.tensors[target_id].producer if target_id in run.tensors else None
    if producer in run.ops:
        on_path.append(run.ops[producer])
    reads = variable_reads(run, on_path)
    keys = {f"t:{reads[op.id]}" if op.id in reads else f"op:{op.id}" for op in on_path}
    keys.add(f"t:{source_id}")
    return keys


def layout(graph, hgap=150.0, vgap=90.0, progress=None, width_of=None, min_gap=16.0, height_of=None):
    """Assign x, y to every node: layers run top to bottom from inputs to targets. Returns the graph.

    Layers are longest-path layers (igraph's own layering took minutes on a 10,000-op chain).
    ``progress(fraction)`` is called now and then on big graphs; it may raise to stop the work.
    ``width_of(node)``, when given, is a node's drawn width: nodes of a layer are then pushed apart
    until ``min_gap`` separates every two boxes, whatever column spacing the ordering produced.
    A graph with open name scopes is laid out scope by scope (``scope_layout.py``): each scope's
    nodes in one rectangle, kept in ``graph.scope_boxes``; ``height_of(node)`` is a box's height there.
    """
    graph.scope_boxes = {}
    if has_open_scopes(graph):
        compound_layout(graph, lambda count, pairs: _flat_coords(count, pairs, progress=None), hgap, vgap,
                        width_of or (lambda node: hgap - min_gap), height_of or (lambda node: 40.0), min_gap,
                        progress)
        _below_the_graph(graph, vgap)
        return graph
    keys = list(graph.nodes)
    index = {k: i for i, k in enumerate(keys)}
    pairs = sorted({(index[e.source], index[e.target]) for e in graph.edges})
    coords = _flat_coords(len(keys), pairs, progress)
    for key, (column, layer) in zip(keys, coords):
        node = graph.nodes[key]
        node.x, node.y = column * hgap, layer * vgap
    _below_the_graph(graph, vgap)
    if width_of is not None:
        _separate(graph, width_of, min_gap)
    return graph


def _flat_coords(count, pairs, progress=None):
    """(column, layer) per node of a graph without scopes: igraph's Sugiyama while small, else barycentre sweeps."""
    layers = _longest_path_layers(count, pairs)
    if 0 < count <= SUGIYAMA_MAX_NODES:
        try:
            import igraph
        except ImportError:
            pass
        else:
            g = igraph.Graph(n=count, edges=pairs, directed=True)
            return [(x, y) for x, y in g.layout_sugiyama(layers=layers, maxiter=20).coords[:count]]
    return _barycentre_rows(count, pairs, layers, progress)


def _below_the_graph(graph, vgap):
    """Updates outside the tape (no edges) go under the last row, centred, not beside the inputs."""
    apart = [node for node in graph.nodes.values() if node.kind == "update"]
    others = [node for node in graph.nodes.values() if node.kind != "update"]
    if not apart or not others:
        return
    bottom = max(node.y for node in others) + vgap
    if getattr(graph, "scope_boxes", None):   # and under the frames, whose padding reaches below their nodes
        bottom = max(bottom, max(box[3] for box in graph.scope_boxes.values()) + vgap / 2)
    centre = (min(node.x for node in others) + max(node.x for node in others)) / 2
    for node in apart:
        node.x, node.y = centre, bottom


def _separate(graph, width_of, min_gap):
    """Push the boxes of each layer apart, left to right, so that none overlaps its neighbour.

    The orderings place nodes by column, one ``hgap`` apart at best: a box wider than that, or two
    nodes put less than a column apart (Sugiyama's placement works in fractions of a column), would
    be drawn one over the other. A layer that had to spread is re-centred where it was."""
    rows = {}
    for node in graph.nodes.values():
        rows.setdefault(node.y, []).append(node)
    for row in rows.values():
        if len(row) < 2:
            continue
        row.sort(key=lambda n: n.x)
        before = (row[0].x + row[-1].x) / 2
        moved = False
        for left, right in zip(row, row[1:]):
            least = left.x + (width_of(left) + width_of(right)) / 2 + min_gap
            if right.x < least:
                right.x, moved = least, True
        if moved:
            shift = before - (row[0].x + row[-1].x) / 2
            for node in row:
                node.x += shift


def _barycentre_rows(count, pairs, layers, progress=None, sweeps=4):
    """(column, layer) per node: each layer ordered by the mean column of its neighbours, down and
    up a few times (Sugiyama's ordering step without dummy nodes), then centred on its parents."""
    by_layer = {}
    for node, layer in enumerate(layers):
        by_layer.setdefault(layer, []).append(node)
    order = [by_layer[layer] for layer in sorted(by_layer)]
    up, down = [[] for _ in range(count)], [[] for _ in range(count)]
    for a, b in pairs:
        down[a].append(b)
        up[b].append(a)
    column = [0.0] * count
    for row in order:
        for i, node in enumerate(row):
            column[node] = float(i)
    total = max(1, sweeps * len(order))
    done = 0
    for sweep in range(sweeps):
        rows = order if sweep % 2 == 0 else order[::-1]
        neighbours = up if sweep % 2 == 0 else down
        for row in rows:
            def barycentre(node):
                near = neighbours[node]
                return sum(column[n] for n in near) / len(near) if near else column[node]
            row.sort(key=barycentre)
            for i, node in enumerate(row):
                column[node] = float(i)
            done += 1
            if progress is not None and done % 200 == 0:
                progress(done / total)
    # Place: each row centred under its parents' mean, nodes kept at least one column apart.
    for row in order:
        wanted = [sum(column[n] for n in up[node]) / len(up[node]) if up[node] else None for node in row]
        known = [w for w in wanted if w is not None]
        centre = sum(known) / len(known) if known else 0.0
        start = centre - (len(row) - 1) / 2
        for i, node in enumerate(row):
            column[node] = start + i
    return [(column[node], layers[node]) for node in range(count)]


def _longest_path_layers(count, pairs):
    incoming = [[] for _ in range(count)]
    for a, b in pairs:
        incoming[b].append(a)
    layer = [0] * count
    order = topological_order(count, pairs)
    for node in order:
        if incoming[node]:
            layer[node] = max(layer[a] for a in incoming[node]) + 1
    # Every node then moves down to just above its first consumer (as late as possible): leaves and
    # side branches sit beside the step that reads them, not all in the top layer, where 1,000 of
    # them made a row 1,000 nodes wide and a long edge from each (a grey triangle).
    consumers = {}
    for a, b in pairs:
        consumers.setdefault(a, []).append(b)
    for node in reversed(order):
        if node in consumers:
            layer[node] = max(layer[node], min(layer[b] for b in consumers[node]) - 1)
    return layer


def _layer_rows(layers):
    rows = {}
    coords = []
    for layer in layers:
        row = rows.get(layer, 0)
        rows[layer] = row + 1
        coords.append((row, layer))
    return coords


def collapse_scopes(graph, expanded=frozenset()):
    """The graph with each name scope (two or more nodes, not in ``expanded``) drawn as one node.

    Returns ``(collapsed, owner)``: ``owner`` maps every key of ``graph`` (and of its variable reads)
    to the key drawn for it,
    so a path or a search over the full graph can be shown on the collapsed one. Edges into and
    out of a scope are merged (one per pair of drawn nodes); edges inside a scope disappear.
    """
    return fold_graph(graph, expanded, repeats=False, scopes=True)


def fold_graph(graph, expanded=frozenset(), repeats=True, scopes=False):
    """The graph as drawn: repeated runs folded into blocks, alike variables grouped (``repeats``),
    name scopes as one node each (``scopes``); keys in ``expanded`` stay open. ``(drawn, owner)``."""
    groups = []   # (drawn key, kind, label, detail, scope, member keys)
    taken = set()
    if repeats:
        folds, variable_groups = find_folds(graph)
        for key, label, members in folds:
            if key not in expanded:
                ops = sum(1 for m in members if graph.nodes[m].kind == "op")
                groups.append((key, "fold", label, f"{ops} ops folded: double-click to open",
                               common_scope(graph.nodes[m].scope for m in members), members))
                taken.update(members)
        for key, label, members in variable_groups:
            if key not in expanded:
                groups.append((key, "group", label, f"{len(members)} variables: double-click to open",
                               common_scope(graph.nodes[m].scope for m in members), members))
                taken.update(members)
    if scopes:
        members = {}
        for key, node in graph.nodes.items():
            closed = outermost_closed(node.scope, expanded) if node.scope else None
            if closed is not None and key not in taken:
                members.setdefault(closed, []).append(key)
        for scope, inside in members.items():
            if len(inside) > 1:
                ops = sum(1 for k in inside if graph.nodes[k].kind == "op")
                groups.append((scope_key(scope), "scope", f"{scope} ({ops} ops)",
                               f"{ops} ops, {len(inside) - ops} tensors", scope, inside))
    owner = {key: key for key in graph.nodes}
    for drawn, *_rest, inside in groups:
        for key in inside:
            owner[key] = drawn
    for hidden, shown in graph.aliases.items():   # a read is found where its variable is drawn
        owner[hidden] = owner[shown]
    nodes = {}
    made = {g[0]: g for g in groups}
    for key, node in graph.nodes.items():
        drawn = owner[key]
        if drawn == key:
            nodes[key] = Node(key, node.kind, node.label, node.detail, set(node.flags), node.scope, name=node.name,
                              reads=node.reads, short=node.short, tangent=node.tangent)
        elif drawn not in nodes:
            _, kind, label, detail, scope, inside = made[drawn]
            # A group shows the worst of its members: a missing rule inside is still a missing rule.
            flags = set().union(*(graph.nodes[k].flags for k in inside)) & {"watched", "no_rule", "not_differentiable"}
            nodes[drawn] = Node(drawn, kind, label, detail, flags, scope)
    edges, seen = [], set()
    for edge in graph.edges:
        pair = (owner[edge.source], owner[edge.target])
        if pair[0] != pair[1] and pair not in seen:
            seen.add(pair)
            edges.append(Edge(pair[0], pair[1], edge.tensor))
    return TapeGraph(nodes, edges), owner


def groups_of(drawn_graph):
    """Keys of the drawn nodes that stand for several (folds, variable groups, scopes)."""
    return [k for k, n in drawn_graph.nodes.items() if n.kind in ("fold", "group", "scope")]
