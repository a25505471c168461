"""TensorFlow 2.21 behaviours, round 2: variable reads, zeros versus None, kinks, edges, errors, printing.

Every expected value here was observed in TensorFlow 2.21 (CPU) and is written down as a fact
(docs/tf-semantics-2.md lists them). APIs are spelled as TensorFlow spells them (``import tapeviz as tf``).
"""
import numpy as np
import pytest

import tapeviz as tf


def value(t):
    assert t is not None, "expected a tensor, got None"
    return t.numpy()


def second_derivative(f, x0):
    """(f'(x0), f''(x0)) through nested tapes; f'' is None when TF's second gradient is None."""
    x = tf.Variable(x0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = f(x)
        first = inner.gradient(y, x)
    return first, outer.gradient(first, x)


# ==============================================================================================
# A read of a variable is a new tensor, connected only if read while the tape recorded
# ==============================================================================================
READS = {
    "arithmetic": lambda v: v * 1.0,
    "convert_to_tensor": tf.convert_to_tensor,
    "identity": tf.identity,
    "value": lambda v: v.value(),
    "read_value": lambda v: v.read_value(),
}


def test_a_copy_hoisted_out_of_the_tape_is_not_the_variable():
    w = tf.Variable(1.5)
    w_t = tf.convert_to_tensor(w)
    with tf.GradientTape() as tape:
        loss = 3.0 * w + 2.0 * w_t * w_t
    assert value(tape.gradient(loss, w)) == 3.0  # TF: 3.0 (the penalty on w_t does not reach w)


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_a_read_inside_the_tape_is_connected(read):
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        r = read(w)
        y = r * r
    assert value(tape.gradient(y, w)) == 4.0


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
def test_a_read_before_the_tape_is_a_constant(read):
    w = tf.Variable(2.0)
    r = read(w)
    with tf.GradientTape() as tape:
        y = r * r + w
    assert value(tape.gradient(y, w)) == 1.0


def test_constant_of_a_variable_is_never_connected():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        r = tf.constant(w)
        y = r * r
    assert tape.gradient(y, w) is None
    with tf.GradientTape() as tape:
        y = tf.constant(w) * w
    assert value(tape.gradient(y, w)) == 2.0


def test_constant_of_a_watched_tensor_is_the_tensor_unless_reshaped():
    x = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        same = tf.constant(x) * x
        reshaped = tf.constant(x, shape=[1]) * x
    assert value(tape.gradient(same, x)) == 4.0
    assert value(tape.gradient(reshaped, x)) == [2.0]


def test_a_read_made_while_another_tape_recorded_is_a_constant_here():
    w = tf.Variable(2.0)
    with tf.GradientTape():
        r = tf.convert_to_tensor(w)
    with tf.GradientTape() as tape:
        y = r * w
    assert value(tape.gradient(y, w)) == 2.0


def test_a_read_under_stop_recording_is_a_constant():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        with tape.stop_recording():
            r = tf.convert_to_tensor(w)
        y = r * w
    assert value(tape.gradient(y, w)) == 2.0


def test_a_read_before_watch_is_a_constant_a_read_after_is_connected():
    w = tf.Variable(2.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        before = tf.identity(w)
        tape.watch(w)
        y = before * w
    assert value(tape.gradient(y, w)) == 2.0
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(w)
        after = tf.identity(w)
        y = after * w
    assert value(tape.gradient(y, w)) == 4.0


def test_gradient_with_respect_to_a_read_and_to_its_variable():
    w = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        r = tf.identity(w)
        y = r * r
    assert [value(g) for g in tape.gradient(y, [r, w])] == [4.0, 4.0]
    assert value(tape.gradient(w, w)) == 1.0


def test_a_read_keeps_the_value_it_had_and_both_reads_reach_the_variable():
    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        r = tf.identity(w)
        w.assign(5.0)
        y = r * w
    assert value(tape.gradient(y, w)) == 7.0  # TF: 7 (5 through r, 2 through the second read)


def test_a_hoisted_read_of_a_watched_non_trainable_variable_is_a_constant():
    w = tf.Variable(2.0, trainable=False)
    r = tf.convert_to_tensor(w)
    with tf.GradientTape() as tape:
        tape.watch(w)
        y = r * w
    assert value(tape.gradient(y, w)) == 2.0


def test_jacobian_with_a_hoisted_read():
    w = tf.Variable([1.0, 2.0])
    w_t = tf.convert_to_tensor(w)
    with tf.GradientTape() as tape:
        y = w * w_t
    np.testing.assert_array_equal(value(tape.jacobian(y, w)), [[1.0, 0.0], [0.0, 2.0]])
