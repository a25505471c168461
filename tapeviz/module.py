"""``tapeviz.Module`` and ``tapeviz.name_scope``, as ``tf.Module`` and ``tf.name_scope``.

A Module collects the Variables and Modules reachable from its attributes (through lists, tuples
and dicts), in TensorFlow's order: attributes sorted by name, a module's own variables before its
submodules', each object once. ``name_scope`` prefixes the names of variables created inside it
(``with module.name_scope: tf.Variable(1., name="w")`` is ``"module/w:0"``), as in eager TensorFlow,
and is the scope of the ops run inside it (``get_current_name_scope``), which a recording keeps per op.
"""
import functools
import re

from tapeviz.core.context import state
from tapeviz.core.nest import _is_namedtuple
from tapeviz.core.tensor import Variable

__all__ = ["Module", "name_scope", "get_current_name_scope"]


def get_current_name_scope():
    """The name scope ops run in now, as TensorFlow's: ``"outer/inner"``, ``""`` outside any scope.

    Inside a Keras layer's call it is the layer's scope nested in its callers' (``"sequential/dense"``);
    the recorder keeps it with every op, and the inspector groups ops by it.
    """
    return state.name_scope.removesuffix("/")


class name_scope:  # noqa: N801 - TensorFlow's spelling
    """``with name_scope("outer"):`` variables created inside are named ``outer/<name>:0``.

    A name ending in ``/`` is used as it stands (TF's way of re-entering a scope); eager TensorFlow
    does not make scope names unique, and neither does tapeviz.
    """

    def __init__(self, name):
        if not isinstance(name, str):
            raise TypeError(f"name_scope takes a string name, got {type(name).__name__} {name!r}.")
        self._name = name
        self._previous = []

    @property
    def name(self):
        return self._name

    def _full_name(self):
        if not self._name:
            return ""
        if self._name.endswith("/"):
            return self._name
        return state.name_scope + self._name + "/"

    def __enter__(self):
        self._previous.append(state.name_scope)
        state.name_scope = self._full_name()
        return state.name_scope

    def __exit__(self, *exc_info):
        state.name_scope = self._previous.pop()
        return False


def _camel_to_snake(name):
    """TensorFlow's camel_to_snake: ``SequentialModule`` -> ``sequential_module``."""
    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name).lower()



class Module:
    """Base class for objects that own Variables and other Modules (TensorFlow's ``tf.Module``)."""

    def __init__(self, name=None):
        if name is None:
            name = _camel_to_snake(type(self).__name__)
        elif not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{name!r} is not a valid module name. Module names must be valid Python "
                             "identifiers (e.g. a valid class name).")
        self._name = name
        with name_scope(name) as scope_name:
            self._scope_name = scope_name

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        """A context manager under which new variables are named ``<module scope>/<name>:0``."""
        return name_scope(self._scope_name)

    @property
    def variables(self):
        """Every Variable of this module and its submodules, each once, in TensorFlow's order (a tuple)."""
        return tuple(self._flatten(predicate=_is_variable))

    @property
    def trainable_variables(self):
        return tuple(self._flatten(predicate=lambda leaf: _is_variable(leaf) and leaf.trainable))

    @property
    def non_trainable_variables(self):
        return tuple(self._flatten(predicate=lambda leaf: _is_variable(leaf) and not leaf.trainable))

    @property
    def submodules(self):
        """Every Module reachable from this one's attributes, nearest first (a tuple)."""
        return tuple(self._flatten(predicate=lambda leaf: isinstance(leaf, Module)))

    def _flatten(self, recursive=True, predicate=None):
        return _flatten_module(self, recursive, predicate or (lambda leaf: True), seen={id(self)}, stack=set())

    @classmethod
    def with_name_scope(cls, method):
        """Decorator: run ``method`` inside its module's name scope."""
        @functools.wraps(method)
        def method_in_scope(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return method_in_scope


def _is_variable(leaf):
    return isinstance(leaf, Variable)


# TensorFlow's _flatten_module: attributes in sorted order; leaves of this module first, then each
# submodule's, depth first. ``seen`` holds ids already yielded, ``stack`` the modules being walked
# (a module that refers back to its parent is not walked twice).
def _flatten_module(module, recursive, predicate, seen, stack):
    submodules = []
    for key in sorted(vars(module)):
        for leaf in _leaves(vars(module)[key]):
            if id(leaf) in seen:
                continue
            seen.add(id(leaf))
            if predicate(leaf):
                yield leaf
            if recursive and isinstance(leaf, Module):
                submodules.append(leaf)
    stack.add(id(module))
    for submodule in submodules:
        if id(submodule) not in stack:
            yield from _flatten_module(submodule, recursive, predicate, seen, stack)
    stack.discard(id(module))


def _leaves(value):
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _leaves(value[key])
    elif isinstance(value, (list, tuple)) or _is_namedtuple(value):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
