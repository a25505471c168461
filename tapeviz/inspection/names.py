"""What the user calls a tensor: the expressions written in a ``tape.gradient(...)`` line.

A recorded call keeps only tensor ids; its source line says ``tape.gradient(tensor_loss, tensor_x)``,
and those names read far better in an explanation or a legend than "the float32 output of AddV2".
Parsed files and the expressions of each call line are cached: a training loop makes the same call
thousands of times, and parsing the script for each one cost more than the step itself.
"""
import ast
import linecache

MAX_NAME = 40
_TREES = {}        # (file, text length) -> parsed module or None
_CALL_EXPRS = {}   # (file, line, kind) -> (target expr, sources expr) or None


def parse_file(filename):
    """The file's syntax tree (cached), or None if it cannot be read or parsed."""
    text = "".join(linecache.getlines(filename))
    key = (filename, len(text))
    if key not in _TREES:
        try:
            _TREES[key] = ast.parse(text) if text else None
        except (SyntaxError, ValueError):
            _TREES[key] = None
    return _TREES[key]


def _find_call(tree, line, kind):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == kind
                and node.lineno <= line <= (node.end_lineno or node.lineno)):
            keywords = {k.arg: k.value for k in node.keywords}
            target = node.args[0] if node.args else keywords.get("target")
            sources = node.args[1] if len(node.args) > 1 else keywords.get("sources")
            return target, sources
    return None


def call_names(source_text, line, kind, target_ids, source_ids):
    """tensor id -> the expression for it in the ``.gradient``/``.jacobian`` call on ``line``, where readable."""
    if not source_text:
        return {}
    try:
        tree = ast.parse(source_text)
    except (SyntaxError, ValueError):
        return {}
    return _names(_find_call(tree, line, kind), target_ids, source_ids)


def _names(found, target_ids, source_ids):
    if found is None:
        return {}
    target, sources = found
    names = _match(sources, source_ids)
    names.update(_match(target, target_ids))
    return names


def names_at(location, kind, target_ids, source_ids):
    """``call_names`` for a call recorded at ``location`` (the file parsed once, each call line found once)."""
    if location is None:
        return {}
    key = (location.file, location.line, kind)
    texts = _CALL_EXPRS.get(key, False)
    if texts is False:
        tree = parse_file(location.file)
        found = _find_call(tree, location.line, kind) if tree is not None else None
        texts = _CALL_EXPRS[key] = None if found is None else (_texts(found[0]), _texts(found[1]))
    if texts is None:
        return {}
    names = _zip_names(texts[1], source_ids)
    names.update(_zip_names(texts[0], target_ids))
    return names


def _texts(expr):
    """The source text of each item of a target/sources expression (unparsed once per call line)."""
    if expr is None:
        return None
    return [ast.unparse(item) for item in _items(expr)]


def _zip_names(texts, ids):
    if texts is None or len(texts) != len(ids):
        return {}
    return {tensor_id: text for tensor_id, text in zip(ids, texts) if len(text) <= MAX_NAME}


def _items(expr):
    if isinstance(expr, ast.Dict):
        return [value for _, value in sorted(zip((ast.unparse(k) for k in expr.keys), expr.values))]
    return expr.elts if isinstance(expr, (ast.List, ast.Tuple)) else [expr]


def statement_at(filename, line):
    """The innermost statement of ``filename`` that starts on ``line`` or spans it (None if unknown)."""
    tree = parse_file(filename)
    if tree is None:
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best.lineno:
                best = node
    return best


def _match(expr, ids):
    if expr is None:
        return {}
    items = _items(expr)
    if len(items) != len(ids):
        return {}
    names = {}
    for tensor_id, item in zip(ids, items):
        text = ast.unparse(item)
        if len(text) <= MAX_NAME:
            names[tensor_id] = text
    return names
