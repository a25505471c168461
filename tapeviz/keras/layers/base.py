"""``keras.layers.Layer``: the base class of every layer and model.

What it does for a subclass: names the layer (``dense``, ``dense_1``, ...), builds it once from the
shape of its first input (``build(input_shape)``, where ``add_weight`` creates variables named
``<layer>/<weight>:0``), converts inputs (floats to the layer's dtype), passes the ``training`` flag
down to the layers it calls, tracks the layers assigned to its attributes (in lists and dicts too),
collects weights (trainable first) and ``add_loss`` losses, and freezes with ``layer.trainable = False``.
As in Keras 3, only variables made with ``add_weight`` (and those of tracked layers) are the layer's
weights: a ``tf.Variable`` stored on a layer is not collected.
"""
import contextlib
import inspect
import itertools
import threading
import warnings
from collections import defaultdict

import numpy as np

from tapeviz.core import dtypes, nest
from tapeviz.core.context import state
from tapeviz.core.tensor import Tensor, Variable, _TensorLike, convert_to_tensor

from .. import initializers
from ..naming import snake_case
from .symbolic import KerasTensor, call_symbolically, is_symbolic

__all__ = ["Layer", "InputSpec"]

_name_counters = defaultdict(itertools.count)


def unique_name(base):
    """``base``, then ``base_1``, ``base_2``, ...: Keras's automatic names, counted per base name."""
    index = next(_name_counters[base])
    return base if index == 0 else f"{base}_{index}"


class _CallContext(threading.local):
    """The outermost layer call in progress and the training flag it set (Keras's call context)."""

    def __init__(self):
        self.entry_layer = None
        self.training = None
        self.losses_added = False  # whether add_loss was ever called in this thread


_call_context = _CallContext()


class InputSpec:
    """What a layer accepts: a minimum rank and fixed sizes on some axes (checked on every call)."""

    def __init__(self, min_ndim=None, ndim=None, axes=None):
        self.min_ndim, self.ndim, self.axes = min_ndim, ndim, dict(axes or {})


class Layer:
    """Base class of layers: subclass it, create weights in ``build`` and compute in ``call``."""

    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None, input_dim=None, batch_size=None,
                 autocast=True, **kwargs):
        unknown = set(kwargs) - {"input_dtype", "activity_regularizer", "dynamic"}
        if unknown:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                            f"{ {k: kwargs[k] for k in sorted(unknown)} }")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = dtypes.as_dtype(dtype or "float32")
        self._trainable = bool(trainable)
        self._autocast = autocast  # floating inputs are cast to the layer's dtype (Embedding turns it off)
        self.built = False
        self.input_spec = None
        self._own_trainable = []
        self._own_non_trainable = []
        self._losses = []
        self._symbolic_shapes = False  # output shapes known from keras.Input (batch None) take precedence
        self._scope_open = False       # whether this layer's name scope is the innermost one (see _name_scope)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None:
            warnings.warn("Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential "
                          "models, prefer using an `Input(shape)` object as the first layer in the model instead.",
                          UserWarning, stacklevel=3)
        # Keras keeps input_shape= for the Sequential model that receives this layer (it then builds at once).
        self._input_shape_arg = None if input_shape is None else (batch_size,) + tuple(input_shape)
        self._call_takes_training = "training" in inspect.signature(self.call).parameters

    # --- tracking -------------------------------------------------------------------------------
    @property
    def _layers(self):
        """The layers assigned to this layer's attributes, directly or in lists, tuples and dicts."""
        found, seen = [], set()
        for key, value in vars(self).items():
            for leaf in nest.flatten(value) if isinstance(value, (list, tuple, dict)) else [value]:
                if isinstance(leaf, Layer) and leaf is not self and id(leaf) not in seen:
                    seen.add(id(leaf))
                    found.append(leaf)
        return found

    # --- weights --------------------------------------------------------------------------------
    def add_weight(self, *args, **kwargs):
        """``add_weight(shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
        regularizer=None, constraint=None, aggregation="none", name=None)``: a variable owned by this layer,
        named ``<layer>/<name>:0``."""
        if args and isinstance(args[0], str):   # Keras 2's add_weight(name, shape): Keras 3 refuses it so
            raise ValueError(f"`name` must be passed as a keyword argument. Received: add_weight({args[0]!r}, ...). "
                             f"Use: add_weight(shape=..., name={args[0]!r}).")
        return self._add_weight(*args, **kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                    regularizer=None, constraint=None, aggregation="none", name=None):
        dtype = dtypes.as_dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating else "zeros"
        initializer = initializers.get(initializer)
        shape = () if shape is None else tuple(int(d) for d in shape)
        value = initializer(shape, dtype=dtype)
        # Inside this layer's name scope (build or call) the scope supplies "<...>/<layer>/"; elsewhere (a direct
        # build() call) the layer's name is added here, so the variable is always "<scopes>/<layer>/<name>:0".
        in_scope = state.name_scope.endswith(f"{self.name}/") and self._scope_open
        full_name = (name or "variable") if in_scope else f"{self.name}/{name or 'variable'}"
        variable = Variable(value, trainable=trainable, name=full_name, dtype=dtype)
        (self._own_trainable if trainable else self._own_non_trainable).append(variable)
        if regularizer is not None:
            from .. import regularizers
            self._weight_regularizers = getattr(self, "_weight_regularizers", []) + [
                (regularizers.get(regularizer), variable)]
        return variable

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Freezing a layer freezes the layers inside it, as in Keras."""
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    @property
    def weights(self):
        """Every weight: this layer's (trainable first, in creation order), then its layers'."""
        return _unique_by_identity(itertools.chain(self._own_trainable, self._own_non_trainable,
                                                   (w for layer in self._layers for w in layer.weights)))

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return _unique_by_identity(itertools.chain(self._own_trainable,
                                                   (w for layer in self._layers for w in layer.trainable_weights)))

    @property
    def non_trainable_weights(self):
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        if len(weights) != len(self.weights):
            raise ValueError(f"You called set_weights(weights) on layer '{self.name}' with a weight list of length "
                             f"{len(weights)}, but the layer was expecting {len(self.weights)} weights.")
        for variable, value in zip(self.weights, weights):
            value = np.asarray(value)
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"Layer '{self.name}' weight shape {tuple(variable.shape)} is not compatible with "
                                 f"provided weight shape {tuple(value.shape)}.")
            variable.assign(value.astype(variable.dtype.name))

    def count_params(self):
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # --- losses ---------------------------------------------------------------------------------
    def add_loss(self, loss):
        """Add a loss term (a scalar tensor) that ``fit`` adds to the compiled loss; see ``losses``."""
        _call_context.losses_added = True
        self._losses.append(loss)

    @property
    def losses(self):
        """The losses added during the last call, this layer's and its layers', and weight penalties."""
        collected = list(self._losses)
        if self.trainable:  # Keras penalizes trainable weights only
            collected.extend(regularizer(variable) for regularizer, variable in getattr(self, "_weight_regularizers", []))
        for layer in self._layers:
            collected.extend(layer.losses)
        return collected

    def _clear_losses(self):
        self._losses = []
        for layer in self._layers:
            layer._clear_losses()

    # --- building and calling -------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of ``input_shape`` (called once, before the first ``call``)."""
        self.built = True

    def _build_from_shape(self, input_shape):
        with self._name_scope():
            self.build(input_shape)
        self.built = True

    @contextlib.contextmanager
    def _name_scope(self):
        """Variables made inside (by add_weight or tf.Variable) are named ``<outer scopes>/<layer>/...``, as in
        Keras 3, where a layer's build and call run in its name scope."""
        if self._scope_open and state.name_scope.endswith(f"{self.name}/"):  # already inside it (build from call)
            yield
            return
        parent, was_open = state.name_scope, self._scope_open
        state.name_scope, self._scope_open = f"{parent}{self.name}/", True
        try:
            yield
        finally:
            state.name_scope, self._scope_open = parent, was_open

    def call(self, inputs, *args, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def _convert_input(self, value):
        if isinstance(value, (KerasTensor, Variable)) or value is None:
            return value
        if isinstance(value, Layer):
            raise TypeError(f"Layer '{self.name}' was called on another layer ({value.name!r}); call it on a "
                            "tensor, e.g. layer(other_layer(x)).")
        if isinstance(value, Tensor):
            tensor = value
        else:
            tensor = convert_to_tensor(value, dtype_hint=self.dtype if self._autocast else None)
        if self._autocast and tensor.dtype.is_floating and tensor.dtype is not self.dtype:
            from tapeviz.ops.array_ops import cast
            tensor = cast(tensor, self.dtype)
        return tensor

    def _check_input_spec(self, inputs):
        spec = self.input_spec
        if spec is None or not isinstance(inputs, (_TensorLike, KerasTensor)):
            return
        shape = tuple(inputs.shape)
        where = f"Input 0 of layer '{self.name}' is incompatible with the layer"
        if spec.min_ndim is not None and len(shape) < spec.min_ndim:
            raise ValueError(f"{where}: expected min_ndim={spec.min_ndim}, found ndim={len(shape)}. Full shape "
                             f"received: {shape}")
        if spec.ndim is not None and len(shape) != spec.ndim:
            raise ValueError(f"{where}: expected ndim={spec.ndim}, found ndim={len(shape)}. Full shape received: "
                             f"{shape}")
        for axis, size in spec.axes.items():
            if shape[axis] is not None and shape[axis] != size:
                raise ValueError(f"{where}: expected axis {axis} of input shape to have value {size}, but "
                                 f"received input with shape {shape}")

    def __call__(self, *args, training=None, **kwargs):
        if not args:
            raise TypeError(f"Layer '{self.name}' needs its inputs as the first positional argument.")
        first = args[0]
        if type(first) is Tensor and len(args) == 1 and not kwargs:
            # The usual call, one tensor: skip the walk over nested inputs (a layer call costs ~5 us more
            # than its ops, not ~20).
            if self._autocast and first._value.dtype.kind == "f" and first.dtype is not self.dtype:
                first = self._convert_input(first)
            args = (first,)
        else:
            args = self._convert_inputs(args)
            if is_symbolic(args, kwargs):
                if training is not None:
                    kwargs["training"] = training
                return call_symbolically(self, args, kwargs)
        if not isinstance(args[0], (list, tuple, dict)):
            self._check_input_spec(args[0])
        parent_scope, was_open = state.name_scope, self._scope_open
        state.name_scope, self._scope_open = f"{parent_scope}{self.name}/", True
        try:
            if not self.built:
                first = args[0]
                self.build(nest.pack_sequence_as(first, [v.shape for v in nest.flatten(first)])
                           if isinstance(first, (list, tuple, dict)) else first.shape)
                self.built = True
            return self._call_in_context(args, kwargs, training)
        finally:
            state.name_scope, self._scope_open = parent_scope, was_open

    def _call_in_context(self, args, kwargs, training):
        """``call`` with the training flag resolved and passed down, and the losses of the last call cleared."""
        context = _call_context
        is_entry = context.entry_layer is None
        previous_training = context.training
        if training is None:
            training = context.training
        if is_entry:
            context.entry_layer = self
            if context.losses_added:  # walking the layer tree costs more than a small layer's ops
                self._clear_losses()
        context.training = training
        try:
            if self._call_takes_training:
                kwargs["training"] = training
            outputs = self.call(*args, **kwargs)
            if not self._symbolic_shapes:  # summary() of a subclassed model shows the last call's shapes
                self._output_shapes = ([outputs._value.shape] if type(outputs) is Tensor
                                       else [tuple(o.shape) for o in nest.flatten(outputs) if hasattr(o, "shape")])
            return outputs
        finally:
            context.training = previous_training
            if is_entry:
                context.entry_layer = None

    def _convert_inputs(self, args):
        first = args[0]
        if isinstance(first, (list, tuple)) and not any(
                isinstance(leaf, (_TensorLike, KerasTensor, np.ndarray)) for leaf in nest.flatten(first)):
            first = np.asarray(first)  # a nested Python list of numbers is one input, as in Keras 2
        if isinstance(first, (list, tuple, dict)):
            first = nest.pack_sequence_as(first, [self._convert_input(v) for v in nest.flatten(first)])
        else:
            first = self._convert_input(first)
        return (first,) + args[1:]

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        """A new layer from ``get_config()``'s dict (a layer with other arguments overrides both)."""
        return cls(**config)

    def __setattr__(self, name, value):
        # Guards the common mistake of assigning before super().__init__() ran.
        if "name" not in self.__dict__ and isinstance(value, (Layer, Variable)):
            raise RuntimeError(f"It looks like you are subclassing `{type(self).__name__}` and forgot to call "
                               "`super().__init__()`. Always start with this line.")
        object.__setattr__(self, name, value)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _unique_by_identity(variables):
    """``variables`` in order, each once (a variable shared by two layers is one weight, as in Keras)."""
    collected, seen = [], set()
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            collected.append(variable)
    return collected
