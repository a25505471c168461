"""The example third-party plugin, really installed, and a really broken one, seen end to end.

``examples/plugins/tapeviz-softclip`` must be installed (``python -m pip install -e
examples/plugins/tapeviz-softclip``, as ``.ci/run`` does): these tests check that tapeviz finds it
through its entry point, that its ops differentiate correctly at first and second order, and that
it overrides nothing. ``tests/fixtures/broken_plugin`` is made a distribution only in a
temporary directory (no build, no install) and loaded in subprocesses, next to softclip, through the Python API and through the
``tapeviz plugins`` / ``tapeviz check`` command line.
"""
import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.core import plugins, registry
from tapeviz.testing import check_gradients

from plugin_dist import write_plugin_dist

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = REPO_ROOT / "examples" / "plugins" / "tapeviz-softclip"
BROKEN_FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "broken_plugin"
INSTALL_HINT = f"install the example plugin first: python -m pip install -e {EXAMPLE_DIR.relative_to(REPO_ROOT)}"
SOFTCLIP_OPS = ["LogCosh", "SoftClip"]
MISSING_MODULE = "tapeviz_fixture_missing_dependency"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softclip_info():
    registry.ensure_loaded()
    found = [p for p in plugins.plugins if p.name == "softclip"]
    assert found, f"no plugin named 'softclip' was loaded; {INSTALL_HINT}"
    return found[0]


@pytest.fixture(scope="module")
def softclip():
    try:
        import tapeviz_softclip
    except ImportError as error:
        pytest.fail(f"{error}; {INSTALL_HINT}")
    return tapeviz_softclip


# ---- discovery ---------------------------------------------------------------------------------

def test_example_plugin_is_discovered_through_its_entry_point():
    by_name = {ep.name: ep for ep in entry_points(group="tapeviz")}
    assert "softclip" in by_name, f"no 'softclip' entry point in group 'tapeviz'; {INSTALL_HINT}"
    assert by_name["softclip"].value == "tapeviz_softclip.plugin"
    assert by_name["softclip"].dist.name == "tapeviz-softclip"

    info = softclip_info()
    assert not info.broken, info.error
    assert info.version == version("tapeviz-softclip") == "0.1.0"
    assert "tapeviz-softclip" in info.source
    assert sorted(info.new_ops) == SOFTCLIP_OPS
    assert sorted(info.op_types) == SOFTCLIP_OPS
    assert plugins.plugin_manager.get_plugin("softclip") is not None
    for op_type in SOFTCLIP_OPS:
        assert registry.registrations[op_type].plugin == "softclip"
        assert registry.op_definitions[op_type].plugin == "softclip"
        assert "tapeviz_softclip" in registry.registrations[op_type].location


def test_example_plugin_overrides_nothing():
    info = softclip_info()
    assert info.overrides == []
    assert info.not_differentiable == []
    for op_type in SOFTCLIP_OPS:
        assert registry.registrations[op_type].overrides is None
    # Every rule the built-in plugins registered is still theirs.
    for builtin in (p for p in plugins.plugins if p.source == "built-in"):
        for op_type in builtin.op_types:
            assert registry.registrations[op_type].plugin == builtin.name


# ---- values and derivatives against analytic formulas -------------------------------------------

@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (0.0, 6.0), (-0.25, 0.5)])
def test_softclip_first_and_second_derivatives_match_analytic_values(softclip, low, high):
    points = np.array([-40.0, -3.0, low, 0.1, high, 2.5, 40.0])
    x = tf.Variable(points, dtype=tf.float64)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = softclip.softclip(x, low=low, high=high)
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)

    s_low, s_high = sigmoid(points - low), sigmoid(points - high)
    expected = low + np.logaddexp(0, points - low) - np.logaddexp(0, points - high)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dy.numpy(), s_low - s_high, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(d2y.numpy(), s_low * (1 - s_low) - s_high * (1 - s_high), rtol=1e-10, atol=1e-15)
    assert low <= y.numpy().min() and y.numpy().max() <= high  # it clips, smoothly


def test_log_cosh_first_and_second_derivatives_match_analytic_values(softclip):
    points = np.array([-800.0, -3.0, -1e-3, 0.0, 0.7, 30.0, 800.0])
    x = tf.Variable(points, dtype=tf.float64)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # stable: no overflow even where cosh(x) is not representable
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = softclip.log_cosh(x)
            dy = inner.gradient(y, x)
        d2y = outer.gradient(dy, x)
    expected = np.abs(points) + np.log1p(np.exp(-2 * np.abs(points))) - np.log(2.0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(y.numpy()[1:-1], np.log(np.cosh(points[1:-1])), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(dy.numpy(), np.tanh(points), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(d2y.numpy(), 1 - np.tanh(points) ** 2, rtol=1e-9, atol=1e-15)


def test_friendly_functions_run_the_raw_ops_and_keep_float32(softclip):
    x = tf.Variable([-3.0, 0.5, 3.0])  # float32, as in TensorFlow
    with tf.GradientTape(persistent=True) as tape:
        friendly = softclip.softclip(x, low=-2.0, high=2.0)
        raw = tf.raw_ops.SoftClip(x, low=-2.0, high=2.0)
        cosh = tf.raw_ops.LogCosh(x)
    assert friendly.dtype == raw.dtype == cosh.dtype == tf.float32
    np.testing.assert_array_equal(friendly.numpy(), raw.numpy())
    np.testing.assert_array_equal(tape.gradient(friendly, x).numpy(), tape.gradient(raw, x).numpy())
    assert tape.gradient(cosh, x).dtype == tf.float32


def test_softclip_composes_with_builtin_ops_in_a_loss(softclip):
    w = tf.Variable(np.array([0.5, -2.0, 3.0]), dtype=tf.float64)
    data = np.array([1.0, 2.0, -1.5])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(softclip.softclip(w * data) ** 2.0)
    z = w.numpy() * data
    value = -1.0 + np.logaddexp(0, z + 1.0) - np.logaddexp(0, z - 1.0)
    expected = 2.0 * value * (sigmoid(z + 1.0) - sigmoid(z - 1.0)) * data
    np.testing.assert_allclose(tape.gradient(loss, w).numpy(), expected, rtol=1e-10)


def test_softclip_refuses_empty_ranges(softclip):
    with pytest.raises(ValueError, match="low < high"):
        softclip.softclip(tf.constant(1.0), low=1.0, high=1.0)


# ---- finite-difference checks --------------------------------------------------------------------

def test_check_gradients_passes_for_every_softclip_rule_at_both_orders():
    softclip_info()
    results = check_gradients(plugin="softclip")
    assert {r.op_type for r in results} == set(SOFTCLIP_OPS)
    for op_type in SOFTCLIP_OPS:
        assert {r.order for r in results if r.op_type == op_type} == {1, 2}
        assert len({r.case for r in results if r.op_type == op_type}) >= 3  # several shapes
    assert all(r.plugin == "softclip" for r in results)
    failures = [str(r) for r in results if not r.passed]
    assert not failures, "\n".join(failures)


def test_example_plugins_own_test_suite_passes():
    done = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE_DIR / "tests")])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


# ---- a broken plugin next to softclip, in subprocesses -------------------------------------------

@pytest.fixture(scope="module")
def broken_plugin_dir(tmp_path_factory):
    """``tests/fixtures/broken_plugin`` as a distribution in a temporary directory (never site-packages).

    No build step: the package is copied next to a ``*.dist-info`` written by the test, which is
    all ``importlib.metadata`` needs, so this works in a fresh venv without ``wheel``.
    """
    return write_plugin_dist(tmp_path_factory.mktemp("broken_plugin"), "tapeviz-broken-fixture", "0.0.1",
                             entry_points={"broken-fixture": "tapeviz_broken_fixture.plugin"},
                             packages={"tapeviz_broken_fixture": BROKEN_FIXTURE_DIR / "tapeviz_broken_fixture"})


def run(command, extra_path=None):
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


LOAD_AND_DIFFERENTIATE = textwrap.dedent("""
    import json, warnings
    import numpy as np
    import tapeviz as tf
    import tapeviz.core.plugins as p, tapeviz.core.registry as r

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r.ensure_loaded()
    x = tf.Variable(np.array([0.7, -1.2]), dtype=tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        through_sin = tf.sin(x)
        through_softclip = tf.raw_ops.SoftClip(x, low=-1.0, high=1.0)
    print(json.dumps({
        "plugins": [{"name": i.name, "version": i.version, "broken": i.broken, "error": i.error,
                     "new_ops": sorted(i.new_ops), "overrides": i.overrides} for i in p.plugins],
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
        "sin_grad": tape.gradient(through_sin, x).numpy().tolist(),
        "softclip_grad": tape.gradient(through_softclip, x).numpy().tolist(),
    }))
""")


def test_broken_plugin_is_listed_with_its_import_error_and_the_rest_still_works(broken_plugin_dir):
    done = run([sys.executable, "-c", LOAD_AND_DIFFERENTIATE], extra_path=broken_plugin_dir)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    by_name = {p["name"]: p for p in report["plugins"]}

    broken = by_name["broken-fixture"]
    assert broken["broken"] and broken["version"] == "0.0.1"
    assert "ModuleNotFoundError" in broken["error"] and MISSING_MODULE in broken["error"]
    assert broken["new_ops"] == []
    assert any(w.startswith("RuntimeWarning") and "broken-fixture" in w and MISSING_MODULE in w
               for w in report["warnings"]), report["warnings"]

    assert not by_name["softclip"]["broken"] and by_name["softclip"]["new_ops"] == SOFTCLIP_OPS
    assert not by_name["tapeviz.math_grad"]["broken"]
    assert [name for name, p in by_name.items() if p["broken"]] == ["broken-fixture"]

    x = np.array([0.7, -1.2])
    np.testing.assert_allclose(report["sin_grad"], np.cos(x), rtol=1e-12)
    np.testing.assert_allclose(report["softclip_grad"], sigmoid(x + 1.0) - sigmoid(x - 1.0), rtol=1e-12)


def test_broken_fixture_is_not_installed_in_this_environment():
    with pytest.raises(PackageNotFoundError):
        version("tapeviz-broken-fixture")
    assert "broken-fixture" not in {ep.name for ep in entry_points(group="tapeviz")}


# ---- the command line: tapeviz plugins / tapeviz check ---------------------------------------------

def tapeviz_command(*args, extra_path=None):
    return run([sys.executable, "-m", "tapeviz", *args], extra_path=extra_path)


def test_cli_plugins_json_lists_softclip_with_its_version_and_op_types():
    done = tapeviz_command("plugins", "--json")
    assert done.returncode == 0, done.stderr
    by_name = {p["name"]: p for p in json.loads(done.stdout)["plugins"]}
    softclip = by_name["softclip"]
    assert softclip["version"] == "0.1.0" and not softclip["broken"] and softclip["error"] == ""
    assert softclip["new_ops"] == SOFTCLIP_OPS and softclip["gradients"] == SOFTCLIP_OPS
    assert softclip["overrides"] == []
    assert "broken-fixture" not in by_name


def test_cli_plugins_lists_the_broken_fixture_with_its_error(broken_plugin_dir):
    done = tapeviz_command("plugins", "--json", extra_path=broken_plugin_dir)
    assert done.returncode == 0, done.stderr
    by_name = {p["name"]: p for p in json.loads(done.stdout)["plugins"]}
    assert by_name["broken-fixture"]["broken"] and MISSING_MODULE in by_name["broken-fixture"]["error"]
    assert by_name["broken-fixture"]["version"] == "0.0.1"
    assert not by_name["softclip"]["broken"]

    text = tapeviz_command("plugins", extra_path=broken_plugin_dir)
    assert text.returncode == 0, text.stderr
    broken_line = next(line for line in text.stdout.splitlines() if line.startswith("broken-fixture"))
    assert "BROKEN" in broken_line
    assert MISSING_MODULE in text.stdout
    softclip_line = next(line for line in text.stdout.splitlines() if line.startswith("softclip"))
    assert "0.1.0" in softclip_line and "BROKEN" not in softclip_line


def test_cli_check_plugin_softclip_passes():
    done = tapeviz_command("check", "--plugin", "softclip")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for op_type in SOFTCLIP_OPS:
        assert any("pass" in line and op_type in line for line in lines), done.stdout
    assert not any("FAIL" in line for line in lines), done.stdout
    assert "2 passed, 0 failed" in done.stdout


def test_cli_check_unknown_plugin_fails_with_a_clear_message():
    done = tapeviz_command("check", "--plugin", "nosuch")
    assert done.returncode != 0
    assert "no plugin named 'nosuch'" in done.stderr and "softclip" in done.stderr  # names the installed ones
    assert "Traceback" not in done.stderr


def test_tapeviz_console_script_runs_the_same_command():
    script = Path(sys.executable).with_name("tapeviz")
    assert script.exists(), f"no console script at {script}; install tapeviz with pip install -e ."
    done = run([str(script), "plugins", "--json"])
    assert done.returncode == 0, done.stderr
    assert "softclip" in {p["name"] for p in json.loads(done.stdout)["plugins"]}
