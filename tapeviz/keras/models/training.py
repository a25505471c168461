"""``compile`` / ``fit`` / ``evaluate`` / ``predict``: Keras 3's training workflow, run eagerly on tapes.

Each training step is the loop a tutorial writes by hand: a ``GradientTape`` around the forward pass
and the loss (the compiled loss plus ``model.losses``), ``tape.gradient`` for the trainable weights,
``optimizer.apply_gradients``. With recording on, the inspector shows one tape per step. The logs
follow Keras 3: ``loss`` is the mean of the batch losses weighted by batch size, metrics accumulate
over the epoch, names are sorted, validation names start with ``val_``.
"""
import numpy as np

from tapeviz.core import nest
from tapeviz.core.tape import GradientTape
from tapeviz.module import name_scope

from .. import callbacks as callbacks_module
from ..utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from . import data
from .progress import Progbar

__all__ = ["Trainer"]


def _plain_logs(logs):
    """A step's logs as floats by name: a metric whose result is a dict (Keras's "compile_metrics") gives its
    entries, as Keras flattens them into the logs and the history."""
    plain = {}
    for name, value in dict(logs).items():
        if isinstance(value, dict):
            plain.update((k, float(v)) for k, v in value.items())
        else:
            plain[name] = float(value)
    return plain


class _CompileMetrics:
    """The compiled metrics as one metric named "compile_metrics", as Keras 3's ``model.metrics`` lists them:
    ``update_state(y, y_pred)`` updates each (made from the compile specs on first use), ``result()`` is a
    dict by metric name."""

    name = "compile_metrics"

    def __init__(self, model):
        self._model = model

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._model._update_compiled_metrics(y_true, y_pred, sample_weight)

    def result(self):
        results = {}
        for metric in self._model._compiled_metrics or []:
            value = metric.result()
            if isinstance(value, dict):
                results.update(value)
            else:
                results[metric.name] = value
        return results

    def reset_state(self):
        for metric in self._model._compiled_metrics or []:
            metric.reset_state()


class _LossTracker:
    """A running mean weighted by batch size, in float32 as Keras's ``Mean`` metric keeps it."""

    def __init__(self, name="loss"):
        self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = np.float32(0), np.float32(0)

    def update_state(self, value, sample_weight=1):
        self.total = np.float32(self.total + np.float32(value) * np.float32(sample_weight))
        self.count = np.float32(self.count + np.float32(sample_weight))

    def result(self):
        return np.float32(self.total / self.count) if self.count else np.float32(0)


def _batch_size_of(x):
    return len(nest.flatten(x)[0]) if isinstance(x, (list, tuple, dict)) else len(x)


def _resolve_metric(spec, y_true, y_pred):
    """A metric object for ``spec``; 'accuracy' becomes the accuracy that fits the labels, as in Keras."""
    from tapeviz.keras import metrics
    if isinstance(spec, str) and spec.lower() in ("accuracy", "acc"):
        pred_shape, true_shape = tuple(y_pred.shape), tuple(np.shape(y_true))
        if pred_shape[-1:] == (1,):
            return metrics.BinaryAccuracy(name=spec)
        if len(true_shape) == len(pred_shape) - 1 or (len(true_shape) == len(pred_shape) and true_shape[-1:] == (1,)):
            return metrics.SparseCategoricalAccuracy(name=spec)
        return metrics.CategoricalAccuracy(name=spec)
    if isinstance(spec, str):
        metric = metrics.get(spec)
        metric.name = spec   # Keras 3 names a metric given by name as it was given: history['mae']
        return metric
    if hasattr(spec, "update_state"):
        return spec
    if callable(spec):
        return metrics.MeanMetricWrapper(spec, name=getattr(spec, "__name__", "metric"))
    raise ValueError(f"Could not interpret metric identifier: {spec!r}.")


class Trainer:
    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_specs = []
        self._weighted_metric_specs = []
        self._compiled_metrics = None
        self._loss_tracker = _LossTracker()

    # --- configuration --------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer, the loss and the metrics that ``fit`` and ``evaluate`` use."""
        from tapeviz.keras import losses, optimizers
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        loss_fn = losses.get(loss) if loss is not None else None
        if loss_fn is not None and not isinstance(loss_fn, losses.Loss):
            # Keras wraps a loss function (or a name such as 'mse') to average it over the batch.
            loss_fn = losses.LossFunctionWrapper(loss_fn, name=getattr(loss_fn, "__name__", None))
        self._loss_fn = loss_fn
        self._metric_specs = list(metrics or [])
        self._weighted_metric_specs = list(weighted_metrics or [])
        self._compiled_metrics = None
        self._loss_tracker = _LossTracker()
        self.compiled = True

    @property
    def metrics(self):
        """As Keras 3: the loss tracker ("loss"), then the compiled metrics as one "compile_metrics" object
        whose ``result()`` is a dict (its metrics are made on its first ``update_state``)."""
        compiled = [self._compile_metrics] if self._metric_specs or self._weighted_metric_specs else []
        return [self._loss_tracker] + compiled

    @property
    def _compile_metrics(self):
        return _CompileMetrics(self)

    @property
    def metrics_names(self):
        return [metric.name for metric in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def _require_compiled(self, method):
        if not self.compiled:
            raise RuntimeError(f"You must call `compile()` before using the model ({method}). For example: "
                               "model.compile(optimizer='adam', loss='mse').")

    # --- one step -------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``y_pred`` against ``y``, plus the losses the layers added (``model.losses``)."""
        terms = []
        if self._loss_fn is not None:
            if y is None:
                raise ValueError("The model was compiled with a loss but fit/evaluate received no targets `y`.")
            with name_scope("compile_loss"):   # Keras 3's compiled loss runs in this scope
                terms.append(self._loss_fn(y, y_pred) if sample_weight is None
                             else self._loss_fn(y, y_pred, sample_weight=sample_weight))
        terms.extend(self.losses)
        if not terms:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`, or add losses with "
                             "`add_loss()` in your layers.")
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def _update_metrics(self, loss, x, y, y_pred, sample_weight):
        self._loss_tracker.update_state(float(loss), _batch_size_of(x))
        if y is None:
            return
        self._update_compiled_metrics(y, y_pred, sample_weight)

    def _update_compiled_metrics(self, y, y_pred, sample_weight):
        if self._compiled_metrics is None:
            # As in Keras: `metrics` ignore sample weights, `weighted_metrics` use them.
            self._compiled_metrics = [_resolve_metric(spec, y, y_pred) for spec in self._metric_specs]
            self._weighted = [False] * len(self._compiled_metrics)
            for spec in self._weighted_metric_specs:
                self._compiled_metrics.append(_resolve_metric(spec, y, y_pred))
                self._weighted.append(True)
        for metric, weighted in zip(self._compiled_metrics, self._weighted):
            metric.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)

    def train_step(self, data):
        """One step of ``fit`` on ``data`` (``x``, ``(x, y)`` or ``(x, y, sample_weight)``); override it to
        customize fit, as in Keras (unpack with ``keras.utils.unpack_x_y_sample_weight``)."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        trainable = self.trainable_weights
        gradients = tape.gradient(loss, trainable)
        self.optimizer.apply_gradients(zip(gradients, trainable))
        self._update_metrics(loss, x, y, y_pred, sample_weight)
        return self._logs()

    def test_step(self, data):
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._update_metrics(loss, x, y, y_pred, sample_weight)
        return self._logs()

    def predict_step(self, data):
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    def _logs(self):
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                logs.update({k: float(v) for k, v in result.items()})
            else:
                logs[metric.name] = float(result)
        return dict(sorted(logs.items()))

    # --- loops ----------------------------------------------------------------------------------
    def _batches(self, x, y, sample_weight, batch_size, shuffle, steps=None):
        if data.is_array_data(x):
            if x is None:
                raise ValueError("Unexpected value for `x`: None. Pass your input data as the first argument.")
            return data.array_batches(data.as_arrays(x), data.as_arrays(y), data.as_arrays(sample_weight),
                                      batch_size or 32, shuffle, steps)
        if y is not None:
            raise ValueError("When `x` is a dataset or a generator, `y` should not be passed: the dataset yields "
                             "(x, y) pairs.")
        return data.dataset_batches(x, steps)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns the ``History`` (``history.history['loss']`` per epoch)."""
        self._require_compiled("fit")
        verbose = 1 if verbose == "auto" else verbose
        if class_weight is not None:
            sample_weight = data.class_weights_to_sample_weights(y, class_weight, sample_weight)
        if validation_split and validation_data is None:
            if not data.is_array_data(x):
                raise ValueError("`validation_split` is only supported for arrays and tensors, not datasets.")
            (x, y, sample_weight), validation_data = data.split_validation(
                data.as_arrays(x), data.as_arrays(y), data.as_arrays(sample_weight), validation_split)
        history = callbacks_module.History()
        callback_list = callbacks_module.CallbackList(list(callbacks or []) + [history], self,
                                                      {"verbose": verbose, "epochs": epochs, "steps": None})
        self.stop_training = False
        callback_list.on_train_begin(None)
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callback_list.on_epoch_begin(epoch, None)
            steps, batches = self._batches(x, y, sample_weight, batch_size, shuffle, steps_per_epoch)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}")
            progress = Progbar(steps, verbose)
            step = 0
            for step, (batch_x, batch_y, batch_weight) in enumerate(batches, 1):
                callback_list.on_train_batch_begin(step - 1, None)
                logs = _plain_logs(self.train_step(pack_x_y_sample_weight(batch_x, batch_y, batch_weight)))
                callback_list.on_train_batch_end(step - 1, logs)
                progress.update(step, list(logs.items()))
                if self.stop_training:
                    break
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val_x, val_y, val_weight = data.unpack(tuple(validation_data)) if isinstance(
                    validation_data, (tuple, list)) else (validation_data, None, None)
                val_logs = self.evaluate(val_x, val_y, batch_size=validation_batch_size or batch_size,
                                         sample_weight=val_weight, steps=validation_steps, verbose=0,
                                         return_dict=True)
                epoch_logs.update({"val_" + name: value for name, value in val_logs.items()})
            progress.target = progress.target or step
            progress.update(step, list(epoch_logs.items()), finalize=True)
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callback_list.on_train_end(logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics on ``x``, ``y`` in inference mode: a float, a list (loss first), or a dict."""
        self._require_compiled("evaluate")
        verbose = 1 if verbose == "auto" else verbose
        callback_list = callbacks_module.CallbackList(callbacks, self, {"verbose": verbose, "steps": steps})
        self.reset_metrics()
        callback_list.on_test_begin(None)
        count, batches = self._batches(x, y, sample_weight, batch_size, False, steps)
        progress = Progbar(count, verbose)
        logs, step = {}, 0
        for step, (batch_x, batch_y, batch_weight) in enumerate(batches, 1):
            callback_list.on_test_batch_begin(step - 1, None)
            logs = _plain_logs(self.test_step(pack_x_y_sample_weight(batch_x, batch_y, batch_weight)))
            callback_list.on_test_batch_end(step - 1, logs)
            progress.update(step, list(logs.items()))
        progress.target = progress.target or step
        progress.update(step, list(logs.items()), finalize=True)
        callback_list.on_test_end(logs)
        if return_dict:
            return logs
        ordered = [logs[self._loss_tracker.name]] + [logs[m.name] for m in self._compiled_metrics or []
                                                     if m.name in logs]
        return ordered[0] if len(ordered) == 1 else ordered

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on ``x`` in inference mode, batch by batch, as numpy arrays."""
        verbose = 1 if verbose == "auto" else verbose
        callback_list = callbacks_module.CallbackList(callbacks, self, {"verbose": verbose, "steps": steps})
        callback_list.on_predict_begin(None)
        count, batches = self._batches(x, None, None, batch_size, False, steps)
        progress = Progbar(count, verbose)
        outputs, step = [], 0
        for step, (batch_x, _, _) in enumerate(batches, 1):
            callback_list.on_predict_batch_begin(step - 1, None)
            outputs.append(nest.flatten(self.predict_step(pack_x_y_sample_weight(batch_x))))
            callback_list.on_predict_batch_end(step - 1, None)
            progress.update(step)
        progress.target = progress.target or step
        progress.update(step, finalize=True)
        callback_list.on_predict_end(None)
        if not outputs:
            raise ValueError("Unexpected result of `predict`: no batches were seen. Check that your input data "
                             "is not empty.")
        columns = [np.concatenate([np.asarray(batch[i]) for batch in outputs]) for i in range(len(outputs[0]))]
        return columns[0] if len(columns) == 1 else columns

    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("train_on_batch")
        self.reset_metrics()
        logs = _plain_logs(self.train_step(pack_x_y_sample_weight(*[data.as_arrays(v) for v in (x, y, sample_weight)])))
        return logs if return_dict else (list(logs.values())[0] if len(logs) == 1 else list(logs.values()))

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        self.reset_metrics()
        logs = _plain_logs(self.test_step(pack_x_y_sample_weight(*[data.as_arrays(v) for v in (x, y, sample_weight)])))
        return logs if return_dict else (list(logs.values())[0] if len(logs) == 1 else list(logs.values()))

    def predict_on_batch(self, x):
        return np.asarray(self.predict_step(pack_x_y_sample_weight(data.as_arrays(x))))
