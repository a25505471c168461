"""``keras.callbacks``: hooks ``fit`` / ``evaluate`` / ``predict`` call (``Callback``, ``History``, ``LambdaCallback``).

A callback can stop training by setting ``self.model.stop_training = True``.
"""

__all__ = ["Callback", "History", "LambdaCallback", "CallbackList"]


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
