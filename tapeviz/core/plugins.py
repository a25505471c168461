"""Finding and loading plugins: the built-in rule modules, then the ``tapeviz`` entry points.

Runs once per process (``registry.ensure_loaded``); never on the per-op path. A plugin that fails
to import or to register is listed as broken, with its error, and the rest keeps working.
"""
import importlib
import pkgutil
import traceback
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs, registry
from .registry import Registration, location_of

ENTRY_POINT_GROUP = "tapeviz"


@dataclass
class PluginInfo:
    name: str
    version: str
    source: str               # "built-in", or the distribution that provides the entry point
    op_types: list = field(default_factory=list)
    not_differentiable: list = field(default_factory=list)
    new_ops: list = field(default_factory=list)
    overrides: list = field(default_factory=list)
    forward_rules: list = field(default_factory=list)   # op types given a forward-mode (JVP) rule
    error: str = ""

    @property
    def broken(self):
        return bool(self.error)


plugins = []          # PluginInfo, in load order
plugin_manager = None


class Registrar:
    """The ``register`` callback one plugin receives; it stages registrations until the hook returns."""

    def __init__(self, plugin_name):
        self.plugin = plugin_name
        self.staged = []

    def __call__(self, op_type, grad_fn, *, checks=(), override=False, needs_inputs=True, needs_outputs=True,
                 batched=False):
        _check_op_type(op_type)
        if not callable(grad_fn):
            raise TypeError(f"The gradient rule for '{op_type}' must be callable, got {grad_fn!r}.")
        self._stage(Registration(op_type, self.plugin, location_of(grad_fn), grad_fn=grad_fn,
                                 checks=tuple(checks), needs_inputs=needs_inputs, needs_outputs=needs_outputs,
                                 batched=bool(batched)),
                    override)

    def forward(self, op_type, jvp_fn, *, override=False):
        """A forward-mode rule: ``jvp_fn(op, *input_tangents)`` returns the tangent of each output (None
        for an input without one); without it, forward mode derives tangents from the gradient rule."""
        _check_op_type(op_type)
        if not callable(jvp_fn):
            raise TypeError(f"The forward-mode rule for '{op_type}' must be callable, got {jvp_fn!r}.")
        self._stage(Registration(op_type, self.plugin, location_of(jvp_fn), grad_fn=jvp_fn, kind="jvp"), override)

    def not_differentiable(self, op_type):
        _check_op_type(op_type)
        self._stage(Registration(op_type, self.plugin, _caller_location(), kind="not_differentiable"), False)

    def op(self, op_type, forward, grad_fn=None, *, checks=()):
        _check_op_type(op_type)
        if op_type in registry.forward_functions:
            raise KeyError(f"Op type '{op_type}' already exists ({registry.op_definitions[op_type].describe()}); "
                           "plugins may add new op types only, under a name of their own.")
        self._stage(Registration(op_type, self.plugin, location_of(forward), forward=forward, kind="forward"), False)
        if grad_fn is not None:
            self(op_type, grad_fn, checks=checks)

    def _stage(self, reg, override):
        for staged, _ in self.staged:
            if staged.op_type == reg.op_type and _kind_group(staged) == _kind_group(reg):
                raise KeyError(f"Plugin '{self.plugin}' registers op type '{reg.op_type}' twice "
                               f"({staged.location} and {reg.location}).")
        if reg.kind == "jvp":
            registry.check_free_forward(reg, override)
        elif reg.kind != "forward":
            registry.check_free(reg, override)
        self.staged.append((reg, override))

    def commit(self, info):
        for reg, override in self.staged:
            registry.add(reg, override)
            if reg.overrides is not None:
                info.overrides.append(reg.op_type)
            if reg.kind == "forward":
                info.new_ops.append(reg.op_type)
            elif reg.kind == "jvp":
                info.forward_rules.append(reg.op_type)
            else:
                (info.op_types if reg.kind == "gradient" else info.not_differentiable).append(reg.op_type)


def _kind_group(reg):
    """Registrations that may share an op type within one plugin: a new op, its gradient, its forward rule."""
    return {"forward": "op", "jvp": "jvp"}.get(reg.kind, "gradient")


def _check_op_type(op_type):
    if not isinstance(op_type, str):
        raise TypeError("op_type must be a string")


def _caller_location():
    import inspect
    frame = inspect.stack()[2]
    return f"{frame.filename}:{frame.lineno}"


def _builtin_modules():
    import tapeviz.plugins as package
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))


def load():
    """Register the built-in plugins, then every entry point in the ``tapeviz`` group."""
    global plugin_manager
    from tapeviz import __version__

    plugin_manager = pluggy.PluginManager("tapeviz")
    plugin_manager.add_hookspecs(hookspecs)
    candidates = []
    for name in _builtin_modules():
        candidates.append((PluginInfo(f"tapeviz.{name}", __version__, "built-in"),
                           lambda name=name: importlib.import_module(f"tapeviz.plugins.{name}")))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        source = f"{dist.name} (entry point {ep.value})" if dist else f"entry point {ep.value}"
        candidates.append((PluginInfo(ep.name, dist.version if dist else "?", source), ep.load))
    registry.mark_loaded()  # before loading: a plugin module may itself use tapeviz ops
    for info, load_plugin in candidates:
        plugins.append(info)
        try:
            load_one(info, load_plugin())
        except Exception as error:  # a plugin's failure must not take the others down
            info.error = "".join(traceback.format_exception_only(type(error), error)).strip()
            warnings.warn(f"tapeviz plugin '{info.name}' ({info.source}) is broken and was not loaded: "
                          f"{info.error}", RuntimeWarning, stacklevel=2)


def load_one(info, plugin):
    """Register one plugin object and apply its registrations all together, or none of them."""
    plugin_manager.register(plugin, name=info.name)
    try:
        registrar = Registrar(info.name)
        for impl in plugin_manager.hook.register_gradients.get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=registrar)
        registrar.commit(info)
    except Exception:
        plugin_manager.unregister(plugin)
        raise


def reload():
    """Forget every registration and load the plugins again (after installing a plugin, or in tests).

    Rules registered by scripts with ``RegisterGradient`` are forgotten too.
    """
    for table in (registry.gradient_functions, registry.not_differentiable, registry.forward_functions,
                  registry.registrations, registry.op_definitions, registry.batch_aware,
                  registry.forward_rules, registry.forward_registrations):
        table.clear()
    plugins.clear()
    load()
