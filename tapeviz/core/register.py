"""Script-level registration, mirroring ``tf.RegisterGradient`` and ``tf.no_gradient``."""
from . import registry
from .plugins import Registrar, PluginInfo, plugins


def _registrar_for(fn_or_none, op_type):
    registry.ensure_loaded()
    module = getattr(fn_or_none, "__module__", None) or "__main__"
    return Registrar(f"script:{module}")


class RegisterGradient:
    """Decorator: ``@RegisterGradient("OpType")`` makes the function that op type's gradient rule.

    Registering an op type that already has a rule raises KeyError naming the first registration;
    pass ``override=True`` to replace it on purpose. ``batched=True`` declares that the rule handles
    gradients with a leading batch dimension (see ``tapeviz.core.batching``); jacobians then call it
    once per pass instead of once per row. With it, ``diagonal=fn`` takes ``batch_jacobian``'s
    diagonal gradients (``diagonal=tapeviz.core.batching.elementwise(rule)`` for an element-wise op).
    """

    def __init__(self, op_type, override=False, batched=False, diagonal=None):
        if not isinstance(op_type, str):
            raise TypeError("op_type must be a string")
        self._op_type = op_type
        self._override = override
        self._batched = batched
        self._diagonal = diagonal

    def __call__(self, fn):
        registrar = _registrar_for(fn, self._op_type)
        registrar(self._op_type, fn, override=self._override, batched=self._batched, diagonal=self._diagonal)
        _commit(registrar)
        return fn


def no_gradient(op_type):
    """Declare ``op_type`` not differentiable: paths through it give None, not an error."""
    if not isinstance(op_type, str):
        raise TypeError("op_type must be a string")
    registrar = _registrar_for(None, op_type)
    registrar.not_differentiable(op_type)
    _commit(registrar)


NotDifferentiable = no_gradient


def _commit(registrar):
    with registry.load_lock:  # one registration at a time, and never into a registry being loaded
        info = next((p for p in plugins if p.name == registrar.plugin), None)
        if info is None:
            info = PluginInfo(registrar.plugin, "", "registered by a script")
            plugins.append(info)
        registrar.commit(info)
