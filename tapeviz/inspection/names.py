"""What the user calls a tensor: the expressions written in a ``tape.gradient(...)`` line.

A recorded call keeps only tensor ids; its source line says ``tape.gradient(tensor_loss, tensor_x)``,
and those names read far better in an explanation or a legend than "the float32 output of AddV2".
"""
import ast
import linecache

MAX_NAME = 40


def call_names(source_text, line, kind, target_ids, source_ids):
    """tensor id -> the expression for it in the ``.gradient``/``.jacobian`` call on ``line``, where readable."""
    if not source_text:
        return {}
    try:
        tree = ast.parse(source_text)
    except (SyntaxError, ValueError):
        return {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == kind
                and node.lineno <= line <= (node.end_lineno or node.lineno)):
            keywords = {k.arg: k.value for k in node.keywords}
            target = node.args[0] if node.args else keywords.get("target")
            sources = node.args[1] if len(node.args) > 1 else keywords.get("sources")
            names = _match(sources, source_ids)
            names.update(_match(target, target_ids))
            return names
    return {}


def names_at(location, kind, target_ids, source_ids):
    """``call_names`` for a call recorded at ``location`` (reads the file through linecache)."""
    if location is None:
        return {}
    return call_names("".join(linecache.getlines(location.file)), location.line, kind, target_ids, source_ids)


def _match(expr, ids):
    if expr is None:
        return {}
    if isinstance(expr, ast.Dict):
        items = [value for _, value in sorted(zip((ast.unparse(k) for k in expr.keys), expr.values))]
    else:
        items = expr.elts if isinstance(expr, (ast.List, ast.Tuple)) else [expr]
    if len(items) != len(ids):
        return {}
    names = {}
    for tensor_id, item in zip(ids, items):
        text = ast.unparse(item)
        if len(text) <= MAX_NAME:
            names[tensor_id] = text
    return names
