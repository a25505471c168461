"""Which name scope each node of a tape's graph is drawn in, and which scope a closed box stands for.

Ops carry the scope they ran in (a Keras layer's "sequential/dense", recorded per op); leaves take
the scope where the tape used them. Runs recorded without scopes fall back to guessing them from
scoped variable names. Scopes nest with "/": closing one draws everything inside as one box.
Pure functions; no Qt.
"""

def scope_key(scope):
    return f"scope:{scope}"


def common_scope(scopes):
    """The innermost scope holding all of ``scopes`` ("" when they share none): where a folded block
    of a loop inside one layer, or a group of one layer's variables, is drawn."""
    common = None
    for scope in scopes:
        parts = scope.split("/") if scope else []
        if common is None:
            common = parts
        else:
            size = 0
            while size < min(len(common), len(parts)) and common[size] == parts[size]:
                size += 1
            common = common[:size]
        if not common:
            return ""
    return "/".join(common or [])


def open_scopes(node):
    """The scopes around a drawn node that are open: every scope of an op or leaf drawn on its own,
    the scopes around a closed scope's box (not the box's own)."""
    if not node.scope:
        return []
    parts = node.scope.split("/")
    last = len(parts) - 1 if node.kind == "scope" else len(parts)
    return ["/".join(parts[:end]) for end in range(1, last + 1)]


def outermost_closed(scope, expanded):
    """The outermost scope around a node that is not open: ``sequential`` while the model is closed,
    ``sequential/dense_1`` once it is open; None when every scope around it is open."""
    parts = scope.split("/")
    for end in range(1, len(parts) + 1):
        prefix = "/".join(parts[:end])
        if prefix not in expanded and scope_key(prefix) not in expanded:
            return prefix
    return None


SCOPED_LITERAL = 16   # elements: a constant this small used only inside one scope is drawn inside it


def scope_leaves(run, nodes, edges, reads):
    """With the scopes the ops ran in: a variable belongs where the tape read it (one scope); a value
    made by an op before the tape where that op ran; a small constant (a literal such as ``2.0``)
    where every op using it is, as TensorBoard draws a layer's constants inside it. A larger constant
    is data (a batch fed to the model) and stays outside, so a closed model still shows its input."""
    read_scopes = {}
    for op_id, variable in reads.items():
        read_scopes.setdefault(f"t:{variable}", set()).add(run.ops[op_id].scope)
    consumers = {}
    for edge in edges:
        consumers.setdefault(edge.source, set()).add(nodes[edge.target].scope)
    for key, node in nodes.items():
        if node.kind == "op" or not key.startswith("t:"):
            continue
        info = run.tensors.get(int(key[2:]))
        if node.kind == "variable":
            scopes = read_scopes.get(key)
        elif "watched" in node.flags or info is None:   # watched: an input of the whole tape
            scopes = None
        elif info.producer in run.ops:
            scopes = {run.ops[info.producer].scope}
        elif info.summary.get("size", SCOPED_LITERAL + 1) <= SCOPED_LITERAL:
            scopes = consumers.get(key)
        else:
            scopes = None
        node.scope = next(iter(scopes)) if scopes and len(scopes) == 1 else ""


def scope_ops(nodes, edges):
    """An op that reads a scoped variable (``dense_1/kernel:0``) belongs to that scope, and so does an
    op whose one input comes from such an op (the layer's activation). No further: scopes must not
    spread down the whole graph through every later op."""
    inputs = {}
    for edge in edges:
        inputs.setdefault(edge.target, []).append(edge.source)
    from_variables = set()
    for target, sources in inputs.items():
        scopes = {nodes[s].scope for s in sources if nodes[s].kind == "variable" and nodes[s].scope}
        if nodes[target].kind == "op" and len(scopes) == 1:
            nodes[target].scope = scopes.pop()
            from_variables.add(target)
    for target, sources in inputs.items():
        if nodes[target].kind == "op" and not nodes[target].scope and len(sources) == 1 \
                and sources[0] in from_variables:
            nodes[target].scope = nodes[sources[0]].scope
