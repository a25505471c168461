"""``keras.metrics``: running means, accuracies and confusion-matrix metrics, as Keras 3 computes them.

A metric keeps its state in non-trainable float32 variables (``metric.variables``), updated with
``update_state``, read with ``result`` and cleared with ``reset_state``; ``metric(y_true, y_pred)``
does the first two. Metrics are not differentiated, so their states are updated with numpy and never
touch a tape; a recording is told where a value went into update_state and where result() read the
state back, so a loss built from a metric object is explained as the stateful update it is (TF gives
None there too). The accuracy functions are ops (Equal, Greater, ArgMax, Cast) as in Keras, so one
used in a loss is explained by the comparison or argmax it holds.
"""
import functools

import numpy as np

from tapeviz.core.context import notify, observers
from tapeviz.core.tensor import Tensor, Variable, convert_to_tensor
from tapeviz.ops import array_ops, math_ops, reduction_ops

from . import losses as _losses
from .naming import snake_case

EPSILON = 1e-7

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "Precision", "Recall", "AUC", "TruePositives", "FalsePositives",
           "TrueNegatives", "FalseNegatives", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "get"]


def _array(x, dtype=None):
    if isinstance(x, Tensor):
        if observers:  # the value leaves the tape here: a recording names this line if a loss comes back from it
            notify("tensor_converted", x, "metric update")
        x = x._value
    elif isinstance(x, Variable):
        x = x._value_for_read()
    x = np.asarray(x)
    return x if dtype is None else x.astype(dtype, copy=False)


def _same_rank(a, b):
    """Keras's squeeze_or_expand_to_same_rank on numpy arrays."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b[..., None]
        else:
            a = a[..., 0]
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a[..., None]
        else:
            b = b[..., 0]
    return a, b


def _announced(result):
    """A metric's ``result`` that tells a recording its value is a metric's state read back (a loss built
    from it has no gradient: the explanation names the update_state and result lines)."""
    @functools.wraps(result)
    def announced_result(self):
        value = result(self)
        if observers and isinstance(value, Tensor):
            notify("tensor_converted", value, "metric result")
        return value
    return announced_result


class Metric:
    """Base class: ``update_state``, ``result``, ``reset_state``; state in ``add_variable`` variables."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "result" in cls.__dict__:
            cls.result = _announced(cls.__dict__["result"])

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype or "float32"
        self._variables = []

    def add_variable(self, shape, initializer="zeros", dtype=None, name=None):
        value = np.zeros(shape, np.float32) if initializer == "zeros" else np.full(shape, initializer, np.float32)
        variable = Variable(value, trainable=False, name=f"{self.name}/{name}")
        self._variables.append((variable, value.copy()))
        return variable

    @property
    def variables(self):
        return [variable for variable, _ in self._variables]

    def reset_state(self):
        for variable, initial in self._variables:
            variable.assign(initial)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define update_state.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result.")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _samplewise(values, sample_weight):
    """Keras's reduce_to_samplewise_values with a mean: one value (and weight) per sample."""
    values = values.astype(np.float32)
    if sample_weight is not None:
        sample_weight = _array(sample_weight, np.float32)
        values, sample_weight = _same_rank(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = values.mean(axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = np.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = sample_weight.mean(axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


def _add(variable, delta):
    variable.assign(variable._value_for_read() + np.asarray(delta, np.float32))


def _divide_no_nan(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, np.float32(0), a / np.where(b == 0, 1, b)).astype(np.float32)


class Sum(Metric):
    """The (weighted) sum of every value seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(_array(values), sample_weight)
        _add(self.total, np.sum(values))

    def result(self):
        return Tensor(np.asarray(self.total._value_for_read(), np.float32))


class Mean(Metric):
    """The (weighted) mean of every value seen: ``total / count``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None):
        values, sample_weight = _samplewise(_array(values), sample_weight)
        _add(self.total, np.sum(values))
        if sample_weight is not None:
            samples = np.sum(sample_weight)
        else:
            samples = values.shape[0] if values.ndim >= 1 else 1
        _add(self.count, samples)

    def result(self):
        return Tensor(_divide_no_nan(self.total._value_for_read(), self.count._value_for_read()))


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (one value per sample)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(_array(self._fn(y_true, y_pred, **self._fn_kwargs)), sample_weight=sample_weight)


# -- accuracies --------------------------------------------------------------------------------------
# Ops, as Keras composes them (Equal, Greater, ArgMax, Cast), not numpy: an accuracy used in a loss stays
# linked to the model, so its None is explained by the comparison or argmax, not as an unused model.
def _tensor(x, dtype=None):
    x = x if isinstance(x, Tensor) else convert_to_tensor(_array(x))
    return x if dtype is None else array_ops.cast(x, dtype)


def _matches(a, b):
    return array_ops.cast(math_ops.equal(a, b), "float32")


def accuracy(y_true, y_pred):
    y_pred = _tensor(y_pred)
    y_true, y_pred = _losses.squeeze_or_expand_to_same_rank(_tensor(y_true, y_pred.dtype), y_pred)
    return _matches(y_true, y_pred)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _losses.squeeze_or_expand_to_same_rank(_tensor(y_true), _tensor(y_pred))
    return _matches(y_true, array_ops.cast(y_pred > threshold, y_true.dtype))


def categorical_accuracy(y_true, y_pred):
    return _matches(reduction_ops.argmax(_tensor(y_true), axis=-1), reduction_ops.argmax(_tensor(y_pred), axis=-1))


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred, y_true = _tensor(y_pred), _tensor(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = array_ops.squeeze(y_true, axis=-1)
    predicted = array_ops.cast(reduction_ops.argmax(y_pred, axis=-1), "float32")
    matches = _matches(array_ops.cast(y_true, "float32"), predicted)
    return array_ops.squeeze(matches, axis=-1) if matches.ndim > 1 and matches.shape[-1] == 1 else matches


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


# -- losses as metrics ---------------------------------------------------------------------------
class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_losses.mean_absolute_error, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(_losses.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(_losses.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(_losses.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         axis=axis)


# -- confusion-matrix metrics -------------------------------------------------------------------------
def _confusion_counts(y_true, y_pred, thresholds, sample_weight, top_k=None, class_id=None):
    """Weighted (tp, fp, tn, fn) at each threshold: a prediction is positive when it exceeds the threshold."""
    y_pred = _array(y_pred, np.float32)
    y_true = _array(y_true, np.float32)
    y_true, y_pred = _same_rank(y_true, y_pred)
    if y_pred.size and (y_pred.min() < 0 or y_pred.max() > 1):
        raise ValueError("predictions must be >= 0 and <= 1 for confusion-matrix metrics (they are "
                         f"probabilities); got values in [{y_pred.min()}, {y_pred.max()}]. Apply a sigmoid or "
                         "softmax to logits first.")
    if top_k is not None:
        kth = np.sort(y_pred, axis=-1)[..., -top_k][..., None]
        y_pred = np.where(y_pred >= kth, y_pred, -np.inf)
    if class_id is not None:
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
    weights = np.ones_like(y_pred) if sample_weight is None else np.broadcast_to(
        _same_rank(_array(sample_weight, np.float32), y_pred)[0], y_pred.shape)
    label = (y_true != 0).ravel()
    pred = y_pred.ravel()
    weights = np.asarray(weights, np.float32).ravel()
    above = pred[None, :] > np.asarray(thresholds, np.float32)[:, None]
    positive, negative = weights * label, weights * ~label
    tp = (above * positive).sum(axis=1)
    fp = (above * negative).sum(axis=1)
    return tp, fp, negative.sum() - fp, positive.sum() - tp


def _thresholds(thresholds):
    if thresholds is None:
        return [0.5], True
    single = isinstance(thresholds, (int, float))
    return ([float(thresholds)] if single else [float(t) for t in thresholds]), single


class _ConfusionCount(Metric):
    _which = 0

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.thresholds, self._single = _thresholds(thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        _add(self.accumulator, _confusion_counts(y_true, y_pred, self.thresholds, sample_weight)[self._which])

    def result(self):
        value = self.accumulator._value_for_read()
        return Tensor(np.asarray(value[0] if self._single else value, np.float32))


class TruePositives(_ConfusionCount):
    """The weighted number of positive labels predicted positive (above each threshold; default 0.5)."""
    _which = 0


class FalsePositives(_ConfusionCount):
    _which = 1


class TrueNegatives(_ConfusionCount):
    _which = 2


class FalseNegatives(_ConfusionCount):
    _which = 3


class _PrecisionRecall(Metric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.top_k, self.class_id = top_k, class_id
        if thresholds is None and top_k is not None:
            thresholds = float("-inf")  # Keras: with top_k, every kept prediction counts as positive
        self.thresholds, self._single = _thresholds(thresholds)
        self.true_positives = self.add_variable((len(self.thresholds),), name="true_positives")
        self._other = self.add_variable((len(self.thresholds),), name=self._other_name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = _confusion_counts(y_true, y_pred, self.thresholds, sample_weight, self.top_k, self.class_id)
        _add(self.true_positives, tp)
        _add(self._other, fp if self._other_name == "false_positives" else fn)

    def result(self):
        tp = self.true_positives._value_for_read()
        value = _divide_no_nan(tp, tp + self._other._value_for_read())
        return Tensor(np.asarray(value[0] if self._single else value, np.float32))


class Precision(_PrecisionRecall):
    """tp / (tp + fp): the share of positive predictions that are right."""
    _other_name = "false_positives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)


class Recall(_PrecisionRecall):
    """tp / (tp + fn): the share of positive labels found."""
    _other_name = "false_negatives"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)


class AUC(Metric):
    """Area under the ROC (or PR) curve, from confusion counts at ``num_thresholds`` thresholds (Keras's
    Riemann sum; PR with interpolation uses Davis & Goadrich's interpolation, as Keras does)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc", dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        if multi_label or label_weights is not None:
            raise NotImplementedError("tapeviz's AUC computes one curve over all labels; multi_label and "
                                      "label_weights are not implemented (leave them at their defaults).")
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        if self.curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["ROC", "PR"]')
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.from_logits = from_logits
        shape = (self.num_thresholds,)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.true_negatives = self.add_variable(shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")

    @property
    def thresholds(self):
        return list(self._thresholds)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _array(y_pred, np.float32)
        if self.from_logits:
            y_pred = 1 / (1 + np.exp(-y_pred))
        counts = _confusion_counts(y_true, y_pred, self._thresholds, sample_weight)
        for variable, count in zip((self.true_positives, self.false_positives, self.true_negatives,
                                    self.false_negatives), counts):
            _add(variable, count)

    def result(self):
        tp, fp, tn, fn = (v._value_for_read() for v in (self.true_positives, self.false_positives,
                                                          self.true_negatives, self.false_negatives))
        n = self.num_thresholds
        if self.curve == "PR" and self.summation_method == "interpolation":
            dtp = tp[:n - 1] - tp[1:]
            p = tp + fp
            dp = p[:n - 1] - p[1:]
            slope = _divide_no_nan(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            ratio = np.where((p[:n - 1] > 0) & (p[1:] > 0), _divide_no_nan(p[:n - 1], np.maximum(p[1:], 0)), 1)
            increments = _divide_no_nan(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
            return Tensor(np.asarray(np.sum(increments), np.float32))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / np.float32(2)
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:n - 1], y[1:])
        else:
            heights = np.maximum(y[:n - 1], y[1:])
        return Tensor(np.asarray(np.sum((x[:n - 1] - x[1:]) * heights), np.float32))


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError, "precision": Precision, "recall": Recall, "auc": AUC,
}


def get(identifier):
    """A metric from a name (``"accuracy"``, ``"mse"``, ...), a class name, or a metric (returned as is).

    ``"accuracy"`` here is plain ``Accuracy``; ``Model.compile`` picks the accuracy matching its loss.
    """
    if isinstance(identifier, Metric) or callable(identifier) and not isinstance(identifier, str):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or next((c for c in _BY_NAME.values() if c.__name__ == identifier), None)
        if cls is not None:
            return cls()
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}. tapeviz knows {sorted(_BY_NAME)}, "
                     "or pass a metric instance.")
