"""Flatten and rebuild nested lists, tuples and dicts, in TensorFlow's order (dict keys sorted)."""


def _is_namedtuple(value):
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


_NESTS = (list, tuple, dict)


def _is_flat(structure):
    """A plain list or tuple of leaves: the usual ``tape.gradient(loss, variables)``, handled without recursion."""
    kind = type(structure)
    return (kind is list or kind is tuple) and not any(isinstance(item, _NESTS) for item in structure)


def flatten(structure):
    """The leaves of ``structure`` in order; anything but a list, tuple or dict is a leaf."""
    if _is_flat(structure):
        return list(structure)
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_sequence_as(structure, flat):
    """Rebuild ``structure``'s shape with the leaves in ``flat``."""
    if _is_flat(structure):
        return type(structure)(flat)
    return _build(structure, iter(flat))


def _build(node, leaves):
    # A module-level function, not a closure: a recursive closure is a reference cycle that would
    # keep every gradient result alive until the next garbage collection.
    if isinstance(node, dict):
        built = {key: _build(node[key], leaves) for key in sorted(node)}
        return {key: built[key] for key in node} if type(node) is dict else type(node)((k, built[k]) for k in node)
    if _is_namedtuple(node):
        return type(node)(*[_build(item, leaves) for item in node])
    if isinstance(node, (list, tuple)):
        return type(node)(_build(item, leaves) for item in node)
    return next(leaves)
