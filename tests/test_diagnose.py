"""Why a gradient is NaN/Inf or exactly zero: the op that did it, its forward line, the values and the fix."""

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection import recorder as recording
from tapeviz.inspection.report import json_summary, text_summary

from recording_helpers import here, recorder_must_not_fail  # noqa: F401 - an autouse fixture


def diagnoses(run):
    return [explanation for _, _, explanation in run.diagnoses()]


def test_sqrt_at_zero_in_a_training_loop():
    w = tf.Variable(np.zeros(3, np.float32), name="w")
    data = tf.constant([[1.0, 2.0, 3.0]])
    with tf.record() as rec:
        for _ in range(3):
            with tf.GradientTape() as tape:
                norm = tf.sqrt(tf.reduce_sum(tf.square(w))); line = here()  # noqa: E702 - sqrt at 0
                loss = tf.reduce_mean(data @ tf.reshape(w, (3, 1))) + 0.01 * norm
            grad = tape.gradient(loss, w)
            assert np.isnan(grad.numpy()).all()
    run = rec.snapshot()
    found = diagnoses(run)
    assert [d.code for d in found] == ["NONFINITE_SQRT_AT_ZERO"] * 3
    first = found[0]
    assert first.kind == "nonfinite" and line in [i["location"].line for i in first.evidence]
    assert "sqrt at 0" in first.sentence and "input 0 is 0" in first.sentence
    # TF 2.21: the gradient of tf.where(x > 0, tf.sqrt(x), 0.0) at x = 0 is 0 (sqrt's gradient is 0 where no
    # gradient comes in), so one where is enough for sqrt; the fix must not say a single where gives NaN.
    assert "tf.where(x > 0, tf.sqrt(x), 0.0)" in first.fix and "still sends NaN" not in first.fix
    assert "SqrtGrad" in first.sentence  # the backward op that made the first NaN/Inf
    assert first.sentence in "\n".join(text_summary(run))
    item = json_summary(run)["diagnoses"][0]
    assert item["repeats"] == 2 and item["explanation"]["code"] == "NONFINITE_SQRT_AT_ZERO"
    assert all(e["location"]["line"] and e["op"] for e in item["explanation"]["evidence"])


def test_log_of_zero_probability():
    logits = tf.Variable([[0.0, 200.0, -200.0]], name="logits")
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            probs = tf.nn.softmax(logits)
            loss = -tf.reduce_mean(tf.math.log(probs)); line = here()  # noqa: E702 - log(0) in float32
        grad = tape.gradient(loss, logits)
    assert not np.isfinite(grad.numpy()).all()
    (found,) = diagnoses(rec.snapshot())
    assert found.code == "NONFINITE_LOG_OF_ZERO" and "log_softmax" in found.fix  # log(softmax): from logits
    assert line in [i["location"].line for i in found.evidence]


def test_division_by_zero():
    x = tf.Variable([1.0, 2.0, 3.0], name="x")
    counts = tf.constant([1.0, 0.0, 2.0])
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            mean_per_bucket = x / counts; line = here()  # noqa: E702
            loss = tf.reduce_sum(mean_per_bucket)
        grad = tape.gradient(loss, x)
    assert np.isinf(grad.numpy()[1])
    (found,) = diagnoses(rec.snapshot())
    assert found.code == "NONFINITE_DIVIDE_BY_ZERO" and "divide_no_nan" in found.fix
    assert line in [i["location"].line for i in found.evidence]
    assert "input 1 ranges over [0, 2]" in found.sentence


def test_exp_overflow_is_found_in_the_forward_pass():
    x = tf.Variable([1.0, 100.0], name="x")
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            e = tf.exp(x); line = here()  # noqa: E702 - exp(100) is inf in float32
            loss = tf.reduce_sum(e / tf.reduce_sum(e))
        grad = tape.gradient(loss, x)
    assert not np.isfinite(grad.numpy()).all()
    (found,) = diagnoses(rec.snapshot())
    assert found.code == "NONFINITE_EXP_OVERFLOW" and "forward pass" in found.sentence
    assert "input 0 ranges over [1, 100]" in found.sentence
    assert found.evidence[0]["location"].line == line


def test_tape_explain_names_the_op_with_and_without_recording():
    w = tf.Variable(np.zeros(2, np.float32), name="w")
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.sqrt(tf.reduce_sum(w * w)); line = here()  # noqa: E702
    assert np.isnan(tape.gradient(loss, w).numpy()).all()
    found = tape.explain(loss, w)  # from the tape alone: the op and the values, no lines
    assert found.code == "NONFINITE_SQRT_AT_ZERO" and "input 0 is 0" in found.sentence
    assert "tapeviz.record" in found.fix
    with tf.record():
        with tf.GradientTape() as tape:
            loss = tf.sqrt(tf.reduce_sum(w * w)); line = here()  # noqa: E702
        tape.gradient(loss, w)
        found = tape.explain(loss, w)
    assert found.code == "NONFINITE_SQRT_AT_ZERO" and line in [i["location"].line for i in found.evidence]
    v = tf.Variable([1.0, 4.0])
    with tf.GradientTape(persistent=True) as tape:
        fine = tf.reduce_sum(tf.sqrt(v))
    assert tape.explain(fine, v) is None


@pytest.mark.parametrize("case", ["relu", "tanh", "sigmoid", "clip", "zero weight"])
def test_exactly_zero_gradient_through_a_blocking_op_warns(case):
    w = tf.Variable(np.full((3, 2), 0.5, np.float32), name="w")
    data = tf.constant(np.ones((4, 3), np.float32))
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            pre = data @ w
            if case == "relu":
                out = tf.nn.relu(pre - 100.0); line = here()  # noqa: E702 - every unit inactive
            elif case == "tanh":
                out = tf.tanh(pre * 100.0); line = here()  # noqa: E702 - saturated at float32
            elif case == "sigmoid":
                out = tf.sigmoid(pre * 100.0); line = here()  # noqa: E702
            elif case == "zero weight":
                out = pre * tf.constant(0.0); line = here()  # noqa: E702 - a loss term switched off
            else:
                out = tf.clip_by_value(pre, -1.0, 1.0); line = here()  # noqa: E702 - every value above 1
            loss = tf.reduce_sum(out)
        grad = tape.gradient(loss, w)
    assert not np.any(grad.numpy())
    (found,) = diagnoses(rec.snapshot())
    expected = {"relu": "ZERO_RELU_INACTIVE", "tanh": "ZERO_SATURATED", "sigmoid": "ZERO_SATURATED",
                "clip": "ZERO_CLIPPED", "zero weight": "ZERO_MULTIPLIED_BY_ZERO"}[case]
    assert found.code == expected and found.kind == "zero"
    assert found.evidence[0]["location"].line == line
    assert "warning: [" + expected in "\n".join(text_summary(rec.snapshot(), only_nones=True))


def test_a_zero_factor_is_blamed_only_for_the_other_factors_gradient():
    """d(x * y)/dx is y and d(x * y)/dy is x: a zero x explains y's zero gradient, not its own."""
    x = tf.Variable([0.0, 0.0], name="x")
    y = tf.Variable([2.0, 3.0], name="y")
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(x * y)
        grad_x, grad_y = tape.gradient(loss, [x, y])
    assert grad_x.numpy().tolist() == [2.0, 3.0] and not np.any(grad_y.numpy())
    ((call, result, found),) = rec.snapshot().diagnoses()
    assert found.code == "ZERO_MULTIPLIED_BY_ZERO" and "Variable 'y:0'" in found.sentence
    assert "Variable 'x:0'" in found.sentence.split("because")[1]


def test_finite_gradients_are_never_diagnosed(monkeypatch):
    calls = []
    monkeypatch.setattr(recording, "diagnose", lambda *a: calls.append(a))
    w = tf.Variable([[0.5, -0.5], [0.1, 0.2]])
    with tf.record() as rec:
        for _ in range(5):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.relu(tf.constant([[1.0, 2.0]]) @ w) ** 2)
            w.assign_sub(0.1 * tape.gradient(loss, w))
    run = rec.snapshot()
    assert calls == [] and list(run.diagnoses()) == []


def test_diagnoses_survive_a_tape_file(tmp_path):
    from tapeviz.inspection.tapefile import load, save

    with tf.record() as rec:
        w = tf.Variable([0.0, 1.0], name="w")
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.sqrt(w))
        tape.gradient(y, w)
    run = rec.snapshot()
    loaded = load(save(run, tmp_path / "nan.tapeviz"))
    assert diagnoses(loaded) == diagnoses(run) and diagnoses(loaded)[0].code == "NONFINITE_SQRT_AT_ZERO"
    assert text_summary(loaded) == text_summary(run)
