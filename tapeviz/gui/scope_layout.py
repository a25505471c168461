"""Compound layout: each open name scope's nodes kept together in one rectangle, as Graphviz clusters
and TensorBoard's graph view draw layers. Pure functions; no Qt.

A scope's contents are laid out first, deepest scopes first; its parent then places it as one box
of that size beside its own nodes and sibling scopes, and the children's positions are finally
offset into place. Flow stays top to bottom at every level: a box starts below everything it reads
from. A level of plain nodes (a layer's MatMul, AddV2, Relu and weights) is ordered by the flat
layout (``graph.layout``'s); a level holding scopes by placing its items in top-to-bottom order,
each under the mean of what it reads, pushed sideways off anything it would overlap; a long edge (a
residual block's skip connection) keeps a lane clear beside the boxes it passes, and a leaf read deep
inside a box (a dropout mask) sits beside the box at that height. Edges crossing a scope's border are
drawn between the final positions. The rectangles are kept on the graph
(``TapeGraph.scope_boxes``) for the frames drawn around them.
"""
from .scopes import open_scopes

PAD = 14.0        # inside a frame, left, right and below its contents
TITLE = 24.0      # above a frame's contents: room for the scope's name
TITLE_CHAR = 7.5  # the width of a character of that name, about (no fonts here: the drawing's are close)
PORT_WIDTH = 24.0   # the room an edge from outside takes in a level's row
WIDE_ROW = 40       # plain items in one row beyond which the row is placed at once
LANE_WIDTH = 8.0    # the room a long edge keeps clear beside the items it passes
ROW = 48.0        # the height a plain node takes in a level holding scopes (the tallest box), for alignment


def has_open_scopes(graph):
    return any(node.scope and open_scopes(node) for node in graph.nodes.values())


def compound_layout(graph, flat, hgap, vgap, width_of, height_of, min_gap, progress=None):
    """Set x, y of every node but updates (placed later, apart) and ``graph.scope_boxes``.

    ``flat(keys, pairs)`` lays out a level of plain nodes: (column, layer) per key, as the flat layout does.
    """
    chains = {key: open_scopes(node) for key, node in graph.nodes.items() if node.kind != "update"}
    children, direct = {"": {}}, {"": []}
    for key, chain in chains.items():
        parent = ""
        for scope in chain:
            children.setdefault(parent, {})[scope] = None   # a dict: an ordered set, first seen first
            children.setdefault(scope, {})
            direct.setdefault(scope, [])
            parent = scope
        direct[parent].append(key)
    level_pairs = {scope: {} for scope in children}
    ports = {scope: {} for scope in children}   # (("in", outside source) or ("out", outside target)) -> inner keys
    for edge in graph.edges:
        up, down = chains.get(edge.source), chains.get(edge.target)
        if up is None or down is None:
            continue
        shared = 0
        while shared < len(up) and shared < len(down) and up[shared] == down[shared]:
            shared += 1
        level = up[shared - 1] if shared else ""
        a = _scope_item(up[shared]) if len(up) > shared else edge.source
        b = _scope_item(down[shared]) if len(down) > shared else edge.target
        level_pairs[level].setdefault((a, b), []).append((edge.source, edge.target))
        if len(up) > shared:
            ports[up[-1]].setdefault(("out", edge.target), []).append(edge.source)
        if len(down) > shared:
            ports[down[-1]].setdefault(("in", edge.source), []).append(edge.target)
    sizes = {}    # item -> (width, height)
    placed = {}   # scope -> {item: (cx, cy)} relative to the top-left of its frame (of the whole, for "")
    across = {}   # scope -> {node key or port inside it, at any depth: (x from the frame's centre, y from its top)}
    scopes = sorted(children, key=lambda s: -(s.count("/") + 1 if s else 0))   # deepest first, root last
    for done, scope in enumerate(scopes):
        items = direct[scope] + [_scope_item(child) for child in children[scope]]
        for key in direct[scope]:
            node = graph.nodes[key]
            sizes[key] = (width_of(node), height_of(node))
        pairs = level_pairs[scope]
        port_x = {}
        if children[scope]:
            centres = _stack(items, pairs, sizes, vgap, min_gap, across)
        else:
            centres, port_x = _flat_level(items, pairs, ports[scope], sizes, flat, hgap, vgap, min_gap)
        left = min(centres[i][0] - sizes[i][0] / 2 for i in items)
        top = min(centres[i][1] - sizes[i][1] / 2 for i in items)
        right = max(centres[i][0] + sizes[i][0] / 2 for i in items)
        bottom = max(centres[i][1] + sizes[i][1] / 2 for i in items)
        if scope:   # as wide as its title at least (a one-op scope of a long name), its contents centred
            width = max(right - left + 2 * PAD, TITLE_CHAR * len(scope.rpartition("/")[2]) + 2 * PAD)
            dx, dy = (width - (right - left)) / 2 - left, TITLE - top
            sizes[_scope_item(scope)] = (width, bottom - top + TITLE + PAD)
        else:
            dx, dy = -left, -top
        placed[scope] = {i: (x + dx, y + dy) for i, (x, y) in centres.items()}
        if scope:   # where edges meet the box: an edge into the scope is drawn to the node it reaches
            middle = sizes[_scope_item(scope)][0] / 2
            offsets = across[_scope_item(scope)] = {}
            for item, (x, y) in placed[scope].items():
                if item.startswith("\0"):
                    shift_x, shift_y = x - middle, y - sizes[item][1] / 2
                    for key, (inner_x, inner_y) in across.pop(item).items():
                        offsets[key] = (inner_x + shift_x, inner_y + shift_y)
                else:
                    offsets[item] = (x - middle, y)
            for port, (x, y) in port_x.items():
                offsets[port] = (x + dx - middle, y + dy)
        if progress is not None and done % 50 == 49:
            progress(done / len(scopes))
    graph.scope_boxes = {}
    _put(graph, "", 0.0, 0.0, placed, sizes)
    return graph


def _scope_item(scope):
    return "\0" + scope   # never a node key


def _put(graph, scope, left, top, placed, sizes):
    """Offset a scope's items by its frame's top-left; recurse into the scopes inside it."""
    pending = [(scope, left, top)]
    while pending:
        scope, left, top = pending.pop()
        for item, (x, y) in placed[scope].items():
            if item.startswith("\0"):
                width, height = sizes[item]
                child_left, child_top = left + x - width / 2, top + y - height / 2
                graph.scope_boxes[item[1:]] = (child_left, child_top, child_left + width, child_top + height)
                pending.append((item[1:], child_left, child_top))
            else:
                node = graph.nodes[item]
                node.x, node.y = left + x, top + y


def _flat_level(items, pairs, ports, sizes, flat, hgap, vgap, min_gap):
    """Centres of a level of plain nodes, by the flat layout, each row pushed apart to fit its boxes; and
    the x of each port. A port stands for a node outside that edges come from (above the level's first
    reader) or go to (below): laid out as a node, it keeps the edge's way in clear of the level's own nodes."""
    index = {item: i for i, item in enumerate(items)}
    index.update((port, len(items) + n) for n, port in enumerate(ports))
    links = {(index[a], index[b]) for a, b in pairs}
    for port, inner in ports.items():
        for key in inner:
            links.add((index[port], index[key]) if port[0] == "in" else (index[key], index[port]))
    coords = flat(len(index), sorted(links))
    everything = items + list(ports)
    centres = {item: [column * hgap, layer * vgap] for item, (column, layer) in zip(everything, coords)}
    rows = {}
    for item, (x, y) in centres.items():
        rows.setdefault(y, []).append(item)
    width = {item: sizes[item][0] if item in sizes else PORT_WIDTH for item in everything}
    for row in rows.values():
        row.sort(key=lambda i: centres[i][0])
        for left, right in zip(row, row[1:]):
            least = centres[left][0] + (width[left] + width[right]) / 2 + min_gap
            centres[right][0] = max(centres[right][0], least)
    return {item: tuple(centres[item]) for item in items}, {port: tuple(centres[port]) for port in ports}


def _stack(items, pairs, sizes, vgap, gap, across):
    """Centres of a level holding scopes: rows by longest path in pixels (each item starts below what it
    reads), then, top to bottom, each item as near the mean of its neighbours as the placed ones allow.

    ``pairs`` maps each edge between two items to the node pairs it stands for: an edge into a scope
    pulls toward the node it reaches inside (``across``: a node's x from its scope box's centre)."""
    def offset(item, key, port):
        if not item.startswith("\0"):
            return 0.0
        return across[item].get(port, across[item][key])[0]

    def entry(item, key, port):   # how far below a box's top an edge from outside comes in
        if port in across[item]:
            return across[item][port][1]
        return across[item][key][1] - vgap

    pulls = {i: [] for i in items}   # item -> (neighbour, how far right of the neighbour it wants to be)
    for (a, b), ends in pairs.items():
        if a.startswith("\0") and b.startswith("\0"):
            shift = 0.0   # one layer after another: a straight column of boxes reads better than aligned ports
        else:
            shift = sum(offset(a, u, ("out", v)) - offset(b, v, ("in", u)) for u, v in ends) / len(ends)
        pulls[b].append((a, shift, True))
        pulls[a].append((b, -shift, False))
    heights = {i: max(sizes[i][1], ROW) if not i.startswith("\0") else sizes[i][1] for i in items}
    below = max(vgap - ROW, gap)   # the space between an item and the next one down
    order, kept = _acyclic_order(items, pairs)
    preds, succs = {i: [] for i in items}, {i: [] for i in items}
    for a, b in kept:
        succs[a].append(b)
        preds[b].append(a)
    top = {}
    for item in order:
        top[item] = max((top[p] + heights[p] + below for p in preds[item]), default=0.0)
    for item in reversed(order):   # as late as possible: a layer's input sits just above the layer
        if not succs[item]:
            continue
        limits = []
        for succ in succs[item]:
            deep = None
            if not preds[item] and succ.startswith("\0") and not item.startswith("\0"):
                deep = min(entry(succ, v, ("in", u)) for u, v in pairs[(item, succ)])
            if deep is not None and deep > 2 * vgap:
                # A leaf read deep inside a box (a dropout mask) sits beside the box at that height,
                # not above it with an edge across everything in between.
                limits.append(top[succ] + deep - heights[item] / 2)
            else:
                limits.append(top[succ] - below - heights[item])
        top[item] = max(top[item], min(limits))
    rank = {item: n for n, item in enumerate(order)}
    # A long edge (a skip connection over a residual block) gets a lane: a narrow strip from its source
    # down to its target, placed before the items beside it, so that they make way instead of the
    # edge being drawn across them.
    lanes = []
    for a, b in kept:
        start, end = top[a] + heights[a], top[b]
        if end - start > below + 1.0:
            shift = sum(offset(a, u, None) for u, v in pairs[(a, b)]) / len(pairs[(a, b)])   # from the node itself
            lanes.append(((a, b), start, end, shift))
    span = {item: (top[item], top[item] + heights[item]) for item in items}
    span.update((lane, (start, end)) for lane, start, end, _ in lanes)
    width = {item: sizes[item][0] for item in items}
    width.update((lane, LANE_WIDTH) for lane, *_ in lanes)
    lane_of = {lane: (lane[0], shift) for lane, _, _, shift in lanes}   # lane -> its source and port
    lane_into = {}   # item -> (lane, x of the lane's way in from the item's centre)
    for (a, b), *_ in lanes:
        into = sum(offset(b, v, None) for u, v in pairs[(a, b)]) / len(pairs[(a, b)])
        lane_into.setdefault(b, []).append(((a, b), into))
    sequence = sorted(list(items) + list(lane_of), key=lambda i: (span[i][0], rank[i] if i in rank else -1))
    x = {}
    runs = []   # the sequence cut into runs of plain items sharing one row (a wide row is placed at once)
    for item in sequence:
        row = span[item] if isinstance(item, str) and not item.startswith("\0") else None
        if runs and row is not None and runs[-1][0] == row:
            runs[-1][1].append(item)
        else:
            runs.append((row, [item]))
    previous, x = {}, {}

    def wanted(item):
        if item in lane_of:
            source, shift = lane_of[item]
            near = [x[source] + shift]
        elif item in lane_into:   # the end of a long edge: straight under it, the shorter way in makes the bend
            near = [x[lane] - into for lane, into in lane_into[item]]
        else:
            near = [x[n] + shift for n, shift, above in pulls[item] if above and n in x]
            if not near and previous:
                near = [previous[n] + shift for n, shift, above in pulls[item] if not above]
        return sum(near) / len(near) if near else 0.0

    for sweep in range(2):
        previous, x = x, {}
        placed = []   # (left, top, right, bottom) of the items placed in this sweep
        for row, run in runs:
            t, b = span[run[0]]
            placed = [box for box in placed if box[3] > t]   # tops only grow: those end above for good
            blocking = [box for box in placed if box[1] < b]
            if len(run) > WIDE_ROW:
                x.update(_place_row([(wanted(item), width[item] / 2, item) for item in run], blocking, gap))
                placed += [(x[i] - width[i] / 2, t, x[i] + width[i] / 2, b) for i in run]
                continue
            for item in run:
                t, b = span[item]
                half = width[item] / 2
                x[item] = _free_spot(wanted(item), half, blocking, gap)
                blocking.append((x[item] - half, t, x[item] + half, b))
                placed.append(blocking[-1])
    return {item: (x[item], top[item] + heights[item] / 2) for item in items}


def _place_row(wants, blocking, gap):
    """Many boxes of one row at once (each as near its wanted x as the others allow, left to right in
    the order of those wishes, clear of the blocking boxes): placing them one by one against all the
    others placed took seconds for a row of thousands."""
    wants.sort(key=lambda w: w[0])
    widest = max(half for _, half, _ in wants)
    spans = sorted((left - gap - widest, right + gap + widest) for left, _, right, _ in blocking)
    at, where, index = float("-inf"), {}, 0
    for want, half, item in wants:
        x = max(want, at + half)
        while index < len(spans) and spans[index][1] <= x:
            index += 1
        while index < len(spans) and spans[index][0] < x:   # inside a blocked span: past it, rightwards
            x = max(x, spans[index][1])
            index += 1
        where[item] = x
        at = x + half + gap
    if not spans:   # nothing beside the row: centred where its items want to be, not spread to the right
        shift = sum(want for want, _, _ in wants) / len(wants) - sum(where.values()) / len(where)
        where = {item: x + shift for item, x in where.items()}
    return where


def _free_spot(want, half, blocking, gap):
    """The x nearest ``want`` where a box ``2 * half`` wide keeps ``gap`` from every blocking box."""
    spans = sorted((left - gap - half, right + gap + half) for left, _, right, _ in blocking)
    merged = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    for lo, hi in merged:
        if lo < want < hi:
            return lo if want - lo <= hi - want else hi
    return want


def _acyclic_order(items, pairs):
    """A topological order of the level's items and its edges without those closing a cycle (a scope's
    output read outside and fed back into it makes one between the boxes of a level)."""
    succs = {i: [] for i in items}
    for a, b in pairs:
        succs[a].append(b)
    state = dict.fromkeys(items, 0)   # 0 unseen, 1 on the path, 2 done
    finished, kept = [], []
    for root in items:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succs[root]))]
        while stack:
            item, rest = stack[-1]
            for nxt in rest:
                if state[nxt] == 1:
                    continue            # back edge: dropped
                kept.append((item, nxt))
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, iter(succs[nxt])))
                    break
            else:
                state[item] = 2
                finished.append(item)
                stack.pop()
    return finished[::-1], kept
