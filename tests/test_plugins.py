"""Gradient rules arrive through pluggy plugins: discovery, conflicts, broken plugins, bad rules."""
import sys
import textwrap

import numpy as np
import pytest

import tapeviz as tv
from tapeviz.core import plugins, registry


@pytest.fixture
def fresh_registry(monkeypatch):
    """Reload the plugins after the test, so registrations made here do not leak.

    The test's fake distributions come off sys.path first: reloading with them still there kept
    their plugins loaded for the tests that followed.
    """
    yield
    monkeypatch.undo()
    plugins.reload()


def _install_entry_point(tmp_path, monkeypatch, name, module_source):
    """A fake installed distribution whose ``tapeviz`` entry point is ``name``."""
    (tmp_path / f"{name}_mod.py").write_text(textwrap.dedent(module_source))
    dist = tmp_path / f"{name}-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(f"[tapeviz]\n{name} = {name}_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_builtin_rules_are_plugins_registered_like_third_party_ones():
    registry.ensure_loaded()
    builtin = [p for p in plugins.plugins if p.source == "built-in"]
    assert {p.name for p in builtin} >= {"tapeviz.math_grad"}
    assert registry.registrations["Sin"].plugin == "tapeviz.math_grad"
    assert "math_grad.py" in registry.registrations["Sin"].location
    assert plugins.plugin_manager.get_plugin("tapeviz.math_grad") is not None


def test_third_party_plugin_is_found_through_its_entry_point(tmp_path, monkeypatch, fresh_registry):
    _install_entry_point(tmp_path, monkeypatch, "cubeplugin", """
        import numpy as np
        from tapeviz.core.hookspecs import hookimpl

        @hookimpl
        def register_gradients(register):
            register.op("Cube", lambda x: x ** 3, lambda op, g: g * 3.0 * op.inputs[0] * op.inputs[0])
    """)
    plugins.reload()
    info = next(p for p in plugins.plugins if p.name == "cubeplugin")
    assert (info.version, info.new_ops, info.broken) == ("1.2.3", ["Cube"], False)
    x = tv.Variable(2.0)
    with tv.GradientTape() as tape:
        y = tv.raw_ops.Cube(x)
    assert float(y) == 8.0
    assert float(tape.gradient(y, x)) == pytest.approx(12.0)


def test_broken_plugin_is_listed_and_everything_else_works(tmp_path, monkeypatch, fresh_registry):
    _install_entry_point(tmp_path, monkeypatch, "brokenplugin", "raise ImportError('missing dependency foo')\n")
    with pytest.warns(RuntimeWarning, match="brokenplugin.*missing dependency foo"):
        plugins.reload()
    info = next(p for p in plugins.plugins if p.name == "brokenplugin")
    assert info.broken and "missing dependency foo" in info.error
    x = tv.Variable(1.0)
    with tv.GradientTape() as tape:
        y = tv.sin(x)
    assert float(tape.gradient(y, x)) == pytest.approx(np.cos(1.0))


def test_conflicting_plugin_is_refused_whole_with_both_origins_named(tmp_path, monkeypatch, fresh_registry):
    _install_entry_point(tmp_path, monkeypatch, "clashplugin", """
        from tapeviz.core.hookspecs import hookimpl

        @hookimpl
        def register_gradients(register):
            register.not_differentiable("BrandNewOp")
            register("Sin", lambda op, g: g)
    """)
    with pytest.warns(RuntimeWarning) as caught:
        plugins.reload()
    message = str(caught[0].message)
    assert "tapeviz.math_grad" in message and "clashplugin" in message and "override=True" in message
    assert "BrandNewOp" not in registry.not_differentiable  # all of the plugin, or none of it
    assert registry.registrations["Sin"].plugin == "tapeviz.math_grad"


def test_explicit_override_replaces_a_builtin_rule(tmp_path, monkeypatch, fresh_registry):
    _install_entry_point(tmp_path, monkeypatch, "overrideplugin", """
        from tapeviz.core.hookspecs import hookimpl

        @hookimpl
        def register_gradients(register):
            register("Sin", lambda op, g: g * 0.0 + 42.0, override=True)
    """)
    plugins.reload()
    info = next(p for p in plugins.plugins if p.name == "overrideplugin")
    assert info.overrides == ["Sin"]
    x = tv.Variable(0.5)
    with tv.GradientTape() as tape:
        y = tv.sin(x)
    assert float(tape.gradient(y, x)) == 42.0


def test_hook_runs_once_and_is_cached(monkeypatch, fresh_registry):
    calls = []
    original = plugins.load_one
    monkeypatch.setattr(plugins, "load_one", lambda info, plugin: (calls.append(info.name), original(info, plugin)))
    plugins.reload()
    loaded = len(calls)
    x = tv.Variable(1.0)
    for _ in range(3):
        with tv.GradientTape() as tape:
            y = tv.sin(x)
        tape.gradient(y, x)
    assert len(calls) == loaded


def test_register_gradient_in_a_script(fresh_registry):
    @tv.RegisterGradient("MySquare")
    def _grad(op, grad):
        return grad * 2.0 * op.inputs[0]

    assert registry.gradient_functions["MySquare"] is _grad
    with pytest.raises(KeyError, match="MySquare.*registered it first.*override=True"):
        tv.RegisterGradient("MySquare")(lambda op, g: g)
    with pytest.raises(TypeError, match="op_type must be a string"):
        tv.RegisterGradient(3)


def test_path_through_an_op_with_no_rule_raises_lookup_error(fresh_registry):
    registrar = plugins.Registrar("test")
    registrar.op("Unruled", np.sin)  # a forward with no gradient rule
    registrar.commit(plugins.PluginInfo("test", "", "test"))
    x = tv.Variable(1.0)
    with tv.GradientTape() as tape:
        y = tv.raw_ops.Unruled(x)
    with pytest.raises(LookupError, match=r"gradient registry has no entry for: Unruled.*RegisterGradient\('Unruled'\)"):
        tape.gradient(y, x)


def test_no_gradient_gives_none(fresh_registry):
    registrar = plugins.Registrar("test")
    registrar.op("Opaque", np.sin)
    registrar.not_differentiable("Opaque")
    registrar.commit(plugins.PluginInfo("test", "", "test"))
    x = tv.Variable(1.0)
    with tv.GradientTape() as tape:
        y = tv.raw_ops.Opaque(x)
    assert tape.gradient(y, x) is None


@pytest.mark.parametrize("rule, problem", [
    (lambda op, g: (g, g), "returned 2 gradients for 1 inputs"),
    (lambda op, g: tv.constant([1.0, 2.0]), r"gradient of float32\[2\] for an input of float32\[\]"),
    (lambda op, g: tv.constant(1.0, dtype=tv.float64), r"float64\[\] for an input of float32\[\]"),
    (lambda op, g: 1.0, "returned a float, not a Tensor"),
])
def test_rule_returning_wrong_count_shape_or_dtype_names_op_and_plugin(rule, problem, fresh_registry):
    registrar = plugins.Registrar("badrules")
    registrar.op("BadRule", np.sin, rule)
    registrar.commit(plugins.PluginInfo("badrules", "", "test"))
    x = tv.Variable(1.0)
    with tv.GradientTape() as tape:
        y = tv.raw_ops.BadRule(x)
    with pytest.raises(tv.GradientRuleError, match=f"BadRule \\(plugin 'badrules'.*{problem}"):
        tape.gradient(y, x)


def _imports(module):
    import ast
    tree = ast.parse(open(module.__file__).read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "") + ":" + ",".join(alias.name for alias in node.names))
    return " ".join(names)


def test_the_per_op_path_imports_no_registry_plugin_manager_or_qt():
    import tapeviz.core.execute as execute
    import tapeviz.core.tensor as tensor
    for module in (execute, tensor):
        imported = _imports(module)
        assert "registry" not in imported and "plugins" not in imported and "pluggy" not in imported
    import subprocess
    # In a fresh interpreter: pytest plugins (pytest-qt) may have imported Qt into this one.
    probe = ("import sys, tapeviz as tf, tapeviz.inspection, tapeviz.gui.graph, tapeviz.cli\n"
             "x = tf.Variable(1.0)\nwith tf.GradientTape() as t: y = tf.sin(x)\n"
             "t.gradient(y, x); print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'shiboken6')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
