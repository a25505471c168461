"""Realistic tape files: a training loop recorded with TAPEVIZ_RECORD and a 10,000-op chain, saved,
loaded back and compared with what the program itself computed."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection.report import json_summary, text_summary
from tapeviz.inspection.tapefile import load, save

TRAINING = """
import sys
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(0)
w1 = tf.Variable(rng.standard_normal((32, 64)).astype(np.float32) * 0.1, name="w1")
b1 = tf.Variable(np.zeros(64, np.float32), name="b1")
w2 = tf.Variable(rng.standard_normal((64, 10)).astype(np.float32) * 0.1, name="w2")
b2 = tf.Variable(np.zeros(10, np.float32), name="b2")
x = tf.constant(rng.standard_normal((16, 32)).astype(np.float32))
y = tf.constant(rng.standard_normal((16, 10)).astype(np.float32))
for step in range(50):
    with tf.GradientTape() as tape:
        h = tf.nn.relu(x @ w1 + b1)
        loss = tf.reduce_mean((h @ w2 + b2 - y) ** 2)
    grads = tape.gradient(loss, [w1, b1, w2, b2])
    for v, g in zip([w1, b1, w2, b2], grads):
        v.assign_sub(0.01 * g)
np.savez(sys.argv[1], *[g.numpy() for g in grads], loss=loss.numpy())
"""


def test_a_50_step_training_loop_recorded_with_the_environment_variable(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    out = tmp_path / "train.tapeviz"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "last.npz")], capture_output=True, text=True,
                          env={**os.environ, "TAPEVIZ_RECORD": str(out)}, timeout=300)
    assert done.returncode == 0, done.stderr
    run = load(out)
    last = np.load(tmp_path / "last.npz")
    assert len(run.tapes) == 50 and len(run.calls) == 50 and not list(run.nones())
    for result, expected in zip(run.calls[-1].results, [last[f"arr_{i}"] for i in range(4)]):
        # The gradients of 1-D sources are kept whole (the inspector plots them); of matrices, statistics.
        if expected.ndim == 1:
            np.testing.assert_array_equal(result.value, expected)
        assert result.summary["shape"] == list(expected.shape)
        assert (result.summary["min"], result.summary["max"]) == (float(expected.min()), float(expected.max()))
    loss_id = run.calls[-1].targets[0]
    np.testing.assert_array_equal(run.tensors[loss_id].value, last["loss"])
    assert {run.names[s] for s in run.calls[0].sources} == {"w1", "b1", "w2", "b2"}
    summary = json_summary(run)
    assert len(summary["calls"]) == 50 and all(len(t["watched"]) == 4 for t in summary["tapes"])
    assert text_summary(run)[0].startswith("tapeviz: 50 tapes")


def test_a_10000_op_chain_round_trips_op_by_op(tmp_path):
    with tf.record() as rec:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape() as tape:
            y = x
            for _ in range(2000):
                y = tf.sin(y) * 1.01
        gradient = tape.gradient(y, x)
    run = rec.snapshot()
    loaded = load(save(run, tmp_path / "chain.tapeviz"))
    # The tape's 4,001 forward ops; backward-pass ops are kept only when a gradient needs explaining.
    assert len(loaded.ops) == len(run.ops) >= 4001
    forward = [loaded.ops[i] for i in loaded.tapes[1].ops]
    # The first op is the read of x (a read of a variable is an op of its own, as in TensorFlow).
    assert [o.type for o in forward[:5]] == ["ReadVariableOp", "Sin", "Mul", "Sin", "Mul"] and len(forward) == 4001
    assert all(later.inputs[0] == earlier.outputs[0] for earlier, later in zip(forward, forward[1:]))
    np.testing.assert_array_equal(loaded.calls[0].results[0].value, gradient.numpy())
    for tensor_id in (forward[-1].outputs[0], forward[1234].outputs[0]):
        np.testing.assert_array_equal(loaded.tensors[tensor_id].value, run.tensors[tensor_id].value)
        assert loaded.tensors[tensor_id].summary == run.tensors[tensor_id].summary


def test_a_failed_save_at_exit_is_one_line_and_the_script_keeps_its_status(tmp_path):
    script = tmp_path / "small.py"
    script.write_text("import tapeviz as tf\nx = tf.Variable(1.0)\nwith tf.GradientTape() as t:\n"
                      "    y = x * 2\nprint(t.gradient(y, x).numpy())\n")
    target = tmp_path / "missing" / "run.tapeviz"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TAPEVIZ_RECORD": str(target)})
    assert done.returncode == 0 and done.stdout.strip() == "2.0"
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"could not save the run to {target}" in done.stderr and "No such file or directory" in done.stderr
    assert not list(tmp_path.rglob("*.partial"))


def test_a_failed_save_does_not_hide_the_blocks_own_error(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with tf.record(tmp_path / "missing" / "run.tapeviz"):
            1 / 0
    with pytest.raises(OSError):
        with tf.record(tmp_path / "missing" / "run.tapeviz"):
            pass
