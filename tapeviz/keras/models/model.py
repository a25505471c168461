"""``keras.Model``: a Layer that can be trained (``compile`` / ``fit`` / ``evaluate`` / ``predict``).

Subclass it and write ``call`` (the layers assigned to attributes are tracked), or call it as
``Model(inputs, outputs)`` on ``keras.Input`` tensors for a functional model.
"""
import warnings

from ..layers.base import Layer
from .summary import print_summary
from .training import Trainer

__all__ = ["Model"]


def _functional_arguments(args, kwargs):
    """Whether a Model is being made from inputs and outputs, by Keras 3's test."""
    return len(args) == 2 or (len(args) == 1 and "outputs" in kwargs) or ("inputs" in kwargs and "outputs" in kwargs)


def _make_functional(cls, functional):
    """Put ``functional`` in place of ``Model`` among the bases of ``cls`` (or of the first of its ancestors
    that derives from Model directly), as Keras 3's ``inject_functional_model_class`` does."""
    for klass in cls.__mro__:
        if Model in klass.__bases__:
            klass.__bases__ = tuple(functional if base is Model else base for base in klass.__bases__)
            return


class Model(Trainer, Layer):
    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            from .functional import Functional
            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, *args, trainable=True, name=None, dtype=None, **kwargs):
        if _functional_arguments(args, kwargs):
            # A subclass called as ``CustomModel(inputs, outputs)`` (to override train_step, as Keras's guide
            # "Customizing what happens in fit()" does) becomes a functional model, as Keras 3 makes it.
            from .functional import Functional
            if not isinstance(self, Functional):
                _make_functional(type(self), Functional)
            Functional.__init__(self, *args, trainable=trainable, name=name, **kwargs)
            return
        if args:
            given = ", ".join("self" if a is self else type(a).__name__ for a in args)  # self has no name yet
            raise TypeError(f"{type(self).__name__}.__init__ got positional arguments ({given}); a subclassed model "
                            "takes keyword arguments (name=..., trainable=...), as in Keras 3: call "
                            "super().__init__() without `self`.")
        Layer.__init__(self, trainable=trainable, name=name, dtype=dtype, **kwargs)
        Trainer.__init__(self)

    def build(self, input_shape=None):
        """As Keras 3: a subclassed model without its own ``build`` creates no weights here (its layers build on
        the first call); called by you while layers are unbuilt, it warns as Keras does."""
        if not self._scope_open and any(not layer.built for layer in self._layers):
            warnings.warn(f"`build()` was called on layer '{self.name}', however the layer does not have a `build()` "
                          "method implemented and it looks like it has unbuilt state. This will cause the layer to be "
                          "marked as built, despite not being actually built, which may cause failures down the "
                          "line. Make sure to implement a proper `build()` method.", UserWarning, stacklevel=2)
        self.built = True

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"Model {type(self).__name__} does not have a `call()` method implemented: "
                                  "subclasses of keras.Model must define call(self, inputs).")

    @property
    def layers(self):
        """The layers this model calls (for a subclassed model, those assigned to its attributes)."""
        return self._layers

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}.")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        """Print a table of the layers, their output shapes and parameter counts, as Keras 3 does."""
        print_summary(self, print_fn=print_fn)

    def _no_saving(self, method):
        raise NotImplementedError(
            f"Model.{method} is not part of tapeviz: it inspects training, it does not save models. Keep the weights "
            "with numpy instead: numpy.savez(path, *model.get_weights()), and later model.set_weights(list(numpy.load("
            "path).values())) on a model built the same way.")

    def save(self, filepath, *args, **kwargs):
        self._no_saving("save")

    def save_weights(self, filepath, *args, **kwargs):
        self._no_saving("save_weights")

    def load_weights(self, filepath, *args, **kwargs):
        self._no_saving("load_weights")

    def export(self, filepath, *args, **kwargs):
        self._no_saving("export")
