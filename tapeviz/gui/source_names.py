"""The names a user gave values in their code (``hidden = tf.nn.relu(...)``), read from the source lines.

An op recorded on the line of ``name = expression`` made that value when it was the last op of the
statement's execution: that op is labelled ``name`` in the graph and found by searching for it.
Pure functions of the inspection model; no Qt.
"""
import ast

from .reads import variable_reads

MAX_NAME = 32


def assignment_targets(source_text):
    """line number -> (statement's first line, assigned name) for each simple assignment in the text."""
    try:
        tree = ast.parse(source_text)
    except (SyntaxError, ValueError):
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            target = node.target
        else:
            continue
        name = ast.unparse(target) if isinstance(target, (ast.Name, ast.Attribute, ast.Subscript)) else None
        if not name or len(name) > MAX_NAME:
            continue
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            found[line] = (node.lineno, name)
    return found


def op_names(run, ops):
    """op id -> the user's name for its output, for ``ops`` (in execution order) of one tape.

    Consecutive ops on one assignment statement are its executions; a statement run again and again
    by a loop (``y = tf.sin(y) * 1.01``) repeats the same op types, so each repetition of the
    shortest repeating run of types is one execution, and its last op made the named value. Reads
    of variables are left out: only the first execution of ``y = tf.sin(x) * 1.01`` reads ``x``.
    """
    per_file = {}
    names = {}
    group, group_statement = [], None
    reads = variable_reads(run, ops)   # part of the variable, not of the statement's value
    for op in [op for op in ops if op.id not in reads] + [None]:
        statement = None
        location = op.location if op is not None else None
        if location is not None and location.file in run.sources:
            lines = per_file.get(location.file)
            if lines is None:
                lines = per_file[location.file] = assignment_targets(run.sources[location.file])
            hit = lines.get(location.line)
            if hit is not None:
                statement = (location.file, hit[0], hit[1])
        if statement != group_statement or op is None:
            if group_statement is not None:
                period = _period([o.type for o in group])
                for end in range(period - 1, len(group), period):
                    names[group[end].id] = group_statement[2]
            group, group_statement = [], statement
        if op is not None:
            group.append(op)
    return names


def _period(types):
    """The length of the shortest run of op types that, repeated, makes up ``types``."""
    count = len(types)
    for period in range(1, count // 2 + 1):
        if count % period == 0 and all(types[i] == types[i - period] for i in range(period, count)):
            return period
    return count


# Which Python operator or function makes which op: ``x @ w1`` is a MatMul whose first input is ``x``.
_OPERATOR_OPS = {ast.MatMult: {"MatMul", "BatchMatMulV2", "BatchMatMul"}, ast.Add: {"AddV2", "Add"},
                 ast.Sub: {"Sub"}, ast.Mult: {"Mul"}, ast.Div: {"RealDiv", "Div"}, ast.Pow: {"Pow"},
                 ast.FloorDiv: {"FloorDiv"}, ast.Mod: {"FloorMod"}}
_FUNCTION_OPS = {"matmul": {"MatMul", "BatchMatMulV2", "BatchMatMul"}, "add": {"AddV2", "Add"},
                 "subtract": {"Sub"}, "multiply": {"Mul"}, "divide": {"RealDiv", "Div"}, "pow": {"Pow"},
                 "maximum": {"Maximum"}, "minimum": {"Minimum"}, "squared_difference": {"SquaredDifference"}}


def _operands_on_lines(source_text):
    """line -> [(op types, [operand name or None, ...])] for each binary operator or known call spanning it."""
    try:
        tree = ast.parse(source_text)
    except (SyntaxError, ValueError):
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATOR_OPS:
            types, operands = _OPERATOR_OPS[type(node.op)], [node.left, node.right]
        elif isinstance(node, ast.Call) and not node.keywords:
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if func not in _FUNCTION_OPS:
                continue
            types, operands = _FUNCTION_OPS[func], node.args
        else:
            continue
        names = [o.id if isinstance(o, ast.Name) else None for o in operands]
        if not any(names):
            continue
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            found.setdefault(line, []).append((types, names))
    return found


def input_names(run, ops):
    """tensor id -> the name the user's code reads it by (``x`` in ``hidden = x @ w1``), for op inputs.

    A constant made before the tape (``x = tf.random.normal(...)``) is recorded without a name; the
    op that used it was recorded on a line, and an operator there of that op's kind whose operand in
    the input's place is a plain name names it. A tensor two uses name differently gets no name.
    Lines with no named operand are skipped at once (a long loop of ``tf.sin(y) * 1.01`` costs little)."""
    per_file, seen = {}, {}
    for op in ops:
        location = op.location
        if location is None or location.file not in run.sources:
            continue
        lines = per_file.get(location.file)
        if lines is None:
            lines = per_file[location.file] = _operands_on_lines(run.sources[location.file])
        entries = lines.get(location.line)
        if not entries:
            continue
        candidates = [names for types, names in entries if op.type in types]
        for position, tensor_id in enumerate(op.inputs):
            here = {names[position] for names in candidates if position < len(names)}
            here.discard(None)
            if here:
                seen.setdefault(tensor_id, set()).update(here)
    return {t: names.pop() for t, names in seen.items() if len(names) == 1}
