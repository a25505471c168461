"""Symbolic tensors for the functional API: ``keras.Input(shape=...)`` and what layers return for them.

A ``KerasTensor`` has a shape (batch dimension None) and a dtype but no value. Calling a layer on one
builds the layer from the shape, works out the output shape by running the layer on zeros (batch of
1, in inference mode and outside any tape), and returns a new KerasTensor that remembers the layer
and its inputs; ``Model(inputs, outputs)`` replays those steps on real tensors.
"""
from tapeviz.core import dtypes, nest
from tapeviz.core.context import state

__all__ = ["KerasTensor", "Node", "is_symbolic", "call_symbolically"]


class Node:
    """One call of a layer in a functional model: the layer, its (symbolic) arguments, its outputs."""

    def __init__(self, layer, args, kwargs):
        self.layer, self.args, self.kwargs = layer, args, kwargs
        self.outputs = None

_counter = [0]


class KerasTensor:
    """A placeholder for a tensor in a functional model: a shape and a dtype, and how it was made."""

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype)
        if name is None:
            name = "keras_tensor" if _counter[0] == 0 else f"keras_tensor_{_counter[0]}"
            _counter[0] += 1
        self.name = name
        self.history = history      # the Node that made it
        self.output_index = 0       # its place among that node's flat outputs

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, sparse=False, ragged=False, "
                f"name={self.name}>")

    def __bool__(self):
        raise TypeError("A KerasTensor (a symbolic input of a functional model) has no value; call the "
                        "model on real data, or use a layer such as keras.layers.Lambda for Python logic.")

    def numpy(self):
        raise TypeError(f"{self.name} is a symbolic KerasTensor of shape {self.shape}: it has no value. Call "
                        "the model on data to get numbers.")


def is_symbolic(args, kwargs):
    return any(isinstance(leaf, KerasTensor) for leaf in nest.flatten([list(args), kwargs]))


def _zeros_like_symbolic(leaf):
    import numpy as np
    from tapeviz.core.tensor import Tensor
    if isinstance(leaf, KerasTensor):
        return Tensor(np.zeros(tuple(1 if d is None else d for d in leaf.shape), dtype=leaf.dtype.name))
    return leaf


def _as_symbolic(output, batch_unknown, node, index):
    shape = tuple(output.shape)
    if batch_unknown and shape:
        shape = (None,) + shape[1:]
    tensor = KerasTensor(shape, output.dtype, history=node)
    tensor.output_index = index
    return tensor


def call_symbolically(layer, args, kwargs):
    """Build ``layer`` for the KerasTensors in ``args`` and return KerasTensors for its outputs."""
    flat = [leaf for leaf in nest.flatten([list(args), kwargs]) if isinstance(leaf, KerasTensor)]
    batch_unknown = any(leaf.shape and leaf.shape[0] is None for leaf in flat)
    concrete_args = nest.pack_sequence_as(list(args), [_zeros_like_symbolic(a) for a in nest.flatten(list(args))])
    concrete_kwargs = nest.pack_sequence_as(kwargs, [_zeros_like_symbolic(a) for a in nest.flatten(kwargs)])
    if not layer.built:
        first = args[0]
        layer._build_from_shape(nest.pack_sequence_as(first, [leaf.shape for leaf in nest.flatten(first)])
                                if isinstance(first, (list, tuple, dict)) else first.shape)
    # Shape inference only: no tape may see these ops, and no state (moving statistics) may change.
    tapes, state.tapes = state.tapes, []
    try:
        concrete_kwargs.setdefault("training", False)
        outputs = layer(*concrete_args, **concrete_kwargs)
    finally:
        state.tapes = tapes
    node = Node(layer, tuple(args), dict(kwargs))
    node.outputs = nest.pack_sequence_as(
        outputs, [_as_symbolic(o, batch_unknown, node, i) for i, o in enumerate(nest.flatten(outputs))])
    layer._output_shapes = [o.shape for o in nest.flatten(node.outputs)]
    layer._symbolic_shapes = True
    return node.outputs
