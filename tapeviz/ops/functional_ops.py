"""Higher-order functions over the first axis: ``map_fn``, ``vectorized_map``, ``scan``, ``foldl``, ``foldr``.

They run eagerly, as TensorFlow's do outside ``tf.function``: a Python loop calls ``fn`` on each slice
(one ``Unpack`` per input) and stacks the results (one ``Pack`` per output), so tapes record every
op ``fn`` runs and gradients flow through them. ``elems`` and the results may be nested lists,
tuples and dicts, as in TF.
"""
from tapeviz.core import nest

from . import array_ops
from ._dispatch import as_tensor

__all__ = []


def _slices(elems, what):
    """The list of per-index structures of ``elems`` along its first axis."""
    leaves = [as_tensor(leaf) for leaf in nest.flatten(elems)]
    if not leaves:
        raise ValueError(f"{what} needs at least one tensor in elems, got {elems!r}.")
    for leaf in leaves:
        if leaf.ndim == 0:
            raise ValueError(f"{what} iterates over the first dimension of elems, but an element of elems is a "
                             "scalar; pass tensors of rank >= 1.")
    count = leaves[0].shape[0]
    for leaf in leaves[1:]:
        if leaf.shape[0] != count:
            raise ValueError(f"{what}: all elems must have the same first dimension, got "
                             f"{[leaf.shape[0] for leaf in leaves]}.")
    columns = [array_ops.unstack(leaf) if count else [] for leaf in leaves]
    slices = [nest.pack_sequence_as(elems, [column[i] for column in columns]) for i in range(count)]
    return slices, leaves


def _stacked(results, what):
    """One structure of tensors from a list of structures: each leaf stacked along a new first axis."""
    flat = [nest.flatten(result) for result in results]
    if any(len(leaves) != len(flat[0]) for leaves in flat):
        raise ValueError(f"{what}: fn returned structures with different numbers of tensors; return the same "
                         "structure for every element.")
    stacked = [array_ops.stack(list(column)) for column in zip(*flat)]
    return nest.pack_sequence_as(results[0], stacked)


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop=True, swap_memory=False, infer_shape=True,
           name=None, fn_output_signature=None):
    """``fn`` applied to each slice of ``elems`` along the first axis, the results stacked."""
    slices, leaves = _slices(elems, "map_fn")
    signature = fn_output_signature if fn_output_signature is not None else dtype
    if not slices:  # no element: TF stacks nothing into a (0,) tensor per leaf of the signature
        structure = elems if signature is None else signature
        return nest.pack_sequence_as(structure, [array_ops.zeros((0,), leaf.dtype if signature is None else leaf)
                                                 for leaf in (leaves if signature is None else nest.flatten(signature))])
    results = [fn(item) for item in slices]
    if signature is None and not _same_structure(elems, results[0]):
        raise ValueError(f"The two structures don't have the same nested structure: map_fn's fn returned "
                         f"{_shape_of(results[0])} for elems of structure {_shape_of(elems)}. TF assumes fn returns "
                         "the structure of elems; pass fn_output_signature (e.g. {'a': tapeviz.float32}) when it "
                         "does not.")
    return _stacked(results, "map_fn")


def _same_structure(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and all(
            _same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _same_structure(x, y) for x, y in zip(a, b))
    return True


def _shape_of(structure):
    """The nesting of ``structure`` with each leaf as '.', for messages."""
    if isinstance(structure, dict):
        return "{" + ", ".join(f"{k!r}: {_shape_of(v)}" for k, v in structure.items()) + "}"
    if isinstance(structure, (list, tuple)):
        inner = ", ".join(_shape_of(v) for v in structure)
        return f"[{inner}]" if isinstance(structure, list) else f"({inner})"
    return "."


def vectorized_map(fn, elems, fallback_to_while_loop=True, warn=True):
    """``map_fn``'s result (TF vectorizes ``fn``; eagerly the values and gradients are the same)."""
    return map_fn(fn, elems)


def scan(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, infer_shape=True,
         reverse=False, name=None):
    """Each accumulator of ``a = fn(a, x)`` over the slices of ``elems``, stacked; without an initializer
    the first slice is the first accumulator (and the first output), as in TF."""
    slices, _ = _slices(elems, "scan")
    order = list(range(len(slices)))[::-1] if reverse else list(range(len(slices)))
    outputs = {}
    if initializer is None:
        if not slices:
            raise ValueError("scan over empty elems needs an initializer.")
        accumulator = slices[order[0]]
        outputs[order[0]] = accumulator
        order = order[1:]
    else:
        accumulator = initializer
    for i in order:
        accumulator = fn(accumulator, slices[i])
        outputs[i] = accumulator
    if not outputs:
        raise ValueError("scan over empty elems has nothing to stack.")
    return _stacked([outputs[i] for i in sorted(outputs)], "scan")


def _fold(fn, elems, initializer, reverse, what):
    slices, _ = _slices(elems, what)
    if reverse:
        slices = slices[::-1]
    if initializer is None:
        if not slices:
            raise ValueError(f"{what} over empty elems needs an initializer.")
        accumulator, slices = slices[0], slices[1:]
    else:
        accumulator = initializer
    for item in slices:
        accumulator = fn(accumulator, item)
    return accumulator


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """The last accumulator of ``a = fn(a, x)`` over the slices of ``elems``, first to last."""
    return _fold(fn, elems, initializer, False, "foldl")


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """The last accumulator of ``a = fn(a, x)`` over the slices of ``elems``, last to first."""
    return _fold(fn, elems, initializer, True, "foldr")
