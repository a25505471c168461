"""``keras.optimizers``: SGD, Adam, AdamW, RMSprop, Adagrad, learning-rate schedules and ``get``."""
from . import schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "schedules", "get", "serialize",
           "deserialize"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name (``"adam"``), a config dict, or an optimizer (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. tapeviz knows "
                     f"{sorted(_BY_NAME)}, or pass an optimizer instance.")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    cls = _BY_NAME.get(config["class_name"].lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer class {config['class_name']!r}; tapeviz knows {sorted(_BY_NAME)}.")
    options = dict(config.get("config", {}))
    rate = options.get("learning_rate")
    if isinstance(rate, dict):
        options["learning_rate"] = schedules.deserialize(rate)
    return cls(**{k: v for k, v in options.items() if v is not None or k == "name"})
