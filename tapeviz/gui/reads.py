"""Variable reads drawn as part of their variable, as TensorBoard folds ``ReadVariableOp`` into it.

Every read of a variable is a recorded op (``ReadVariableOp``: in, the variable; out, a new tensor),
as in TensorFlow. Drawn as boxes of their own, reads would put a node between each variable and
every op using it: loops would no longer repeat alike (the first step reads, the others do not),
layers would lose their scope (no op would read a scoped variable directly), and a small MLP would
show a box per weight that says nothing. The graph instead draws an edge from the variable itself
to each op that used a read of it; the read is still counted in the variable's hover text and
found by its op key (selection, paths and the backward pass map it to the variable).

Pure functions of the inspection model; no Qt.
"""
READ_OP = "ReadVariableOp"


def variable_reads(run, ops):
    """op id -> variable tensor id, for each op of ``ops`` that reads a variable and makes one tensor."""
    found = {}
    for op in ops:
        if op.type == READ_OP and len(op.inputs) == 1 and len(op.outputs) == 1:
            info = run.tensors.get(op.inputs[0])
            if info is not None and info.kind == "variable":
                found[op.id] = op.inputs[0]
    return found
