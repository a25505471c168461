"""Flatten and rebuild nested lists, tuples and dicts, in TensorFlow's order (dict keys sorted)."""


def _is_namedtuple(value):
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def flatten(structure):
    """The leaves of ``structure`` in order; anything but a list, tuple or dict is a leaf."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_sequence_as(structure, flat):
    """Rebuild ``structure``'s shape with the leaves in ``flat``."""
    leaves = iter(flat)

    def build(node):
        if isinstance(node, dict):
            built = {key: build(node[key]) for key in sorted(node)}
            return type(node)((key, built[key]) for key in node) if type(node) is not dict else {k: built[k] for k in node}
        if _is_namedtuple(node):
            return type(node)(*[build(item) for item in node])
        if isinstance(node, (list, tuple)):
            return type(node)(build(item) for item in node)
        return next(leaves)

    return build(structure)
