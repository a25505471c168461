"""Layers that merge several inputs: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``, ``Concatenate``, and Keras's lower-case functions (``layers.add([a, b])``, ``layers.concatenate``)."""
import functools

from tapeviz.ops import array_ops, math_ops

from .base import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "add", "subtract",
           "multiply", "average", "maximum", "minimum", "concatenate"]


class _Merge(Layer):
    """Takes a list of tensors as its one input."""

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"A merge layer should be called on a list of at least 2 inputs. Got {inputs!r}")
        return super().__call__(list(inputs), *args, **kwargs)

    def call(self, inputs):
        return functools.reduce(self._merge_two, inputs)


class Add(_Merge):
    _merge_two = staticmethod(lambda a, b: a + b)


class Multiply(_Merge):
    _merge_two = staticmethod(lambda a, b: a * b)


class Maximum(_Merge):
    _merge_two = staticmethod(math_ops.maximum)


class Minimum(_Merge):
    _merge_two = staticmethod(math_ops.minimum)


class Subtract(_Merge):
    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: inputs={inputs}")
        return inputs[0] - inputs[1]


class Average(_Merge):
    def call(self, inputs):
        return functools.reduce(lambda a, b: a + b, inputs) / float(len(inputs))


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return array_ops.concat(inputs, axis=self.axis)


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``."
    return merge


add, subtract, multiply, average = _functional(Add), _functional(Subtract), _functional(Multiply), _functional(Average)
maximum, minimum, concatenate = _functional(Maximum), _functional(Minimum), _functional(Concatenate)
