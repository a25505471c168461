"""``tapeviz.keras``, as ``tf.keras``: layers, models and the training workflow, on tapeviz tapes.

Submodules not imported here (``metrics`` and others) load on first use, so each
can be added as its own module.
"""
import importlib

from . import activations, backend, callbacks, initializers, layers, models, regularizers, utils  # noqa: F401
from . import losses, metrics, optimizers  # noqa: F401
from .layers import Input, InputLayer, Layer  # noqa: F401
from .models import Model, Sequential  # noqa: F401

_LAZY_SUBMODULES = ("optimizers", "losses", "metrics", "regularizers", "utils", "backend", "datasets", "ops")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras", name)
