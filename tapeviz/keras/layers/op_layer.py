"""Arithmetic on symbolic tensors: ``keras.Input(...) + 1`` or ``a * b`` in a functional model.

Each operator on a KerasTensor becomes a small layer (Keras 3 does the same) that runs the tapeviz
op when the model is called, so the model replays it and tapes record it.
"""
import operator

from .base import Layer, unique_name
from .symbolic import KerasTensor

__all__ = ["OpLayer"]


class OpLayer(Layer):
    """Applies ``function(*inputs)``; made by the operators of KerasTensor."""

    def __init__(self, function, name=None, **kwargs):
        super().__init__(name=unique_name(name) if name else None, **kwargs)
        self.function = function

    def call(self, *inputs):
        return self.function(*inputs)


def _binary(name, function, reflected=False):
    def method(self, other):
        operands = (other, self) if reflected else (self, other)
        if not isinstance(operands[0], KerasTensor):  # the layer's first input must be a tensor
            return OpLayer(lambda b, a: function(a, b), name=name)(operands[1], operands[0])
        return OpLayer(function, name=name)(*operands)
    return method


for _name, _function in [("add", operator.add), ("subtract", operator.sub), ("multiply", operator.mul),
                         ("divide", operator.truediv), ("matmul", operator.matmul), ("power", operator.pow)]:
    _dunder = {"subtract": "sub", "multiply": "mul", "divide": "truediv", "power": "pow"}.get(_name, _name)
    setattr(KerasTensor, f"__{_dunder}__", _binary(_name, _function))
    setattr(KerasTensor, f"__r{_dunder}__", _binary(_name, _function, reflected=True))

KerasTensor.__neg__ = lambda self: OpLayer(operator.neg, name="negative")(self)
KerasTensor.__getitem__ = lambda self, key: OpLayer(lambda x: x[key], name="get_item")(self)
