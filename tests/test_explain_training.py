"""The right reason for every None, on training loops of the kind people post when their gradients are None.

Each test trains a small MLP (or a linear model) for several steps with the mistake in question and
checks the reason code, the line the evidence names, what the fix does not say, and that the same
explanation at every step is folded into the first one.
"""
import json

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection.report import folded, json_summary, text_summary

from recording_helpers import here, recorder_must_not_fail  # noqa: F401 - an autouse fixture

STEPS = 4


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    data = tf.constant(rng.standard_normal((16, 32)).astype(np.float32))
    labels = tf.constant(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)])
    params = [tf.Variable(rng.standard_normal((32, 64)).astype(np.float32) * 0.1, name="w1"),
              tf.Variable(np.zeros(64, np.float32), name="b1"),
              tf.Variable(rng.standard_normal((64, 10)).astype(np.float32) * 0.1, name="w2"),
              tf.Variable(np.zeros(10, np.float32), name="b2")]
    return data, labels, params


def sgd(params, grads, learning_rate=0.05):
    for param, grad in zip(params, grads):
        if grad is not None:
            param.assign_sub(learning_rate * grad)


def explanations_for(run, name):
    """(call, explanation) of every None whose source is the variable ``name``, in call order."""
    found = []
    for call, result, _, explanation in run.nones():
        info = run.tensors[result.source]
        if info.name == f"{name}:0" or run.names.get(result.source) == name:
            found.append((call, explanation))
    return found


def lines_of(explanation):
    return [item["location"].line for item in explanation.evidence if item.get("location") is not None]


def assert_folded(run, name, steps=STEPS):
    """The None of ``name`` at every step is one explanation, listed once with its repeats."""
    groups = [g for g in folded(run) if g[2] is not None and run.tensors[g[1].source].name == f"{name}:0"]
    assert len(groups) == 1, [g[3].code for g in groups]
    assert len(groups[0][4]) == steps - 1
    text = "\n".join(text_summary(run, only_nones=True))
    assert f"same as step 1 (call {groups[0][0].id}), x{steps - 1}" in text
    # Given once: in full, or (a second source with the same story in the same call) as "the same as for".
    assert text.count(groups[0][3].sentence) == 1 or (
        groups[0][3].sentence not in text and f"[{groups[0][3].code}] the same as for" in text)
    (item,) = [n for n in json_summary(run, only_nones=True)["nones"] if n["source_id"] == groups[0][1].source]
    assert item["repeats"] == steps - 1 and item["step"] == 1
    assert item["source_id"] == groups[0][1].source and item["target_id"] in groups[0][0].targets
    assert all(e["location"]["line"] > 0 and e["location"]["file"] for e in item["explanation"]["evidence"])
    json.dumps(json_summary(run), default=str)  # the whole summary is JSON


def test_forward_pass_before_the_tape_names_the_line_where_it_ran():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    with tf.record() as rec:
        for _ in range(STEPS):
            hidden = tf.nn.relu(data @ w1 + b1); line = here()  # noqa: E702 - the model runs before the tape
            logits = hidden @ w2 + b2
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(logits - labels))
            grads = tape.gradient(loss, params)
            assert all(g is None for g in grads)
            sgd(params, grads)
    run = rec.snapshot()
    found = explanations_for(run, "w1")
    assert [e.code for _, e in found] == ["FORWARD_BEFORE_TAPE"] * STEPS
    explanation = found[0][1]
    assert line in lines_of(explanation) and "never read" not in explanation.sentence
    assert "before the tape" in explanation.sentence
    assert_folded(run, "w1")


def test_whole_model_and_loss_before_the_tape():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    with tf.record() as rec:
        for _ in range(STEPS):
            logits = tf.nn.relu(data @ w1 + b1) @ w2 + b2; line = here()  # noqa: E702
            loss = tf.reduce_mean(tf.square(logits - labels))
            with tf.GradientTape() as tape:
                tape.watch(labels)  # the tape records nothing the loss came from
            sgd(params, tape.gradient(loss, params))
    run = rec.snapshot()
    found = explanations_for(run, "w2")
    assert {e.code for _, e in found} == {"FORWARD_BEFORE_TAPE"}
    assert line in lines_of(found[0][1])


def test_variable_read_only_inside_stop_recording():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    with tf.record() as rec:
        for _ in range(STEPS):
            with tf.GradientTape() as tape:
                with tape.stop_recording():
                    hidden = tf.nn.relu(data @ w1 + b1); line = here()  # noqa: E702
                loss = tf.reduce_mean(tf.square(hidden @ w2 + b2 - labels))
            grads = tape.gradient(loss, params)
            assert grads[0] is None and grads[2] is not None
            sgd(params, grads)
    run = rec.snapshot()
    found = explanations_for(run, "w1")
    assert {e.code for _, e in found} == {"PATH_IN_STOP_RECORDING"}
    explanation = found[0][1]
    assert "read only inside tape.stop_recording()" in explanation.sentence
    assert line in lines_of(explanation) and "never read" not in explanation.sentence
    assert_folded(run, "w1")


def test_variable_read_only_before_reset():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    with tf.record() as rec:
        for _ in range(STEPS):
            with tf.GradientTape() as tape:
                hidden = tf.nn.relu(data @ w1 + b1); line = here()  # noqa: E702
                tape.reset(); reset_line = here()  # noqa: E702
                loss = tf.reduce_mean(tf.square(hidden @ w2 + b2 - labels))
            grads = tape.gradient(loss, params)
            assert grads[0] is None and grads[2] is not None
            sgd(params, grads)
    run = rec.snapshot()
    found = explanations_for(run, "w1")
    assert {e.code for _, e in found} == {"PATH_BEFORE_RESET"}
    assert {line, reset_line} <= set(lines_of(found[0][1]))
    assert_folded(run, "w1")


def test_unused_layer_is_unused_and_no_unrelated_line_is_blamed():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    w3 = tf.Variable(np.ones((10, 10), np.float32), name="w3")  # a layer left out of the forward pass
    temperature = tf.Variable(2.0, name="temperature")
    history = []
    with tf.record() as rec:
        for _ in range(STEPS):
            with tf.GradientTape() as tape:
                logits = tf.nn.relu(data @ w1 + b1) @ w2 + b2
                loss = tf.reduce_mean(tf.square(logits / 2.0 - labels)); loss_line = here()  # noqa: E702
                if loss > 100.0:
                    print("diverging")
                history.append(float(temperature))  # logging
            grads = tape.gradient(loss, [w1, b1, w2, b2, w3, temperature])
            assert grads[4] is None and grads[5] is None
            sgd([w1, b1, w2, b2], grads[:4])
    run = rec.snapshot()
    for name in ("w3", "temperature"):
        found = explanations_for(run, name)
        assert {e.code for _, e in found} == {"SOURCE_UNUSED"}, name
        explanation = found[0][1]
        assert "does not use" in explanation.sentence
        assert loss_line in lines_of(explanation)
        assert not any(item.get("what", "").startswith("Python branch") for item in explanation.evidence)
        assert "UnconnectedGradients.ZERO" in explanation.fix
        assert_folded(run, name)


def test_a_fix_never_suggests_what_the_user_already_did():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    w3 = tf.Variable(np.ones((10, 10), np.float32), name="w3")
    with tf.record() as rec:
        for _ in range(STEPS):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(tf.nn.relu(data @ w1 + b1) @ w2 + b2 - labels))
            grads = tape.gradient(loss, [w1, b1, w2, b2, w3], unconnected_gradients=tf.UnconnectedGradients.ZERO)
            assert float(tf.reduce_sum(tf.abs(grads[4]))) == 0.0
            sgd([w1, b1, w2, b2], grads[:4])
    run = rec.snapshot()
    found = explanations_for(run, "w3")
    assert {e.code for _, e in found} == {"SOURCE_UNUSED"}
    assert "ZERO" not in found[0][1].fix and "unconnected_gradients" not in found[0][1].fix
    assert_folded(run, "w3")


def test_loss_made_in_numpy_names_the_numpy_line_even_when_no_op_follows():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    labels_np = labels.numpy()
    with tf.record() as rec:
        for _ in range(STEPS):
            with tf.GradientTape() as tape:
                logits = tf.nn.relu(data @ w1 + b1) @ w2 + b2
                predicted = logits.numpy(); line = here()  # noqa: E702
                loss = tf.constant(np.mean((predicted - labels_np) ** 2))
            grads = tape.gradient(loss, params)
            assert all(g is None for g in grads)
    run = rec.snapshot()
    found = explanations_for(run, "w1")
    assert {e.code for _, e in found} == {"NO_PATH_LEFT_TAPE"}
    explanation = found[0][1]
    assert line in lines_of(explanation) and "constant made from" in explanation.sentence
    assert_folded(run, "w1")


def test_model_output_converted_and_back_in_one_line():
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    with tf.record() as rec:
        for _ in range(STEPS):
            with tf.GradientTape() as tape:
                logits = tf.constant((tf.nn.relu(data @ w1 + b1) @ w2 + b2).numpy()); line = here()  # noqa: E702
                loss = tf.reduce_mean(tf.square(logits - labels))
            assert all(g is None for g in tape.gradient(loss, params))
    run = rec.snapshot()
    found = explanations_for(run, "b2")
    assert {e.code for _, e in found} == {"NO_PATH_LEFT_TAPE"}
    assert line in lines_of(found[0][1])


def test_rebinding_the_variable_names_the_line_and_the_step():
    rng = np.random.default_rng(1)
    data = tf.constant(rng.standard_normal((16, 3)).astype(np.float32))
    target = tf.constant(rng.standard_normal((16, 1)).astype(np.float32))
    w = tf.Variable(np.zeros((3, 1), np.float32), name="w")
    nones = []
    with tf.record() as rec:
        for step in range(1, STEPS + 2):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(data @ w - target))
            g = tape.gradient(loss, w)
            if g is None:
                nones.append(step)
                continue
            w = w - 0.1 * g; line = here()  # noqa: E702 - the mistake: w is a tensor from now on
    assert nones == list(range(2, STEPS + 2))
    run = rec.snapshot()
    found = [(call, e) for call, _, _, e in run.nones()]
    assert {e.code for _, e in found} == {"SOURCE_BECAME_TENSOR"}
    explanation = found[0][1]
    assert line in lines_of(explanation)
    assert f"line {line} in step 1" in explanation.sentence and "assign_sub" in explanation.fix
    groups = folded(run)
    assert len(groups) == 1 and len(groups[0][4]) == STEPS - 1


def test_reasons_do_not_depend_on_reads_sharing_the_variable_id():
    """Where a read of a variable is a tensor of its own, the core says so (``variable_read``) and the
    reasons follow the read back to its variable."""
    data, labels, params = make_model()
    w1, b1, w2, b2 = params
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            with tape.stop_recording():
                read = tf.constant(np.array(w1._value_for_read()))  # a read with an id of its own
                rec.variable_read(w1, read)
                hidden = tf.nn.relu(data @ read + b1); line = here()  # noqa: E702
            loss = tf.reduce_mean(tf.square(hidden @ w2 + b2 - labels))
        assert tape.gradient(loss, w1) is None
    (_, _, _, explanation), = rec.snapshot().nones()
    assert explanation.code == "PATH_IN_STOP_RECORDING" and line in lines_of(explanation)


@pytest.mark.parametrize("example", ["why_none_paths", "why_none_targets", "why_none_watching", "s2_five_cases",
                                     "s4_control_flow"])
def test_every_evidence_item_names_ids_and_a_line(example, capsys):
    import runpy

    import tapeviz.examples as bundled

    path = f"{bundled.__path__[0]}/{example}.py"
    with tf.record() as rec:
        runpy.run_path(path, run_name="__main__")
    summary = json_summary(rec.snapshot(), only_nones=True)
    assert summary["nones"]
    for item in summary["nones"]:
        assert item["source_id"] and item["target_id"] and item["location"]["line"]
        for evidence in item["explanation"]["evidence"]:
            assert evidence["location"] and evidence["location"]["file"] and evidence["location"]["line"], evidence
            assert evidence["op"] is not None or evidence["tensor"] is not None, evidence
