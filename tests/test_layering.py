"""The core imports nothing built on it: tapeviz.ops, tapeviz.inspection, the GUI and Keras sit above it.

What the core needs from above (``GradientTape.explain``'s explainer) is registered when those
layers are imported; the core builds jacobians from its own shape ops.
"""
import ast
import pathlib

import tapeviz

CORE = pathlib.Path(tapeviz.__file__).parent / "core"
# The plugin loader finds the built-in plugin package by name: loading plugins is its job.
ALLOWED = {("plugins.py", "tapeviz.plugins"), ("plugins.py", "tapeviz")}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_the_core_imports_only_itself_and_third_party_modules():
    upward = []
    for path in sorted(CORE.glob("*.py")):
        for module in _imports(ast.parse(path.read_text())):
            if module.startswith("tapeviz") and not module.startswith("tapeviz.core") \
                    and (path.name, module) not in ALLOWED:
                upward.append(f"{path.name} imports {module}")
    assert not upward, upward


def test_tape_explain_works_through_the_registered_explainer():
    x = tapeviz.Variable(2.0, trainable=False)
    with tapeviz.GradientTape() as tape:
        y = x * x
    assert "SOURCE_NOT_TRAINABLE" in str(tape.explain(y, x))
