"""``keras.backend``: ``clear_session`` (restart layer names), ``floatx`` and ``epsilon``."""

__all__ = ["clear_session", "floatx", "epsilon", "backend"]


def clear_session():
    """Forget the automatic layer names given so far: the next Dense is ``dense`` again, as in Keras."""
    from .layers.base import _name_counters
    _name_counters.clear()


def floatx():
    return "float32"


def epsilon():
    return 1e-7


def backend():
    return "tensorflow"


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.backend", name)
