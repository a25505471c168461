"""Every None gradient gets one explanation: each reason on a small script, seed tutorial cases included."""
import numpy as np
import pytest

import tapeviz as tf


def codes(recorder):
    return [explanation.code for _, _, _, explanation in recorder.snapshot().nones()]


def only_code(recorder):
    found = codes(recorder)
    assert len(found) == 1, found
    return found[0]


def test_constant_not_watched():
    with tf.record() as rec:
        x = tf.constant(3.0)
        with tf.GradientTape() as tape:
            y = x * x
        assert tape.gradient(y, x) is None
    assert only_code(rec) == "SOURCE_NOT_WATCHED"
    (_, _, _, explanation), = rec.snapshot().nones()
    assert "`x` (a float32 constant" in explanation.sentence  # the user's own name for it


def test_names_come_from_the_gradient_line_with_lists_and_dicts():
    from tapeviz.inspection.names import call_names
    source = "g = tape.gradient({'a': loss_a, 'b': y[0]},\n    [w, b])\n"
    assert call_names(source, 1, "gradient", [5, 6], [1, 2]) == {1: "w", 2: "b", 5: "loss_a", 6: "y[0]"}
    assert call_names(source, 2, "gradient", [5], [1, 2]) == {1: "w", 2: "b"}  # a count mismatch names nothing
    assert call_names("not python (", 1, "gradient", [1], [2]) == {}


def test_non_trainable_variable():
    with tf.record() as rec:
        x = tf.Variable(3.0, trainable=False)
        with tf.GradientTape() as tape:
            y = x * x
        assert tape.gradient(y, x) is None
    assert only_code(rec) == "SOURCE_NOT_TRAINABLE"


def test_watch_accessed_variables_off():
    with tf.record() as rec:
        x = tf.Variable(3.0)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            y = x * x
        assert tape.gradient(y, x) is None
    explanation = rec.snapshot().calls[0].results[0].explanations
    (found,) = explanation.values()
    assert found.code == "SOURCE_NOT_WATCHED" and "watch_accessed_variables=False" in found.sentence


def test_variable_turned_into_a_tensor_points_to_the_line():
    with tf.record() as rec:
        x = tf.Variable(3.0, name="x")
        x = x + 1.0; line = __import__("inspect").currentframe().f_lineno  # noqa: E702
        with tf.GradientTape() as tape:
            y = x * x
        assert tape.gradient(y, x) is None
    (_, _, _, explanation), = rec.snapshot().nones()
    assert explanation.code == "SOURCE_BECAME_TENSOR"
    assert "assign_add" in explanation.fix and "x:0" in explanation.sentence
    assert explanation.evidence[0]["location"].line == line


def test_integer_source():
    with tf.record() as rec:
        x = tf.Variable(3, name="n")
        with tf.GradientTape() as tape:
            y = x * x
        assert tape.gradient(y, x) is None
    assert only_code(rec) == "SOURCE_NOT_FLOATING"


def test_path_through_an_integer_cast_names_the_op():
    with tf.record() as rec:
        x = tf.Variable(3.7)
        with tf.GradientTape() as tape:
            y = tf.cast(tf.cast(x, tf.int32), tf.float32) * 2.0
        assert tape.gradient(y, x) is None
    (_, _, _, explanation), = rec.snapshot().nones()
    assert explanation.code == "PATH_NOT_FLOATING" and "Cast" in explanation.sentence


def test_target_computed_outside_the_context():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = x * x
        z = y * 2.0
        assert tape.gradient(z, x) is None
    assert only_code(rec) == "TARGET_OUTSIDE_CONTEXT"


def test_target_recorded_on_another_tape():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape1:
            y = x * x
        with tf.GradientTape() as tape2:
            z = x * 3.0
        assert tape1.gradient(z, x) is None
    assert only_code(rec) == "TARGET_OTHER_TAPE"


def test_target_inside_stop_recording():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            with tape.stop_recording():
                y = x * x
        assert tape.gradient(y, x) is None
    assert only_code(rec) == "TARGET_IN_STOP_RECORDING"


def test_target_before_reset():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = x * x
            tape.reset()
            x * 1.0
        assert tape.gradient(y, x) is None
    assert only_code(rec) == "TARGET_BEFORE_RESET"


def test_control_flow_branch_without_the_source():
    with tf.record() as rec:
        x1, x2, flag = tf.Variable(3.0), tf.Variable(3.0), tf.constant(2.0)
        with tf.GradientTape() as tape:
            if flag % 2 == 0:
                res = 4 * (x1 ** 2) + 3
            else:
                res = x2 ** 3
        assert tape.gradient(res, [x1, x2])[1] is None
    (_, _, _, explanation), = rec.snapshot().nones()
    assert explanation.code == "NO_PATH" and "control flow" in explanation.sentence


def test_value_left_through_numpy_points_to_the_conversion():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = x * x
            z = tf.constant(y.numpy() * 3.0); line = __import__("inspect").currentframe().f_lineno  # noqa: E702
            w = z * 1.0
        assert tape.gradient(w, x) is None
    (_, _, _, explanation), = rec.snapshot().nones()
    assert explanation.code == "NO_PATH_LEFT_TAPE"
    assert any(item["location"] is not None and item["location"].line == line for item in explanation.evidence)


@pytest.mark.parametrize("block", ["round", "argmax", "stop_gradient"])
def test_not_differentiable_op_on_every_path(block):
    with tf.record() as rec:
        x = tf.Variable([1.2, 3.4])
        with tf.GradientTape() as tape:
            if block == "round":
                y = tf.round(x) * 2.0
            elif block == "argmax":
                y = tf.cast(tf.argmax(x * 2.0), tf.float32)
            else:
                y = tf.stop_gradient(x * 2.0) * 3.0
        grad = tape.gradient(y, x)
    assert grad is None
    (_, _, _, explanation), = rec.snapshot().nones()
    assert explanation.code == "NOT_DIFFERENTIABLE"
    expected_op = {"round": "Round", "argmax": "ArgMax", "stop_gradient": "StopGradient"}[block]
    assert expected_op in explanation.sentence


def test_stateful_update_on_the_path():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        v = tf.Variable(0.0, trainable=False)
        with tf.GradientTape() as tape:
            v.assign_add(x * 2.0)
            y = v * 3.0
        assert tape.gradient(y, x) is None
    assert only_code(rec) == "STATEFUL_UPDATE"


def test_zero_gradients_are_explained_too():
    with tf.record() as rec:
        x = tf.constant(3.0)
        with tf.GradientTape() as tape:
            y = x * x
        grad = tape.gradient(y, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert float(grad) == 0.0
    assert only_code(rec) == "SOURCE_NOT_WATCHED"


def test_connected_gradients_have_no_explanation():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = x * x
        tape.gradient(y, x)
    assert codes(rec) == []


def test_tape_explain_headless_without_recording():
    x = tf.Variable(2.0, trainable=False)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x
    explanation = tape.explain(y, x)
    assert explanation.code == "SOURCE_NOT_TRAINABLE" and "tapeviz.record" in explanation.fix
    w = tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        y = w * 2.0
    assert tape.explain(y, w) is None


def _seed_tutorial_case(make_x, watch):
    w = tf.Variable(np.array([[-13.394766, 16.05925, 5.238968], [-2.6181564, -8.322439, 5.700083],
                              [19.031418, -2.5960197, 6.4040756], [4.195833, 5.4652596, 4.5779514]], np.float32),
                    name="w")
    b = tf.Variable(tf.ones(3, dtype=tf.float32), name="b")
    with tf.record() as rec:
        x = make_x()
        with tf.GradientTape(persistent=True) as tape:
            if watch:
                tape.watch(x)
            y = x @ w + b
            loss = tf.reduce_mean(y ** 2)
        tape.gradient(y, x)
        tape.gradient(loss, y)
        tape.gradient(loss, x)
    return codes(rec)


@pytest.mark.parametrize("make_x, expected", [
    (lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, name="x"), []),
    (lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, trainable=False), ["SOURCE_NOT_TRAINABLE"] * 2),
    (lambda: tf.constant([[1, 2, 3, 4]], dtype=tf.float32), ["SOURCE_NOT_WATCHED"] * 2),
    (lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, name="x") + 1.0, ["SOURCE_BECAME_TENSOR"] * 2),
])
def test_seed_tutorial_cases_without_watch(make_x, expected):
    assert _seed_tutorial_case(make_x, watch=False) == expected


def test_seed_tutorial_cases_with_watch_have_no_nones():
    for make_x in (lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, trainable=False),
                   lambda: tf.constant([[1, 2, 3, 4]], dtype=tf.float32)):
        assert _seed_tutorial_case(make_x, watch=True) == []


def test_seed_tutorial_integer_case():
    w = tf.Variable([[-13, 10, -19], [-2, 19, -8], [5, 10, -6], [-1, 6, -3]], name="w")
    b = tf.Variable(tf.ones(3, dtype=tf.int32), name="b")
    with tf.record() as rec:
        x = tf.Variable([[1, 2, 3, 4]], dtype=tf.int32, name="x")
        with tf.GradientTape(persistent=True) as tape:
            y = x @ w + b
            loss = tf.reduce_mean(y ** 2)
        tape.gradient(y, x), tape.gradient(loss, y), tape.gradient(loss, x)
    assert codes(rec) == ["SOURCE_NOT_FLOATING"] * 3


def test_seed_tutorial_control_flow_and_wrong_tape():
    with tf.record() as rec:
        x1, x2 = tf.Variable(3.0), tf.Variable(3.0)
        flag = tf.constant(2.0)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x1)
            tape.watch(x2)
            tape.watch(flag)
            if flag % 2 == 0:
                res1 = 4 * (x1 ** 2) + 3
            else:
                res1 = x2 ** 3
        tape.gradient(res1, [x1, x2])
        with tf.GradientTape(persistent=True) as tape2:
            tape2.watch(x1)
            tape2.watch(x2)
            if tf.math.equal(res1, 4 * (x1 ** 2) + 3).numpy().all():
                res2 = x2 ** 3
            else:
                res2 = 4 * (x1 ** 2) + 3
        tape2.gradient(res2, [x1, x2])
        tape.gradient(res2, [x1, x2])
    # res2 on `tape`: tape2 recorded it and joins x2 to it (ask tape2); x1 is joined to it by no tape, so
    # asking tape2 would give None as well: the target was computed outside `tape`'s block.
    assert codes(rec) == ["NO_PATH", "NO_PATH_LEFT_TAPE", "TARGET_OUTSIDE_CONTEXT", "TARGET_OTHER_TAPE"]
