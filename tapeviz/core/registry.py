"""The gradient registry: op type -> gradient function, filled once from the plugins.

The backward pass reads ``gradient_functions`` and ``not_differentiable`` directly (dictionary
look-ups only). ``tapeviz.core.plugins`` fills them the first time ``ensure_loaded`` is called.
"""
import inspect
from dataclasses import dataclass
from typing import Callable, Optional

from .execute import values_not_needed

gradient_functions = {}   # op type -> grad_fn(op, *output_grads)
not_differentiable = {}   # op type -> Registration
forward_functions = {}    # op type -> forward(*numpy_values, **attrs), for plugin-defined ops
registrations = {}        # op type -> Registration (gradient rules)
forward_rules = {}        # op type -> jvp(op, *input_tangents): output tangent(s), for forward mode
forward_registrations = {}  # op type -> Registration (forward-mode rules)
batch_aware = set()       # op types whose rule takes gradients with a leading batch dimension (batched=True)
op_definitions = {}       # op type -> Registration (plugin-defined forward functions)
_loaded = False


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
    needs_inputs: bool = True    # False: the rule reads only the inputs' shapes and dtypes, not values
    needs_outputs: bool = True   # False: the rule never reads the outputs' values
    batched: bool = False        # True: the rule handles gradients with a leading batch dimension

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
        from . import plugins
        plugins.load()


def mark_loaded():
    global _loaded
    _loaded = True


def describe_rule(op_type):
    reg = registrations.get(op_type)
    return reg.describe() if reg else "an unregistered rule"


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
    values_not_needed.pop(reg.op_type, None)
    batch_aware.discard(reg.op_type)
    table[reg.op_type] = reg
    if reg.kind == "gradient":
        gradient_functions[reg.op_type] = reg.grad_fn
        if reg.batched:
            batch_aware.add(reg.op_type)
        if not (reg.needs_inputs and reg.needs_outputs):
            values_not_needed[reg.op_type] = (reg.needs_inputs, reg.needs_outputs)
