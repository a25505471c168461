"""Loading plugins: once, under a lock, and every way a plugin can go wrong named in one line.

Loading happens once per process, so tests that need the first load run in a subprocess.
"""
import json
import subprocess
import sys
import textwrap

from plugin_dist import env_with_path, write_plugin_dist

FIRST_USE_IN_THREADS = textwrap.dedent("""
    import json, threading, warnings
    import tapeviz as tf
    import tapeviz.core.plugins as plugins

    loads = []
    original = plugins.load_one
    plugins.load_one = lambda info, plugin: (loads.append(info.name), original(info, plugin))[1]
    warnings.simplefilter("ignore")
    THREADS = 12
    start = threading.Barrier(THREADS)
    results, errors = [], []

    def first_use(n):
        x = tf.Variable(float(n))
        start.wait()
        try:
            with tf.GradientTape() as tape:      # the first tape of the process: loads the plugins
                y = x * x + tf.sin(x)
            results.append(float(tape.gradient(y, x)))
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=first_use, args=(n,)) for n in range(THREADS)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({"results": len(results), "errors": errors, "loads": loads,
                      "broken": [p.name for p in plugins.plugins if p.broken]}))
""")


def test_threads_using_a_tape_for_the_first_time_at_once_all_get_their_gradient():
    done = subprocess.run([sys.executable, "-c", FIRST_USE_IN_THREADS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] == [] and report["results"] == 12, report["errors"]
    assert report["broken"] == []
    assert len(report["loads"]) == len(set(report["loads"])), "a plugin was loaded twice"
    assert "tapeviz.math_grad" in report["loads"]


# ---- each way a plugin goes wrong, named in one line -----------------------------------------------

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tapeviz as tv  # noqa: E402
from tapeviz.core import plugins, registry  # noqa: E402
from tapeviz.testing import check_gradients  # noqa: E402

HOOK = "from tapeviz.core.hookspecs import hookimpl\n"


@pytest.fixture
def fresh_registry(monkeypatch):
    """After the test: take its plugins off sys.path, forget their modules, and load the plugins again."""
    modules = set(sys.modules)
    yield
    monkeypatch.undo()
    for name in set(sys.modules) - modules:
        if name.endswith("_mod"):
            del sys.modules[name]
    plugins.reload()


def load_with(tmp_path, monkeypatch, *dists):
    """Install ``dists`` ((dist name, {entry point: module}, {module: source}), ...) on sys.path and reload.

    Returns the RuntimeWarning messages and the plugins by name.
    """
    for number, (dist_name, eps, modules) in enumerate(dists):
        write_plugin_dist(tmp_path / f"site{number}", dist_name, "1.0", eps, modules)
        monkeypatch.syspath_prepend(str(tmp_path / f"site{number}"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins.reload()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return messages, {p.name: p for p in plugins.plugins}


def test_a_plugin_cannot_replace_a_builtin_ops_forward_without_override(tmp_path, monkeypatch, fresh_registry):
    messages, by_name = load_with(tmp_path, monkeypatch, ("sinplugin", {"sinplugin": "sinplugin_mod"}, {
        "sinplugin_mod": HOOK + "@hookimpl\ndef register_gradients(register):\n"
                                "    register.op('Sin', lambda x: x * 0.5)\n"}))
    info = by_name["sinplugin"]
    assert info.broken and "'Sin' already exists" in info.error and "override=True" in info.error
    assert "tapeviz.math_grad" in info.error
    assert "Sin" not in registry.forward_functions
    assert [m for m in messages if "sinplugin" in m and "\n" not in m]


def test_check_runs_an_op_through_the_forward_actually_installed(tmp_path, monkeypatch, fresh_registry):
    load_with(tmp_path, monkeypatch, ("sinplugin", {"sinplugin": "sinoverride_mod"}, {
        "sinoverride_mod": HOOK + "@hookimpl\ndef register_gradients(register):\n"
                                  "    register.op('Sin', lambda x: x * 0.5, override=True)\n"}))
    x = tv.Variable(1.0)
    with tv.GradientTape() as tape:
        y = tv.raw_ops.Sin(x)
    assert float(y) == 0.5 and float(tape.gradient(y, x)) == pytest.approx(np.cos(1.0))  # the wrong gradient
    results = check_gradients(op_types=["Sin"])
    assert results and not any(r.passed for r in results)
    assert all("another forward than the one installed" in r.detail and "sinplugin" in r.detail for r in results)


def test_a_plugin_calling_sys_exit_at_import_is_listed_broken(tmp_path, monkeypatch, fresh_registry):
    messages, by_name = load_with(tmp_path, monkeypatch, ("exitplugin", {"exitplugin": "exitplugin_mod"}, {
        "exitplugin_mod": "import sys\nsys.exit(3)\n"}))
    assert by_name["exitplugin"].broken and "sys.exit(3)" in by_name["exitplugin"].error
    assert not by_name["tapeviz.math_grad"].broken
    x = tv.Variable(1.0)
    with tv.GradientTape() as tape:
        y = x * x
    assert float(tape.gradient(y, x)) == 2.0


@pytest.mark.parametrize("source, hint", [
    (HOOK + "@hookimpl\ndef register_gradient(register):\n    register.not_differentiable('Foo')\n",
     "It defines register_gradient(), which is no tapeviz hook"),
    ("def register_gradients(register):\n    register.not_differentiable('Foo')\n",
     "not marked as a hook: decorate it with @hookimpl"),
])
def test_a_plugin_that_registers_nothing_is_warned_about_and_fails_check(tmp_path, monkeypatch, fresh_registry,
                                                                           source, hint):
    module = f"empty{len(hint)}_mod"  # a module name of its own: the other case's module is still imported
    messages, by_name = load_with(tmp_path, monkeypatch, ("emptyplugin", {"emptyplugin": module}, {module: source}))
    info = by_name["emptyplugin"]
    assert not info.broken and "registered nothing; did you mean register_gradients?" in info.warning
    assert hint in info.warning
    assert any("emptyplugin" in m and "registered nothing" in m for m in messages)
    done = subprocess.run([sys.executable, "-m", "tapeviz", "check", "--plugin", "emptyplugin"], capture_output=True,
                          text=True, timeout=120, env=env_with_path(tmp_path / "site0"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL plugin emptyplugin has no gradient rule to check" in done.stdout
    listed = subprocess.run([sys.executable, "-m", "tapeviz", "plugins"], capture_output=True, text=True,
                            timeout=120, env=env_with_path(tmp_path / "site0", PYTHONWARNINGS="ignore"))
    line = next(line for line in listed.stdout.splitlines() if line.startswith("emptyplugin"))
    assert "[ok]" not in line and "WARNING" in line


def test_duplicate_entry_point_names_give_one_line_naming_the_plugin(tmp_path, monkeypatch, fresh_registry):
    hook = HOOK + "@hookimpl\ndef register_gradients(register):\n    register.not_differentiable({op!r})\n"
    messages, _ = load_with(tmp_path, monkeypatch,
                            ("first-dist", {"dup": "dup_one"}, {"dup_one": hook.format(op="OpOne")}),
                            ("second-dist", {"dup": "dup_two"}, {"dup_two": hook.format(op="OpTwo")}))
    dups = [p for p in plugins.plugins if p.name == "dup"]
    assert len(dups) == 2 and not dups[0].broken and dups[1].broken
    assert "another plugin is already named 'dup'" in dups[1].error and "\n" not in dups[1].error
    assert dups[0].source.split()[0] in dups[1].error  # names where the first one came from
    (message,) = [m for m in messages if "'dup'" in m]
    assert "\n" not in message and "Plugin name already registered" not in message


def test_wrong_hook_argument_names_give_one_line_naming_the_plugin(tmp_path, monkeypatch, fresh_registry):
    messages, by_name = load_with(tmp_path, monkeypatch, ("argplugin", {"argplugin": "argplugin_mod"}, {
        "argplugin_mod": HOOK + "@hookimpl\ndef register_gradients(reg):\n    reg.not_differentiable('Foo')\n"}))
    info = by_name["argplugin"]
    assert info.broken and "register_gradients(reg)" in info.error and "'register'" in info.error
    (message,) = [m for m in messages if "argplugin" in m]
    assert "\n" not in message


def test_a_plugin_slow_to_import_is_named_in_a_warning(tmp_path, monkeypatch, fresh_registry):
    messages, by_name = load_with(tmp_path, monkeypatch, ("slowplugin", {"slowplugin": "slowplugin_mod"}, {
        "slowplugin_mod": "import time\ntime.sleep(1.2)\n" + HOOK
                          + "@hookimpl\ndef register_gradients(register):\n    register.not_differentiable('Foo')\n"}))
    assert not by_name["slowplugin"].broken
    assert any("slowplugin" in m and "to import" in m for m in messages), messages
