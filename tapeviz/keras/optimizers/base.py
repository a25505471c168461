"""The Keras 3 optimizer base class: gradient filtering, clipping, weight decay, learning rate, step count.

An update is a stateful assignment outside any tape, as in TensorFlow: the optimizer computes new
values with numpy (in the variables' dtype, in the order Keras 3 computes them, so that training
losses match TensorFlow's step by step) and stores them into the variables. Tapes never record
an update; the inspection recorder sees each one as an assignment.
"""
import sys
import warnings

import numpy as np

from tapeviz.core.context import notify, observers
from tapeviz.core.tensor import Tensor, Variable, _snapshot
from tapeviz.module import name_scope

from ..naming import snake_case
from .schedules import LearningRateSchedule, serialize

_KNOWN_OPTIONS = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
                  "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps", "name")


def store(variable, array):
    """Give ``variable`` the new value ``array`` (already of its shape and dtype) without another copy.

    A new snapshot, as ``Variable.assign`` makes: tensors read earlier keep their values. Observers
    (the inspection recorder) see an assignment, which is what an optimizer update is.
    """
    if type(array) is np.ndarray and array.ndim == 0 and type(variable._snapshot._value) is not np.ndarray:
        array = array[()]  # a scalar variable keeps a numpy scalar, as assign leaves it
    variable._snapshot = _snapshot(array, variable._id)
    if observers:
        notify("variable_assigned", variable, array, "assign")


def value_of(variable):
    return variable._snapshot._value


def _reference_counts(variable):
    snapshot = variable._snapshot
    return sys.getrefcount(snapshot), sys.getrefcount(snapshot._value)


def _unshared_counts():
    """The reference counts of a variable nothing else holds, measured on a probe made unobserved
    (a recorder holding the probe would raise the baseline and make shared values look private)."""
    saved = observers[:]
    observers.clear()
    try:
        probe = Variable(np.zeros(2, np.float32), trainable=False)
        return _reference_counts(probe)
    finally:
        observers.extend(saved)


def private_value(variable):
    """The variable's array when nothing but the variable can reach it (no tensor read from it, no tape
    entry): an optimizer may then update it in place, which no one can observe. Otherwise None.

    Slot variables (moments, accumulators) are private in a training loop; the trained variables
    are not (the step's tape still holds them), and get new arrays as ``assign`` would give them.
    """
    if _reference_counts(variable) == _UNSHARED:
        value = variable._snapshot._value
        if isinstance(value, np.ndarray) and value.flags.writeable and value.flags.owndata:
            return value
    return None


def _as_array(gradient, dtype, variable):
    value = gradient._value if type(gradient) is Tensor else (
        gradient._value_for_read() if type(gradient) is Variable else np.asarray(gradient))
    if value.dtype != dtype:
        value = value.astype(dtype)
    if value.shape != value_of(variable).shape:
        raise ValueError(
            f"The gradient for variable '{variable.name}' has shape {value.shape}, but the variable has shape "
            f"{value_of(variable).shape}. Pass each gradient with its own variable, in the same order "
            "(zip(grads, variables)).")
    return value


def _short_name(variable):
    name = variable.name
    return (name[:-2] if name.endswith(":0") else name).replace("/", "_")


class Optimizer:
    """Base class of the Keras 3 optimizers. Subclasses define ``build_slots`` and ``update_step``."""

    default_learning_rate = 0.001

    def __init__(self, learning_rate=None, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            if "lr" in kwargs:
                raise ValueError("Argument `lr` is no longer supported. Use `learning_rate` instead.")
            raise ValueError(f"Argument(s) not recognized: {kwargs}. The options are learning_rate, "
                             f"{', '.join(_KNOWN_OPTIONS)} and the optimizer's own.")
        if sum(option is not None for option in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        if use_ema or gradient_accumulation_steps:
            raise NotImplementedError(
                "tapeviz optimizers do not implement use_ema or gradient_accumulation_steps; leave them at "
                "their defaults (use_ema=False, gradient_accumulation_steps=None).")
        self.name = name or snake_case(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.loss_scale_factor = loss_scale_factor
        self.use_ema = False
        self.gradient_accumulation_steps = None
        self.built = False
        self._iterations = Variable(np.int64(0), trainable=False, name=f"{self.name}/iteration")
        self._learning_rate = None
        self.learning_rate = self.default_learning_rate if learning_rate is None else learning_rate
        self._trainable_variables = []
        self._index = {}          # id(variable) -> position in _trainable_variables
        self._slots = []          # one list of slot Variables per trainable variable
        self._excluded_ids = set()
        self._excluded_names = ()

    # -- state ---------------------------------------------------------------------------------
    @property
    def iterations(self):
        """The number of updates applied so far (an int64 Variable)."""
        return self._iterations

    @property
    def learning_rate(self):
        """The current learning rate: a float32 Variable, or the schedule's value at ``iterations``."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return self._learning_rate(self._iterations)
        if callable(self._learning_rate) and not isinstance(self._learning_rate, Variable):
            return self._learning_rate()
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, (Variable, Tensor))):
            self._learning_rate = learning_rate
        elif isinstance(self._learning_rate, Variable):
            store(self._learning_rate, np.asarray(learning_rate, np.float32).copy())
        else:
            self._learning_rate = Variable(np.float32(learning_rate), trainable=False,
                                           name=f"{self.name}/learning_rate")

    @property
    def variables(self):
        """The optimizer's own variables: iterations, the learning rate (unless scheduled), then the slots."""
        own = [self._iterations] + ([self._learning_rate] if isinstance(self._learning_rate, Variable) else [])
        return own + [slot for slots in self._slots for slot in slots]

    def build(self, var_list):
        """Make the slot variables (moments, accumulators) for each variable; runs on the first update."""
        for variable in var_list:
            if id(variable) in self._index:
                continue
            self._index[id(variable)] = len(self._trainable_variables)
            self._trainable_variables.append(variable)
            self._slots.append([Variable(np.full(value_of(variable).shape, initial, value_of(variable).dtype),
                                         trainable=False, name=f"{self.name}/{_short_name(variable)}_{slot}")
                                for slot, initial in self.slot_names_and_initial_values()])
        self.built = True

    def slot_names_and_initial_values(self):
        return []

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables (or variables whose names contain one of ``var_names``) from weight decay."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before the optimizer is built.")
        self._excluded_ids |= {id(v) for v in var_list or ()}
        self._excluded_names = tuple(var_names or ())

    # -- updates -------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Apply ``zip(grads, vars)``; a None gradient is skipped with a warning. Returns ``iterations``."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        grads, variables = zip(*pairs)
        self.apply(grads, variables)
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Keras 3's ``apply(grads, variables)``: one gradient per variable, in order."""
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must already be built "
                                 "on a list of variables. Call `optimizer.build(trainable_variables)` first.")
            if len(grads) != len(self._trainable_variables):
                raise ValueError(f"When passing `grads` as a list of gradient tensors, the gradients must match "
                                 f"`optimizer.variables` one-to-one. Received a list of {len(grads)} gradients, "
                                 f"but the optimizer is tracking {len(self._trainable_variables)} trainable "
                                 "variables.")
            variables = list(self._trainable_variables)
        else:
            variables = list(trainable_variables)
            if len(variables) != len(grads):
                raise ValueError(f"Got {len(grads)} gradients for {len(variables)} variables; pass one gradient "
                                 "per variable.")
            for variable in variables:
                if not isinstance(variable, Variable):
                    raise TypeError(f"An optimizer updates Variables, got {type(variable).__name__} {variable!r}. "
                                    "Make the value a tapeviz.Variable to train it.")
            if not self.built:
                self.build(variables)
            else:
                self._check_variables_are_known(variables)
        # Keras 3 updates inside the optimizer's name scope ("adam"): the recorder keeps it with each
        # assignment, and the inspector names the update after it.
        with name_scope(self.name):
            grads, variables = self._filter_empty_gradients(grads, variables)
            arrays = [_as_array(g, value_of(v).dtype, v) for g, v in zip(grads, variables)]
            if self.loss_scale_factor is not None:
                arrays = [a / np.asarray(self.loss_scale_factor, a.dtype) for a in arrays]
            arrays = self._clip_gradients(arrays)
            learning_rate = np.asarray(_read(self.learning_rate), np.float32)
            self._apply_weight_decay(variables, learning_rate)
            for gradient, variable in zip(arrays, variables):
                self.update_step(gradient, variable, learning_rate.astype(value_of(variable).dtype))
            store(self._iterations, np.asarray(value_of(self._iterations) + 1, np.int64))

    def minimize(self, loss, var_list, tape=None):
        """tf.keras 2's ``minimize``: differentiate ``loss`` (a callable, or a tensor with its ``tape``) and apply.

        Keras 3 itself dropped ``minimize``; tapeviz keeps it for tutorials written against tf.keras 2.
        """
        from tapeviz.core.tape import GradientTape
        if not callable(loss) and tape is None:
            raise ValueError(f"`tape` is required when a `Tensor` loss is passed. Received: loss={loss}, tape=None. "
                             "Pass the GradientTape that recorded the loss, or pass the loss as a function.")
        if callable(loss):
            with GradientTape() as tape:
                if not callable(var_list):
                    tape.watch(var_list)
                loss = loss()
        if callable(var_list):
            var_list = var_list()
        var_list = list(var_list)
        grads = tape.gradient(loss, var_list)
        self._explain_tape = (tape, loss)
        try:
            self.apply_gradients(zip(grads, var_list))
        finally:
            self._explain_tape = None
        return self._iterations

    _explain_tape = None

    def update_step(self, gradient, variable, learning_rate):
        raise NotImplementedError(f"{type(self).__name__} must define update_step(gradient, variable, learning_rate).")

    def slots(self, variable):
        return self._slots[self._index[id(variable)]]

    # -- Keras's gradient preparation ------------------------------------------------------------
    def _check_variables_are_known(self, variables):
        for variable in variables:
            if id(variable) not in self._index:
                raise ValueError(
                    f"Unknown variable: {variable}. This optimizer can only be called for the variables it was "
                    "originally built with. When working with a new set of variables, you should recreate a new "
                    "optimizer instance.")

    def _filter_empty_gradients(self, grads, variables):
        kept = [(g, v) for g, v in zip(grads, variables) if g is not None]
        missing = [v for g, v in zip(grads, variables) if g is None]
        if not kept:
            raise ValueError("No gradients provided for any variable." + self._why(missing))
        if missing:
            warnings.warn(f"Gradients do not exist for variables {[v.name for v in missing]} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` argument?"
                          + self._why(missing), UserWarning, stacklevel=4)
        return [g for g, _ in kept], [v for _, v in kept]

    def _why(self, missing):
        if self._explain_tape is None:
            return (" (tapeviz: tape.explain(loss, variable), on the tape that computed the gradients, "
                    "says why a gradient is None.)")
        tape, loss = self._explain_tape
        lines = []
        for variable in missing:
            try:
                explanation = tape.explain(loss, variable)
            except Exception:  # noqa: BLE001 - an explanation is a courtesy; the warning must not fail
                explanation = None
            if explanation is not None:
                lines.append(f"\n  {variable.name}: {explanation}")
        return "".join(lines)

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return _clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, -g.dtype.type(self.clipvalue), g.dtype.type(self.clipvalue)) for g in grads]
        return grads

    def _apply_weight_decay(self, variables, learning_rate):
        if self.weight_decay is None:
            return
        for variable in variables:
            if id(variable) in self._excluded_ids or any(n in variable.name for n in self._excluded_names):
                continue
            value = value_of(variable)
            kind = value.dtype.type
            store(variable, value - value * kind(self.weight_decay) * kind(learning_rate))

    def get_config(self):
        rate = self._learning_rate
        return {"name": self.name, "learning_rate": serialize(rate) if isinstance(rate, LearningRateSchedule)
                else float(_read(rate)), "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    def __repr__(self):
        return f"<tapeviz.keras.optimizers.{type(self).__name__} name={self.name!r}>"


def _read(value):
    if isinstance(value, Variable):
        return value._value_for_read()
    if isinstance(value, Tensor):
        return value._value
    return value


def _clip_by_norm(values, clip_norm):
    """tf.clip_by_norm as Keras's TensorFlow backend calls it: values * c / max(||values||, c)."""
    kind = values.dtype.type
    l2sum = np.sum(np.square(values))
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
    return values * kind(clip_norm) / np.maximum(kind(l2norm), kind(clip_norm))


def _clip_by_global_norm(grads, clip_norm):
    """Keras's clip_by_global_norm: every gradient scaled by min(1, c / global norm)."""
    use_norm = np.sqrt(np.sum(np.stack([np.sum(np.square(g)) for g in grads])))
    kind = use_norm.dtype.type
    scale = kind(clip_norm) * np.minimum(kind(1.0) / use_norm, kind(1.0) / kind(clip_norm)) + (use_norm - use_norm)
    return [g * g.dtype.type(scale) for g in grads]


_UNSHARED = _unshared_counts()  # measured, not assumed: reference counting details vary by Python version
