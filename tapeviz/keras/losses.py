"""``keras.losses``: Keras 3's loss classes and functions, computed with tapeviz ops so tapes record them.

Each function returns one loss per example (the mean over the last axis, as in Keras); each class
calls its function and reduces with Keras's default ``"sum_over_batch_size"``: the sum of the
(weighted) per-example losses divided by their count. Probabilities are clipped to
``[1e-7, 1 - 1e-7]`` before a log, as Keras clips them.
"""
import warnings

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.tensor import Tensor, Variable, convert_to_tensor
from tapeviz.module import name_scope
from tapeviz.ops import array_ops, math_ops, reduction_ops, xent_ops

from .naming import snake_case

EPSILON = 1e-7  # keras.backend.epsilon()

__all__ = ["Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "mean_squared_error", "mean_absolute_error",
           "huber", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "mse",
           "mae", "MSE", "MAE", "get", "serialize", "deserialize"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "mean_with_sample_weight")


def _tensor(x, dtype=None):
    if isinstance(x, (Tensor, Variable)):
        x = x if type(x) is Tensor else x.value()
        return x if dtype is None or x.dtype is dtype else array_ops.cast(x, dtype)
    return convert_to_tensor(x, dtype=dtype)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras's rank fix-up: drop (or add) a trailing axis of size 1 when the ranks differ by one."""
    rank1, rank2 = len(x1.shape), len(x2.shape)
    if rank1 == rank2 + 1 and x1.shape[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = array_ops.expand_dims(x2, -1)
        else:
            x1 = array_ops.squeeze(x1, axis=-1)
    if rank2 == rank1 + 1 and x2.shape[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = array_ops.expand_dims(x1, -1)
        else:
            x2 = array_ops.squeeze(x2, axis=-1)
    return x1, x2


def _standardize_reduction(reduction):
    if reduction == "auto":
        return "sum_over_batch_size"
    if reduction is not None and reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`. Expected one of {_REDUCTIONS}. "
                         f"Received: reduction={reduction}")
    return reduction


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Keras's reduction: weight (and mask) the per-example losses, then sum or average them."""
    if mask is not None:
        float_mask = array_ops.cast(mask, values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = float(np.sum(mask._value))
            float_mask = float_mask * (float(mask._value.size) / valid if valid else 0.0)
        sample_weight = float_mask if sample_weight is None else float_mask * _tensor(sample_weight, values.dtype)
    if sample_weight is not None:
        sample_weight = _tensor(sample_weight, values.dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = values * sample_weight
    if reduction is None or reduction == "none" or values.shape in ((), (0,)):
        return values
    loss = reduction_ops.reduce_sum(values)
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = reduction_ops.reduce_sum(sample_weight)
        else:
            divisor = Tensor(np.asarray(values._value.size, values._value.dtype))
        loss = loss / divisor if float(divisor) != 0 else loss * 0.0
    return loss


class Loss:
    """Base class: ``loss(y_true, y_pred, sample_weight=None)`` calls ``call`` and reduces its result."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self.dtype = dtypes.as_dtype(dtype or "float32")

    def __call__(self, y_true, y_pred, sample_weight=None):
        with name_scope(self.name):   # Keras 3: a loss's ops are in its scope ("sparse_categorical_crossentropy")
            y_pred = _tensor(y_pred, self.dtype)
            y_true = _tensor(y_true, self.dtype)
            losses = self.call(y_true, y_pred)
            mask = getattr(self, "_last_mask", None)
            self._last_mask = None
            return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask, reduction=self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred).")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A Loss that calls ``fn(y_true, y_pred, **kwargs)`` after Keras's rank fix-up."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn.__name__}, kwargs={self._fn_kwargs})>"


# -- functions --------------------------------------------------------------------------------------
def _pair(y_true, y_pred):
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred) ** 2) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return reduction_ops.reduce_mean(math_ops.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return reduction_ops.reduce_mean(math_ops.abs(y_true - y_pred), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """Quadratic (0.5 e^2) where |e| <= delta, linear (delta |e| - 0.5 delta^2) beyond; mean over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    error = y_pred - y_true
    abs_error = math_ops.abs(error)
    delta = float(delta)
    return reduction_ops.reduce_mean(
        array_ops.where(abs_error <= delta, 0.5 * math_ops.square(error), delta * abs_error - 0.5 * delta * delta),
        axis=-1)


def _clip_probabilities(output):
    return array_ops.clip_by_value(output, EPSILON, 1.0 - EPSILON)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-(y log p + (1 - y) log(1 - p)), p clipped to [1e-7, 1 - 1e-7] (or from logits); mean over ``axis``."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _same_shape("binary_crossentropy", y_true, y_pred)
    if from_logits:
        elementwise = xent_ops.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    else:
        output = _clip_probabilities(y_pred)
        bce = y_true * math_ops.log(output)
        bce = bce + (1.0 - y_true) * math_ops.log(1.0 - output)
        elementwise = -bce
    return reduction_ops.reduce_mean(elementwise, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y log p) over ``axis``: p normalised to sum 1 and clipped, or softmax(logits) when ``from_logits``."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, y_pred.dtype)
    if y_pred.shape and y_pred.shape[-1] == 1:
        warnings.warn("In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) with "
                      f"num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
                      "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if len(y_true.shape) < 1:
        raise ValueError(f"Arguments `target` and `output` must be at least rank 1. Received: "
                         f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")
    _same_shape("categorical_crossentropy", y_true, y_pred)
    if from_logits:
        return xent_ops.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred, axis=axis)
    output = y_pred / reduction_ops.reduce_sum(y_pred, axis=axis, keepdims=True)
    output = _clip_probabilities(output)
    return -reduction_ops.reduce_sum(y_true * math_ops.log(output), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log p[label] per example, from integer labels; p clipped (or softmax(logits) when ``from_logits``)."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true)
    if axis != -1 and axis != len(y_pred.shape) - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = array_ops.squeeze(y_true, axis=-1)
    valid = None
    if ignore_class is not None:
        valid = math_ops.not_equal(y_true, array_ops.cast(ignore_class, y_true.dtype))
        y_true = array_ops.where(valid, y_true, array_ops.zeros_like(y_true))
        y_pred = array_ops.where(array_ops.expand_dims(valid, -1), y_pred, array_ops.zeros_like(y_pred))
    labels = array_ops.cast(y_true, dtypes.int64)
    if tuple(labels.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(f"Arguments `target` and `output` must have the same shape up until the last dimension: "
                         f"target.shape={tuple(labels.shape)}, output.shape={tuple(y_pred.shape)}")
    logits = y_pred if from_logits else math_ops.log(_clip_probabilities(y_pred))
    result = xent_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if valid is not None:
        result = array_ops.where(valid, result, array_ops.zeros_like(result))
    return result


def _same_shape(fn_name, y_true, y_pred):
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"Arguments `target` and `output` must have the same shape in {fn_name}. Received: "
                         f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}")


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# -- classes ----------------------------------------------------------------------------------------
class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name=name, reduction=reduction, dtype=dtype, delta=delta)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits, self.ignore_class = from_logits, ignore_class

    def call(self, y_true, y_pred):
        if self.ignore_class is not None:
            # Keras masks ignored examples out of the average: the mean runs over the others only.
            labels = y_true if len(y_true.shape) < len(y_pred.shape) else array_ops.squeeze(y_true, axis=-1)
            self._last_mask = math_ops.not_equal(labels, array_ops.cast(self.ignore_class, labels.dtype))
        return super().call(y_true, y_pred)


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError, "huber": Huber, "huber_loss": Huber, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}
_FUNCTIONS = {"mean_squared_error": mean_squared_error, "mse": mean_squared_error,
              "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error, "huber": huber,
              "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
              "sparse_categorical_crossentropy": sparse_categorical_crossentropy}


def get(identifier):
    """A loss from a function name (``"mse"``: the function), a class name (``"MeanSquaredError"``: an
    instance), a config dict, or a callable (returned as is)."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}. tapeviz knows "
                     f"{sorted(_FUNCTIONS) + sorted(_CLASSES)}, or pass a loss instance or function.")


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown loss class {config['class_name']!r}; tapeviz knows {sorted(_CLASSES)}.")
    return cls(**config.get("config", {}))
