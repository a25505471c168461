"""Finding and loading plugins: the built-in rule modules, then the ``tapeviz`` entry points.

Runs once per process (``registry.ensure_loaded``); never on the per-op path. A plugin that fails
to import or to register is listed as broken, with its error, and the rest keeps working.
"""
import importlib
import pkgutil
import time
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
    warning: str = ""         # loaded, but something is likely wrong (registered nothing, slow import)

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
                 batched=False, diagonal=None):
        _check_op_type(op_type)
        if not callable(grad_fn):
            raise TypeError(f"The gradient rule for '{op_type}' must be callable, got {grad_fn!r}.")
        for keyword, needs in (("needs_inputs", needs_inputs), ("needs_outputs", needs_outputs)):
            if not (isinstance(needs, bool) or isinstance(needs, (tuple, list, set, frozenset))
                    and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in needs)):
                raise TypeError(f"{keyword} for '{op_type}' must be True, False or a sequence of indices "
                                f"(the {keyword[6:]} whose values the rule reads), got {needs!r}.")
        if diagonal is not None and not (callable(diagonal) and batched):
            raise TypeError(f"diagonal for '{op_type}' must be a function (op, DiagonalGradient) of a rule registered "
                            f"with batched=True, got {diagonal!r} with batched={batched!r}.")
        self._stage(Registration(op_type, self.plugin, location_of(grad_fn), grad_fn=grad_fn,
                                 checks=tuple(checks), needs_inputs=needs_inputs, needs_outputs=needs_outputs,
                                 batched=bool(batched), diagonal=diagonal),
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

    def op(self, op_type, forward, grad_fn=None, *, checks=(), override=False, needs_inputs=True,
           needs_outputs=True):
        _check_op_type(op_type)
        if not callable(forward):
            raise TypeError(f"The forward function of op type '{op_type}' must be callable, got {forward!r}.")
        existing = registry.existing_op(op_type)
        if existing and not override:
            raise KeyError(f"Op type '{op_type}' already exists ({existing}); register.op adds new op types under "
                           f"a name of their own. To replace its forward on purpose, pass override=True.")
        self._stage(Registration(op_type, self.plugin, location_of(forward), forward=forward, kind="forward"),
                    override)
        if grad_fn is not None:
            self(op_type, grad_fn, checks=checks, override=override, needs_inputs=needs_inputs,
                 needs_outputs=needs_outputs)

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
            if reg.overrides is not None and reg.op_type not in info.overrides:
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


SLOW_IMPORT_SECONDS = 1.0   # a plugin slower than this to import is named: every program pays for it


def load():
    """Register the built-in plugins, then every entry point in the ``tapeviz`` group.

    Called by ``registry.load_plugins``, under its lock; call ``registry.ensure_loaded`` instead.
    Every problem is one line naming the plugin: a RuntimeWarning, and ``PluginInfo.error`` (the
    plugin is then broken and registers nothing) or ``PluginInfo.warning``.
    """
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
    for info, load_plugin in candidates:
        first = next((p for p in plugins if p.name == info.name), None)
        plugins.append(info)
        try:
            if first is not None:
                raise PluginError(f"another plugin is already named '{info.name}' ({first.source}); the entry-point "
                                  "names in the 'tapeviz' group must differ: rename one of them")
            started = time.perf_counter()
            plugin = load_plugin()
            seconds = time.perf_counter() - started
            if seconds > SLOW_IMPORT_SECONDS:
                _warn(info, f"took {seconds:.1f} s to import; every tapeviz program waits for it on its first tape. "
                            "Import heavy modules inside the rules, not at the plugin's top level.")
            load_one(info, plugin)
        except (Exception, SystemExit) as error:  # a plugin's failure, or sys.exit(), must not take the others down
            info.error = _one_line(error)
            warnings.warn(f"tapeviz plugin '{info.name}' ({info.source}) is broken and was not loaded: "
                          f"{info.error}", RuntimeWarning, stacklevel=2)
            continue
        if not (info.op_types or info.not_differentiable or info.new_ops or info.forward_rules):
            _warn(info, f"registered nothing; did you mean register_gradients? {_why_nothing(plugin)}")


class PluginError(Exception):
    """A plugin that cannot be loaded as written; the message names the fix."""


def _warn(info, message):
    info.warning = message
    warnings.warn(f"tapeviz plugin '{info.name}' ({info.source}) {message}", RuntimeWarning, stacklevel=3)


def _one_line(error):
    """``error`` as one line: no pluggy dump of every registered plugin, no multi-line message."""
    if isinstance(error, SystemExit):
        return f"SystemExit: the plugin called sys.exit({error.code!r}) while being loaded"
    if isinstance(error, pluggy.PluginValidationError):
        return f"PluginValidationError: {_hook_signature_problem(error.plugin)}"
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _hook_signature_problem(plugin):
    import inspect

    hook = getattr(plugin, "register_gradients", None)
    try:
        declared = str(inspect.signature(hook))
    except (TypeError, ValueError):
        declared = "(...)"
    return (f"its hook is register_gradients{declared}, but tapeviz calls register_gradients(register): "
            "name the argument 'register'")


def _why_nothing(plugin):
    """Why a plugin that loaded registered nothing: a misspelled hook, or a function without @hookimpl."""
    import difflib

    names = [name for name in dir(plugin) if callable(getattr(plugin, name, None)) and not name.startswith("__")]
    close = difflib.get_close_matches("register_gradients", names, n=1, cutoff=0.7)
    if close == ["register_gradients"]:
        return ("Its register_gradients function is not marked as a hook: decorate it with @hookimpl "
                "(from tapeviz.core.hookspecs import hookimpl).")
    if close:
        return f"It defines {close[0]}(), which is no tapeviz hook: rename it register_gradients."
    return "It defines no register_gradients hook, or its hook registered no op type."


def load_one(info, plugin):
    """Register one plugin object and apply its registrations all together, or none of them."""
    other = plugin_manager.get_name(plugin)
    if other is not None:
        raise PluginError(f"its entry point names the same module as plugin '{other}'; remove one of the two")
    try:
        plugin_manager.register(plugin, name=info.name)
        registrar = Registrar(info.name)
        for impl in plugin_manager.hook.register_gradients.get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=registrar)
        registrar.commit(info)
    except BaseException:
        if plugin_manager.get_name(plugin) is not None:
            plugin_manager.unregister(plugin)
        raise


def reload():
    """Forget every registration and load the plugins again (after installing a plugin, or in tests).

    Rules registered by scripts with ``RegisterGradient`` are forgotten too.
    """
    registry.load_plugins(fresh=True)
