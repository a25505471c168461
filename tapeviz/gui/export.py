"""A tape's graph as a file or a notebook figure, with the inspector's layout and colours, no window.

``export_tape(run, tape_id, "graph.svg" | "graph.png" | "graph.dot")`` writes one file;
``TapeFigure(run, tape_id)`` shows in Jupyter (``_repr_svg_``), as torchviz's graphs do. Sources
whose gradient came out None on that tape are marked where their path breaks, as in the inspector.
``export_main(argv)`` is the command line behind ``tapeviz export RUN_FILE [--tape N] -o FILE``.
"""
import argparse
import os
import sys

FORMATS = ("svg", "png", "dot")


def _application():
    """Qt's application object, made offscreen when there is none and no display to show one."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication(["tapeviz"])


def _default_tape(run):
    """The first tape with a problem, else the first tape with ops, else the first."""
    from .loader import index_run
    index = index_run(run)
    for tape_id in run.tapes:
        if index.problems_per_tape.get(tape_id):
            return tape_id
    return next((t for t, tape in run.tapes.items() if tape.ops), next(iter(run.tapes), None))


def broken_keys(run, tape_id):
    """Node keys where a None gradient's path breaks, for every call on the tape."""
    keys = set()
    for call in run.calls:
        if call.tape != tape_id:
            continue
        for result in call.results:
            for explanation in result.explanations.values():
                marked = {f"op:{i['op']}" for i in explanation.evidence if i.get("op") is not None}
                marked |= {f"t:{i['tensor']}" for i in explanation.evidence if i.get("tensor") is not None}
                keys |= marked or {f"t:{result.source}"}
    return keys


def _plan(run, tape_id, fold):
    from .graph_view import plan_graph
    return plan_graph(0, run, tape_id, fold=fold)


def _style():
    from PySide6 import QtGui
    from .graph_items import GraphStyle
    return GraphStyle(QtGui.QPalette())


def _marks(plan, run, tape_id):
    from .graph_items import Marks
    return Marks(set(), {plan.owner[k] for k in broken_keys(run, tape_id) if k in plan.owner})


def tape_svg(run, tape_id=None, fold=True):
    """The tape's graph as SVG text."""
    from .graph_view import svg_text
    _application()
    tape_id = _default_tape(run) if tape_id is None else tape_id
    plan = _plan(run, tape_id, fold)
    return svg_text(plan, _style(), _marks(plan, run, tape_id))


def tape_dot(run, tape_id=None, fold=True):
    """The tape's graph in Graphviz's DOT language (drawn top to bottom, as the inspector draws it)."""
    from .graph import build_graph, fold_graph, hover_text
    tape_id = _default_tape(run) if tape_id is None else tape_id
    full = build_graph(run, tape_id)
    graph, owner = fold_graph(full, repeats=fold)
    broken = {owner[k] for k in broken_keys(run, tape_id) if k in owner}
    shapes = {"variable": "ellipse", "group": "ellipse", "constant": "box", "op": "box", "fold": "box3d",
              "scope": "box3d", "update": "box"}

    def quote(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [f"digraph {quote(f'tape {tape_id}')} {{", "  rankdir=TB;", '  node [fontname="sans-serif"];']
    node_lines = {}
    for key, node in graph.nodes.items():
        label = f"{node.name}\n{node.label}" if node.name else node.label
        attrs = [f"label={quote(label)}", f"shape={shapes.get(node.kind, 'box')}",
                 f"tooltip={quote(hover_text(node))}"]
        if node.kind == "op":
            attrs.append('style="rounded"')
        if "watched" in node.flags:
            attrs.append('color="#2e9d3a" penwidth=3')
        elif node.kind == "update":   # a stateful assignment, outside the tape
            attrs.append('color="#ef6c00" style="dashed" penwidth=2')
        if key in broken:
            attrs.append('color="#e53935" style="dashed" penwidth=3 xlabel="path breaks here"')
        node_lines[key] = f"{quote(key)} [{' '.join(attrs)}];"
    lines += _clusters(graph, node_lines, quote)
    for edge in graph.edges:
        lines.append(f"  {quote(edge.source)} -> {quote(edge.target)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def export_tape(run, tape_id, path, fold=True):
    """Write the tape's graph to ``path``; its extension picks the format (.svg, .png or .dot)."""
    kind = os.path.splitext(path)[1].lstrip(".").lower()
    if kind not in FORMATS:
        raise ValueError(f"cannot export a graph as '.{kind}': name the output file .svg, .png or .dot")
    if kind == "dot":
        text = tape_dot(run, tape_id, fold)
    elif kind == "svg":
        text = tape_svg(run, tape_id, fold)
    else:
        _application()
        from .graph_view import GraphView
        view = GraphView()
        view._draw(_plan(run, tape_id, fold))
        view.highlight(set(), broken_keys(run, tape_id))
        ok = view.export_png(path)
        view.deleteLater()
        if not ok:
            raise OSError(f"could not write {path}")
        return path
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    return path


class TapeFigure:
    """A tape's graph for Jupyter: ``TapeFigure(run)`` as the last line of a cell draws it."""

    def __init__(self, run, tape_id=None, fold=True):
        self.run, self.fold = run, fold
        self.tape_id = _default_tape(run) if tape_id is None else tape_id

    def _repr_svg_(self):
        return tape_svg(self.run, self.tape_id, self.fold)


def export_main(argv=None):
    """``tapeviz export RUN_FILE [--tape N] -o graph.svg|png|dot``; returns the exit status."""
    from tapeviz.inspection.tapefile import TapeFileError, load

    parser = argparse.ArgumentParser(prog="tapeviz export", description=export_main.__doc__.splitlines()[0])
    parser.add_argument("run_file")
    parser.add_argument("--tape", type=int, help="the tape to draw (default: the first with a problem)")
    parser.add_argument("-o", "--output", required=True, help="graph.svg, graph.png or graph.dot")
    parser.add_argument("--all-ops", action="store_true", help="draw every op: no folded loops or groups")
    args = parser.parse_args(argv)
    try:
        run = load(args.run_file)
    except TapeFileError as error:
        print(f"tapeviz: error: {error}", file=sys.stderr)
        return 2
    if args.tape is not None and args.tape not in run.tapes:
        print(f"tapeviz: error: {args.run_file} has no tape {args.tape}; its tapes are "
              f"{', '.join(map(str, run.tapes)) or 'none'}.", file=sys.stderr)
        return 2
    if not run.tapes:
        print(f"tapeviz: error: {args.run_file} recorded no tapes: there is no graph to draw.", file=sys.stderr)
        return 2
    try:
        export_tape(run, args.tape if args.tape is not None else _default_tape(run), args.output,
                    fold=not args.all_ops)
    except (ValueError, OSError) as error:
        print(f"tapeviz: error: {error}", file=sys.stderr)
        return 2
    return 0


def _clusters(graph, node_lines, quote):
    """The node lines, each open name scope a nested ``subgraph cluster`` labelled with its name, as the
    inspector frames them."""
    from .scope_frames import open_scopes
    inside = {}   # scope ("" for none) -> node keys directly in it
    children = {}
    for key, node in graph.nodes.items():
        scopes = open_scopes(node)
        inside.setdefault(scopes[-1] if scopes else "", []).append(key)
        for parent, child in zip([""] + scopes, scopes):
            children.setdefault(parent, [])
            if child not in children[parent]:
                children[parent].append(child)
    lines = []

    def emit(scope, indent):
        for key in inside.get(scope, []):
            lines.append(indent + node_lines[key])
        for child in children.get(scope, []):
            lines.append(f"{indent}subgraph {quote('cluster_' + child)} {{")
            lines.append(f'{indent}  label={quote(child.rpartition("/")[2])}; style="rounded"; color="#5c6bc0";')
            emit(child, indent + "  ")
            lines.append(indent + "}")

    emit("", "  ")
    return lines
