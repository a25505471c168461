"""Functional models: ``Model(inputs, outputs)`` replays the layer calls recorded on ``keras.Input`` tensors."""
from tapeviz.core import nest
from tapeviz.core.tensor import convert_to_tensor

from ..layers.input_layer import InputLayer
from ..layers.symbolic import KerasTensor
from .model import Model

__all__ = ["Functional"]


def _check_symbolic(structure, what):
    for leaf in nest.flatten(structure):
        if not isinstance(leaf, KerasTensor):
            raise ValueError(f"All `{what}` of a functional Model must be KerasTensors (from keras.Input and the "
                             f"layers called on it); received {type(leaf).__name__}: {leaf!r}")


class Functional(Model):
    """A model whose graph of layers is fixed when it is made, from its symbolic inputs to its outputs."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Model.__init__(self, name=name, trainable=trainable, **kwargs)
        _check_symbolic(inputs, "inputs")
        _check_symbolic(outputs, "outputs")
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs, self.outputs = nest.flatten(inputs), nest.flatten(outputs)
        self._functional_layers = self._layers_in_order()
        self._autocast = False
        self.built = True

    def _layers_in_order(self):
        """Every layer of the graph, each once, a layer after the layers that feed it."""
        ordered, seen, visiting = [], set(), set()

        def visit(tensor):
            node = tensor.history
            if node is None or id(node) in seen:
                return
            if id(node) in visiting:
                raise ValueError("The functional model's graph has a cycle.")
            visiting.add(id(node))
            for leaf in nest.flatten([list(node.args), node.kwargs]):
                if isinstance(leaf, KerasTensor):
                    visit(leaf)
            visiting.discard(id(node))
            seen.add(id(node))
            if node.layer not in ordered:
                ordered.append(node.layer)

        for output in self.outputs:
            visit(output)
        for tensor in self.inputs:
            if tensor.history and tensor.history.layer not in ordered:
                raise ValueError(f"Input {tensor.name} is not connected to the outputs of the model.")
        return ordered

    @property
    def layers(self):
        return list(self._functional_layers)

    @property
    def _layers(self):
        return list(self._functional_layers)

    def call(self, inputs, training=None, mask=None):
        values = {}
        if isinstance(inputs, dict) and not isinstance(self._inputs_struct, dict):
            inputs = self._inputs_by_name(inputs)
        flat_inputs = nest.flatten(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
        if len(flat_inputs) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s), but it received "
                             f"{len(flat_inputs)} input tensors.")
        for symbolic, value in zip(self.inputs, flat_inputs):
            tensor = convert_to_tensor(value, dtype_hint=symbolic.dtype)
            if tensor.dtype is not symbolic.dtype and tensor.dtype.is_floating and symbolic.dtype.is_floating:
                from tapeviz.ops.array_ops import cast
                tensor = cast(tensor, symbolic.dtype)
            values[id(symbolic)] = tensor
        results = {}
        outputs = [self._evaluate(output, values, results) for output in self.outputs]
        return nest.pack_sequence_as(self._outputs_struct, outputs) if isinstance(
            self._outputs_struct, (list, tuple, dict)) else outputs[0]

    def _inputs_by_name(self, inputs):
        """A dict of inputs in the order of the model's inputs, matched by the names given to keras.Input."""
        names = [tensor.history.layer.name for tensor in self.inputs]
        unknown = sorted(set(inputs) - set(names))
        if unknown or len(inputs) != len(names):
            raise ValueError(f"Model '{self.name}' has inputs named {names}; the dict given has keys "
                             f"{sorted(inputs)}. Name each keras.Input (Input(shape, name=...)) as its key.")
        return [inputs[name] for name in names]

    def _evaluate(self, tensor, values, results):
        if id(tensor) in values:
            return values[id(tensor)]
        node = tensor.history
        if isinstance(node.layer, InputLayer):
            raise ValueError(f"Input {tensor.name} of model '{self.name}' was not given a value.")
        if id(node) not in results:
            def resolve(leaf):
                return self._evaluate(leaf, values, results) if isinstance(leaf, KerasTensor) else leaf
            args = nest.pack_sequence_as(list(node.args), [resolve(a) for a in nest.flatten(list(node.args))])
            kwargs = nest.pack_sequence_as(node.kwargs, [resolve(a) for a in nest.flatten(node.kwargs)])
            results[id(node)] = nest.flatten(node.layer(*args, **kwargs))
        return results[id(node)][tensor.output_index]

