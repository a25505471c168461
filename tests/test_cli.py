"""The tapeviz command: output, JSON, exit codes and errors without tracebacks."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    import tapeviz as tf
    x = tf.Variable(2.0, name="x")
    c = tf.constant(3.0)
    with tf.GradientTape() as tape:
        y = x * c
    print("grads:", tape.gradient(y, [x, c]))
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
""")


def tapeviz(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tapeviz", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text(SCRIPT)
    return path


def test_run_passes_output_through_and_summarizes(script, tmp_path):
    out = tmp_path / "run.tapeviz"
    done = tapeviz("run", str(script), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "grads: [<tapeviz.Tensor: shape=(), dtype=float32, numpy=3.0>, None]" in done.stdout
    assert "1 tapes" in done.stdout and "watches Variable 'x:0' (accessed variable)" in done.stdout
    assert "[SOURCE_NOT_WATCHED]" in done.stdout and "fix: Call tape.watch(c)" in done.stdout  # the call's names
    assert out.exists() and "saved" in done.stderr


def test_run_passes_the_exit_status_and_script_arguments(script):
    done = tapeviz("run", str(script), "-q", "--", "3")
    assert done.returncode == 3 and "tapeviz:" not in done.stdout


def test_run_of_a_crashing_script_keeps_its_tapes(tmp_path):
    crash = tmp_path / "crash.py"
    crash.write_text("import tapeviz as tf\nx = tf.Variable(1.0)\nwith tf.GradientTape() as t:\n    y = x * 2.0\n"
                     "t.gradient(y, x)\nraise RuntimeError('boom')\n")
    out = tmp_path / "crash.tapeviz"
    done = tapeviz("run", str(crash), "-o", str(out))
    assert done.returncode == 1
    assert "RuntimeError: boom" in done.stderr and "Traceback" in done.stderr
    shown = json.loads(tapeviz("show", str(out), "--json").stdout)
    assert len(shown["calls"]) == 1 and "RuntimeError" in shown["meta"]["error"]


def test_show_and_explain_json(script, tmp_path):
    out = tmp_path / "run.tapeviz"
    tapeviz("run", str(script), "-q", "-o", str(out))
    shown = json.loads(tapeviz("show", str(out), "--json").stdout)
    # Each read of a variable inside the tape is an op of its own, as in TF.
    assert shown["tapes"][0]["op_types"] == ["Mul", "ReadVariableOp"] and shown["variables"][0]["name"] == "x:0"
    assert [r["is_none"] for r in shown["calls"][0]["results"]] == [False, True]
    explained = json.loads(tapeviz("explain", str(out), "--json").stdout)
    (none,) = explained["nones"]
    assert none["explanation"]["code"] == "SOURCE_NOT_WATCHED" and none["location"]["line"] == 8


def test_explain_runs_a_script_directly(script):
    done = tapeviz("explain", str(script))
    assert done.returncode == 0 and "SOURCE_NOT_WATCHED" in done.stdout and "tapes," not in done.stdout


@pytest.mark.parametrize("args, message", [
    (("show", "missing.tapeviz"), "Cannot open tape file"),
    (("run", "missing.py"), "no such script"),
    (("explain", "missing.tapeviz"), "Cannot open tape file"),
    (("check", "--plugin", "nosuch"), "no plugin named 'nosuch'"),
    (("check", "--op", "NoSuchOp"), "no gradient rule registered for NoSuchOp"),
])
def test_user_mistakes_exit_2_without_traceback(args, message, tmp_path):
    done = tapeviz(*args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_damaged_tape_file_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.tapeviz"
    bad.write_bytes(b"not a zip")
    done = tapeviz("show", str(bad))
    assert done.returncode == 2 and "not a readable tape file" in done.stderr and "Traceback" not in done.stderr


def test_help_everywhere():
    for command in ([], ["run"], ["show"], ["explain"], ["plugins"], ["check"], ["gui"]):
        done = tapeviz(*command, "--help")
        assert done.returncode == 0 and "usage: tapeviz" in done.stdout


def test_plugins_lists_builtin_rules():
    done = tapeviz("plugins")
    assert done.returncode == 0 and "tapeviz.math_grad" in done.stdout and "Sin" in done.stdout
    table = json.loads(tapeviz("plugins", "--json").stdout)["plugins"]
    math = next(p for p in table if p["name"] == "tapeviz.math_grad")
    assert math["source"] == "built-in" and not math["broken"] and "Mul" in math["gradients"]


def test_check_one_op_passes_with_progress():
    done = tapeviz("check", "--op", "Sin", "--op", "Mul")
    assert done.returncode == 0
    assert "[1/2] pass Mul" in done.stdout and "[2/2] pass Sin" in done.stdout
    assert done.stdout.strip().endswith("2 passed, 0 failed")


def test_check_fails_with_a_wrong_rule(tmp_path):
    plugin_dir = tmp_path / "wrongplugin"
    dist = tmp_path / "wrongplugin-0.1.dist-info"
    plugin_dir.mkdir()
    dist.mkdir()
    (plugin_dir / "__init__.py").write_text(textwrap.dedent("""
        import numpy as np
        import tapeviz as tv
        from tapeviz.core.hookspecs import hookimpl

        @hookimpl
        def register_gradients(register):
            register.op("Twice", lambda x: 2 * x, lambda op, g: g * 3.0,
                        checks=[tv.CheckCase(lambda x: tv.raw_ops.Twice(x), (np.array([1.0, 2.0]),))])
    """))
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wrongplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tapeviz]\nwrong = wrongplugin\n")
    done = subprocess.run([sys.executable, "-m", "tapeviz", "check", "--plugin", "wrong"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 1 and "FAIL Twice" in done.stdout and "0 passed, 1 failed" in done.stdout


def test_export_draws_a_recorded_tape_as_dot_and_svg_and_refuses_other_names(script, tmp_path):
    run_file = tmp_path / "run.tapeviz"
    assert tapeviz("run", str(script), "-o", str(run_file), "-q").returncode == 0
    dot, svg = tmp_path / "graph.dot", tmp_path / "graph.svg"
    for out in (dot, svg):
        done = tapeviz("export", str(run_file), "-o", str(out))
        assert done.returncode == 0, done.stderr
    assert dot.read_text().lstrip().startswith("digraph") and "Mul" in dot.read_text()
    assert "<svg" in svg.read_text() and "Mul" in svg.read_text()
    done = tapeviz("export", str(run_file), "-o", str(tmp_path / "graph.txt"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and ".svg, .png or .dot" in done.stderr
    done = tapeviz("export", str(run_file), "--tape", "99", "-o", str(svg))
    assert done.returncode == 2 and "has no tape 99" in done.stderr


TRAINING_LOOP = textwrap.dedent("""
    import tapeviz as tf
    weights = [tf.Variable(tf.ones((2,)) * (i + 1), name=f"w{i}") for i in range(30)]
    frozen = tf.Variable(1.0, name="frozen", trainable=False)
    for step in range(8):
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_sum(w * w) for w in weights])
            if step == 5:
                loss = loss * frozen
        grads = tape.gradient(loss, weights + [frozen])
        for w, g in zip(weights, grads[:-1]):
            w.assign_sub(0.01 * g)
""")


def test_show_folds_a_training_loop_and_all_lists_everything(tmp_path):
    """A loop's repeated clean calls fold into one line and a call lists 12 ordinary results; problems stay."""
    loop = tmp_path / "loop.py"
    loop.write_text(TRAINING_LOOP)
    out = tmp_path / "loop.tapeviz"
    assert tapeviz("run", str(loop), "-q", "-o", str(out)).returncode == 0
    folded = tapeviz("show", str(out)).stdout.splitlines()
    everything = tapeviz("show", "--all", str(out)).stdout.splitlines()
    calls = [line for line in folded if line.startswith("gradient call")]
    # Every call has a None (the untrainable `frozen`), so none is folded away; each lists 12 values.
    assert len(calls) == 8
    assert sum("... and 18 more sources with a value and nothing to report" in line for line in folded) == 8
    assert "    ... and 18 more watched (--all lists them)" in folded
    assert sum(line.startswith("gradient call") for line in everything) == 8
    assert sum(line.startswith("    / d Variable 'w") for line in everything) == 8 * 30
    assert not any("more sources" in line or "more watched" in line for line in everything)


def test_show_folds_clean_repeated_calls_into_their_first(tmp_path):
    loop = tmp_path / "loop.py"
    loop.write_text(TRAINING_LOOP.replace("weights + [frozen]", "weights").replace("grads[:-1]", "grads")
                    .replace("loss * frozen", "loss * tf.constant(0.0)"))
    out = tmp_path / "loop.tapeviz"
    assert tapeviz("run", str(loop), "-q", "-o", str(out)).returncode == 0
    folded = tapeviz("show", str(out)).stdout.splitlines()
    steps = [line.split("(step ")[1].split(")")[0] for line in folded if line.startswith("gradient call")]
    assert steps == ["1", "6"]  # step 6's exact zeros are reported, not folded
    assert "    the same call again at steps 2-5, 7-8: 6 more calls with nothing to report (--all lists them)" \
        in folded
    assert "warning: [ZERO_" in "\n".join(folded)
    # One loss weight of 0 explains all 30 zero gradients of step 6: told once, then named per variable.
    explained = tapeviz("explain", str(out)).stdout.splitlines()
    assert sum(line.startswith("      fix:") for line in explained) == 1
    assert sum("the same as for Variable 'w0:0' above" in line for line in explained) == 29
    everything = tapeviz("show", "--all", str(out)).stdout.splitlines()
    assert sum(line.startswith("      fix:") for line in everything) == 30


def test_version_names_the_recorder_path_in_use(monkeypatch, capsys):
    from tapeviz import cli
    from tapeviz.inspection import store
    for built, expected in ((object(), "compiled per-op path"), (None, "Python path")):
        monkeypatch.setattr(store, "_recordfast", built)
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["--version"])
        assert exit_info.value.code == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("tapeviz ") and "numpy" in lines[0]
        assert lines[1].startswith("recorder: ") and expected in lines[1]
