"""The gradient registry: op type -> gradient function, filled once from the plugins.

The backward pass reads ``gradient_functions`` and ``not_differentiable`` directly (dictionary
look-ups only). ``tapeviz.core.plugins`` fills them the first time ``ensure_loaded`` is called,
under a lock: threads that need the registry while it loads wait, and see it only when complete.
"""
import inspect
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from .execute import values_read

gradient_functions = {}   # op type -> grad_fn(op, *output_grads)
not_differentiable = {}   # op type -> Registration
forward_functions = {}    # op type -> forward(*numpy_values, **attrs), for plugin-defined ops
registrations = {}        # op type -> Registration (gradient rules)
forward_rules = {}        # op type -> jvp(op, *input_tangents): output tangent(s), for forward mode
forward_registrations = {}  # op type -> Registration (forward-mode rules)
batch_aware = set()       # op types whose rule takes gradients with a leading batch dimension (batched=True)
diagonal_rules = {}       # op type -> rule(op, DiagonalGradient) for batch_jacobian's structured gradients
op_definitions = {}       # op type -> Registration (plugin-defined forward functions)
_loaded = False           # set only after every plugin was tried: other threads may then read the tables
load_lock = threading.RLock()  # held while plugins load or a script registers a rule
_loading_thread = None    # the thread loading now: a plugin that uses tapeviz while imported must not wait for itself


@dataclass(frozen=True)
class CheckCase:
    """How to exercise one op for finite-difference checks.

    ``fn(*tensors)`` runs the op (usually through the public API, e.g. ``lambda x, y: x * y``);
    ``inputs`` are the float64 points to differentiate at. ``second_order=False`` for rules whose
    own gradient is not meant to be checked (piecewise-constant derivatives are checked anyway).
    """

    fn: Callable
    inputs: tuple
    second_order: bool = True
    name: str = ""


@dataclass
class Registration:
    op_type: str
    plugin: str
    location: str
    grad_fn: Optional[Callable] = None
    forward: Optional[Callable] = None
    checks: tuple = ()
    overrides: Optional["Registration"] = None
    kind: str = "gradient"   # "gradient", "not_differentiable", "forward" (a plugin's new op) or "jvp"
    # True: the rule reads every input's value; False: only shapes and dtypes; a sequence of indices:
    # only those inputs' values (e.g. (0,) for a select whose rule reads the condition only).
    needs_inputs: object = True
    needs_outputs: object = True  # the same for the op's outputs
    batched: bool = False        # True: the rule handles gradients with a leading batch dimension
    diagonal: Optional[Callable] = None  # the rule for a batched=True rule's diagonal gradients (batching.py)

    def describe(self):
        return f"plugin '{self.plugin}' at {self.location}"


def location_of(fn, fallback="<unknown>"):
    try:
        fn = inspect.unwrap(fn)
        return f"{inspect.getsourcefile(fn)}:{fn.__code__.co_firstlineno}"
    except (TypeError, AttributeError):
        return fallback


def ensure_loaded():
    """Load the plugins once; later calls are a single flag test."""
    if not _loaded:
        load_plugins()


def load_plugins(fresh=False):
    """Load the plugins under the lock, once; ``fresh=True`` forgets every registration and loads again.

    A thread that arrives while another loads waits for it. The thread that is loading may come
    back here (a plugin module that runs tapeviz ops at import): it returns at once and sees the
    plugins loaded so far (the built-in ones are loaded first).
    """
    global _loaded, _loading_thread
    with load_lock:
        if _loading_thread is threading.current_thread() or (_loaded and not fresh):
            return
        from . import plugins
        _loading_thread = threading.current_thread()
        try:
            _loaded = False
            if fresh:
                for table in (gradient_functions, not_differentiable, forward_functions, registrations,
                              op_definitions, values_read, batch_aware, forward_rules, forward_registrations,
                              diagonal_rules):
                    table.clear()
                plugins.plugins.clear()
            plugins.load()
            _loaded = True
        finally:
            _loading_thread = None


def describe_rule(op_type):
    reg = registrations.get(op_type)
    return reg.describe() if reg else "an unregistered rule"


def _indices_read(needs):
    """``needs_inputs``/``needs_outputs`` as the recording table keeps it: None (all) or a frozenset."""
    if needs is True:
        return None
    if needs is False:
        return frozenset()
    return frozenset(needs)


def existing_op(op_type):
    """How ``op_type`` already exists (a forward or a rule registered), or "" if it is free."""
    definition = op_definitions.get(op_type)
    if definition is not None:
        return f"its forward is registered by {definition.describe()}"
    rule = registrations.get(op_type) or not_differentiable.get(op_type)
    if rule is not None:
        return f"an op type whose gradient is registered by {rule.describe()}"
    return ""


def missing_rule_error(op_type):
    return LookupError(
        f"gradient registry has no entry for: {op_type}. A differentiable path runs through this op but no "
        f"plugin registers its gradient. Register one with @tapeviz.RegisterGradient('{op_type}') in a script, "
        "or from a plugin's register_gradients hook; if the op has no gradient, call "
        f"tapeviz.no_gradient('{op_type}') or wrap its input in tapeviz.stop_gradient."
    )


def check_free(reg, override=False):
    """Raise KeyError if ``reg``'s op type is taken and the registration does not override it."""
    previous = registrations.get(reg.op_type) or not_differentiable.get(reg.op_type)
    if previous is not None and not override:
        raise KeyError(
            f"Registering two gradients for op type '{reg.op_type}': {previous.describe()} registered it "
            f"first, {reg.describe()} registers it again. To replace the first rule on purpose, pass "
            "override=True."
        )
    return previous


def check_free_forward(reg, override=False):
    """Raise KeyError if ``reg``'s op type has a forward-mode rule and the registration does not override it."""
    previous = forward_registrations.get(reg.op_type)
    if previous is not None and not override:
        raise KeyError(f"Registering two forward-mode rules for op type '{reg.op_type}': {previous.describe()} "
                       f"registered it first, {reg.describe()} registers it again. To replace the first rule on "
                       "purpose, pass override=True.")
    return previous


def add(reg, override=False):
    """Install one Registration, refusing to take an op type already taken unless it overrides."""
    if reg.kind == "forward":
        if override:
            reg.overrides = op_definitions.get(reg.op_type) or registrations.get(reg.op_type)
        forward_functions[reg.op_type] = reg.forward
        op_definitions[reg.op_type] = reg
        return
    if reg.kind == "jvp":
        reg.overrides = check_free_forward(reg, override)
        forward_rules[reg.op_type] = reg.grad_fn
        forward_registrations[reg.op_type] = reg
        return
    reg.overrides = check_free(reg, override)
    table = registrations if reg.kind == "gradient" else not_differentiable
    registrations.pop(reg.op_type, None)
    not_differentiable.pop(reg.op_type, None)
    gradient_functions.pop(reg.op_type, None)
    values_read.pop(reg.op_type, None)
    batch_aware.discard(reg.op_type)
    diagonal_rules.pop(reg.op_type, None)
    table[reg.op_type] = reg
    if reg.kind == "gradient":
        gradient_functions[reg.op_type] = reg.grad_fn
        if reg.batched:
            batch_aware.add(reg.op_type)
            if reg.diagonal is not None:
                diagonal_rules[reg.op_type] = reg.diagonal
        reads = (_indices_read(reg.needs_inputs), _indices_read(reg.needs_outputs))
        if reads != (None, None):
            values_read[reg.op_type] = reads
