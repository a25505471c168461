"""``keras.callbacks``: hooks ``fit`` / ``evaluate`` / ``predict`` call (``Callback``, ``History``, ``LambdaCallback``,
``EarlyStopping``).

A callback can stop training by setting ``self.model.stop_training = True``.
"""

__all__ = ["Callback", "History", "LambdaCallback", "EarlyStopping", "CallbackList"]


class Callback:
    """Base class: override the ``on_*`` methods you need; ``self.model`` and ``self.params`` are set by ``fit``."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params


def _noop(self, *args, **kwargs):
    return None


_EVENTS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
           "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
           "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]
for _event in _EVENTS:
    setattr(Callback, _event, _noop)


class History(Callback):
    """Records the logs of every epoch: ``history.history['loss']`` is the list of epoch losses."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs))``."""

    def __init__(self, **functions):
        super().__init__()
        for name, function in functions.items():
            if name not in _EVENTS:
                raise ValueError(f"Unknown callback event {name!r}; use one of {', '.join(_EVENTS)}.")
            setattr(self, name, function)


class EarlyStopping(Callback):
    """Stop ``fit`` when ``monitor`` has not improved (by more than ``min_delta``) for ``patience`` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode {mode!r} is unknown: use 'auto', 'min' or 'max'.")
        if mode == "auto":
            mode = "max" if monitor.endswith(("acc", "accuracy", "auc")) else "min"
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights, self.start_from_epoch = baseline, restore_best_weights, start_from_epoch
        self._better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
        self.min_delta = -abs(min_delta) if mode == "min" else abs(min_delta)

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def _is_improvement(self, value, reference):
        return reference is None or self._better(value - self.min_delta, reference)

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            import warnings
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class CallbackList:
    """Calls each event on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not hasattr(callback, "set_model"):
                raise TypeError(f"Callbacks must be keras.callbacks.Callback instances; got {callback!r}.")
            callback.set_model(model)
            callback.set_params(params)

    def __getattr__(self, event):
        if event not in _EVENTS:
            raise AttributeError(event)

        def call(*args):
            for callback in self.callbacks:
                getattr(callback, event)(*args)
        return call


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.callbacks", name)
