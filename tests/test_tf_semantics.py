"""TensorFlow 2.21 GradientTape semantics that tapeviz must match (/work/shared/spec/tf-semantics.md).

One focused test per fact. APIs are spelled as TensorFlow spells them (``import tapeviz as tf``), since
running TensorFlow code unchanged is the contract. Error texts are the spec's; where TensorFlow's
message says ``tf.``, tapeviz's says ``tapeviz.``, so only the part before that is matched.
"""
import contextlib
import logging
import re
import threading
import uuid
import warnings

import numpy as np
import pytest

import tapeviz as tf

NON_PERSISTENT_MESSAGE = ("A non-persistent GradientTape can only be used to compute one set of gradients "
                          "(or jacobians)")


def value(t):
    """A tensor's numpy value (asserting it is not None)."""
    assert t is not None, "expected a tensor, got None"
    return t.numpy()


@contextlib.contextmanager
def expect_warning(caplog, pattern, count=None):
    """A warning matching ``pattern``, as a Python warning or a logged one (TensorFlow logs it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING):
            yield
    texts = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    found = [t for t in texts if re.search(pattern, t)]
    assert found, f"no warning matching {pattern!r}; got {texts}"
    if count is not None:
        assert len(found) == count, f"expected {count} warning(s) matching {pattern!r}, got {found}"


# ==============================================================================================
# Conversions and dtypes
# ==============================================================================================
def test_float64_numpy_operand_takes_the_tensors_dtype():
    result = tf.constant([1.0, 2.0]) * np.array([1.0, 2.0])
    assert isinstance(result, tf.Tensor)
    assert result.dtype == tf.float32
    np.testing.assert_array_equal(result.numpy(), [1.0, 4.0])


def test_numpy_array_on_the_left_still_gives_a_float32_tensor():
    result = np.array([1.0, 2.0]) * tf.constant([1.0, 2.0])
    assert isinstance(result, tf.Tensor)
    assert result.dtype == tf.float32
    np.testing.assert_array_equal(result.numpy(), [1.0, 4.0])


def test_numpy_scalar_and_python_list_operands_take_float32():
    by_scalar = tf.constant([1.0, 2.0]) * np.float64(2.0)
    by_list = tf.constant([1.0, 2.0]) * [1, 2]
    assert by_scalar.dtype == tf.float32 and by_list.dtype == tf.float32
    np.testing.assert_array_equal(by_scalar.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(by_list.numpy(), [1.0, 4.0])


def test_int_tensor_times_python_float_is_a_type_error():
    with pytest.raises(TypeError, match=r"Cannot convert 2\.5 to EagerTensor of dtype int32"):
        tf.constant(1) * 2.5


def test_float32_plus_int32_tensor_is_an_error():
    with pytest.raises(Exception, match=r"cannot compute AddV2 as input #1\(zero-based\) was expected to be a "
                                        r"float tensor but is a int32 tensor"):
        tf.constant([1.0]) + tf.constant([1])


def test_float64_numpy_array_makes_float64_constant_and_variable():
    assert tf.constant(np.array([1.0])).dtype == tf.float64
    assert tf.Variable(np.array([1.0])).dtype == tf.float64


def test_python_defaults_are_float32_and_int32():
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.Variable(2.0).dtype == tf.float32


def test_int_true_division_gives_float64():
    result = tf.constant(3) / tf.constant(2)
    assert result.dtype == tf.float64
    assert result.numpy() == 1.5


def test_int_floor_division_stays_int32():
    result = tf.constant(7) // tf.constant(2)
    assert result.dtype == tf.int32
    assert result.numpy() == 3


def test_integer_mean_truncates():
    result = tf.reduce_mean(tf.constant([1, 2]))
    assert result.dtype == tf.int32
    assert result.numpy() == 1


def test_mod_is_floor_mod_with_the_divisors_sign():
    result = tf.constant(-7.0) % 3.0
    assert result.dtype == tf.float32
    assert result.numpy() == 2.0


def test_truth_value_of_a_vector_is_ambiguous():
    with pytest.raises(ValueError, match="truth value of an array with more than one element is ambiguous"):
        bool(tf.constant([1.0, -1.0]) > 0)


def test_truth_value_of_a_scalar_works():
    assert bool(tf.constant(2.0) % 2 == 0) is True
    assert bool(tf.constant(3.0) % 2 == 0) is False


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        tf.ones((2, 3)) @ tf.ones((4, 5))
    message = str(info.value)
    assert "MatMul" in message
    assert re.search(r"2,\s*3", message) and re.search(r"4,\s*5", message), message


def test_add_shape_mismatch_names_op_and_shapes():
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        tf.ones((2, 3)) + tf.ones((4, 5))
    message = str(info.value)
    assert "AddV2" in message
    assert re.search(r"2,\s*3", message) and re.search(r"4,\s*5", message), message


# ==============================================================================================
# GradientTape: watching
# ==============================================================================================
def test_trainable_variables_are_watched_automatically_others_not():
    v = tf.Variable(3.0)
    frozen = tf.Variable(4.0, trainable=False)
    c = tf.constant(5.0)
    with tf.GradientTape() as tape:
        y = v * frozen * c
    dv, dfrozen, dc = tape.gradient(y, [v, frozen, c])
    assert value(dv) == 20.0
    assert dfrozen is None and dc is None


def test_watch_makes_constants_and_non_trainable_variables_differentiable():
    v = tf.Variable(3.0)
    frozen = tf.Variable(4.0, trainable=False)
    c = tf.constant(5.0)
    with tf.GradientTape() as tape:
        tape.watch(frozen)
        tape.watch(c)
        y = v * frozen * c
    dv, dfrozen, dc = tape.gradient(y, [v, frozen, c])
    assert (value(dv), value(dfrozen), value(dc)) == (20.0, 15.0, 12.0)


def test_watch_accessed_variables_false_watches_only_what_is_watched():
    a = tf.Variable(2.0)
    b = tf.Variable(3.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(a)
        y = a * b
    da, db = tape.gradient(y, [a, b])
    assert value(da) == 3.0
    assert db is None
    assert [v.name for v in tape.watched_variables()] == [a.name]


def test_watch_accepts_nested_structures():
    c1, c2, c3 = tf.constant(1.0), tf.constant(2.0), tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch({"a": c1, "b": [c2, (c3,)]})
        y = c1 * c2 * c3
    grads = tape.gradient(y, [c1, c2, c3])
    assert [value(g) for g in grads] == [6.0, 3.0, 2.0]


def test_watch_of_a_non_tensor_raises_value_error():
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError):
            tape.watch(1.0)
        with pytest.raises(ValueError):
            tape.watch([tf.constant(1.0), "not a tensor"])


def test_watch_of_an_integer_tensor_warns_and_its_gradient_is_none(caplog):
    x = tf.constant([1, 2])
    with expect_warning(caplog, r"The dtype of the watched tensor must be floating"):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x
    assert tape.gradient(y, x) is None


def test_int_watch_warning_names_the_dtype(caplog):
    with expect_warning(caplog, r"The dtype of the watched tensor must be floating \(e\.g\. \w+\.float32\), "
                                r"got \w+\.int32"):
        with tf.GradientTape() as tape:
            tape.watch(tf.constant(1))


def test_watching_is_local_to_one_tape():
    c = tf.constant(3.0)
    with tf.GradientTape() as watching, tf.GradientTape() as other:
        watching.watch(c)
        y = c * c
    assert value(watching.gradient(y, c)) == 6.0
    assert other.gradient(y, c) is None


# ==============================================================================================
# GradientTape: watched_variables
# ==============================================================================================
def test_watched_variables_are_in_order_of_construction():
    first = tf.Variable(1.0, name="first")
    second = tf.Variable(2.0, name="second")
    third = tf.Variable(3.0, name="third")
    with tf.GradientTape() as tape:
        y = third * second * first    # read in reverse order
    assert [v.name for v in tape.watched_variables()] == ["first:0", "second:0", "third:0"]
    assert value(tape.gradient(y, second)) == 3.0


def test_watched_variables_include_explicitly_watched_non_trainable_ones():
    trainable = tf.Variable(1.0, name="t")
    frozen = tf.Variable(2.0, trainable=False)
    unread = tf.Variable(5.0, trainable=False, name="unread")
    with tf.GradientTape() as tape:
        tape.watch(frozen)
        _ = trainable * frozen * unread
    assert [v.name for v in tape.watched_variables()] == ["t:0", "Variable:0"]


def test_watched_variables_survive_a_non_persistent_gradient_call():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        y = a * b
    tape.gradient(y, a)
    assert [v.name for v in tape.watched_variables()] == ["a:0", "b:0"]


def test_reset_empties_watched_variables():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.GradientTape() as tape:
        _ = a * 2.0
        tape.reset()
        assert list(tape.watched_variables()) == []
        y = b * 3.0
    assert [v.name for v in tape.watched_variables()] == ["b:0"]
    assert value(tape.gradient(y, b)) == 3.0


# ==============================================================================================
# GradientTape: gradient()
# ==============================================================================================
def test_sources_structure_is_kept_for_nested_lists_tuples_and_dicts():
    a, b, c = tf.Variable(1.0), tf.Variable(2.0), tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = a * b * c
    grads = tape.gradient(y, {"ab": [a, (b,)], "c": c})
    assert isinstance(grads, dict) and set(grads) == {"ab", "c"}
    assert isinstance(grads["ab"], list) and isinstance(grads["ab"][1], tuple)
    assert value(grads["ab"][0]) == 6.0
    assert value(grads["ab"][1][0]) == 3.0
    assert value(grads["c"]) == 2.0


def test_nested_targets_give_the_gradient_of_their_sum():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y1 = x**2          # 2x = 4
        y2 = x**3          # 3x^2 = 12
        y3 = 5.0 * x       # 5
    assert value(tape.gradient({"a": [y1, (y2,)], "b": y3}, x)) == 21.0


def test_non_scalar_target_gives_the_gradient_of_its_sum():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = x * x
    np.testing.assert_array_equal(value(tape.gradient(y, x)), [2.0, 4.0, 6.0])


def test_result_has_the_shape_of_the_source():
    w = tf.Variable(np.ones((4, 3), np.float32))
    x = tf.constant([[1.0, 2.0, 3.0, 4.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_mean(x @ w)
    grad = tape.gradient(y, w)
    assert tuple(grad.shape) == (4, 3) and grad.dtype == tf.float32
    np.testing.assert_allclose(grad.numpy(), np.repeat([[1.0], [2.0], [3.0], [4.0]], 3, axis=1) / 3, rtol=1e-6)


def test_output_gradients_seed_each_flattened_target():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y1 = x**2          # 2x = 4
        y2 = x**3          # 3x^2 = 12
    grad = tape.gradient([y1, y2], x, output_gradients=[tf.constant(2.0), tf.constant(3.0)])
    assert value(grad) == 2.0 * 4.0 + 3.0 * 12.0


def test_output_gradients_seed_a_vector_target_elementwise():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = x * x
    grad = tape.gradient(y, x, output_gradients=tf.constant([1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(value(grad), [2.0, 0.0, 12.0])


def test_gradient_of_a_source_with_respect_to_itself_is_ones():
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    c = tf.constant([5.0, 6.0, 7.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        _ = x * 1.0        # reads (and so watches) x
    np.testing.assert_array_equal(value(tape.gradient(x, x)), np.ones((2, 2)))
    np.testing.assert_array_equal(value(tape.gradient(c, c)), np.ones(3))


def test_the_same_source_twice_gets_the_full_gradient_twice():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = 3.0 * x
    first, second = tape.gradient(y, [x, x])
    assert (value(first), value(second)) == (3.0, 3.0)


@pytest.mark.filterwarnings("ignore:The dtype of the watched tensor must be floating")
def test_integer_sources_give_none():
    n = tf.Variable(3)
    k = tf.constant(2)
    with tf.GradientTape() as tape:
        tape.watch(k)
        y = n * k
    assert tape.gradient(y, [n, k]) == [None, None]


def test_string_sources_give_none():
    x = tf.Variable(2.0)
    s = tf.constant("text")
    with tf.GradientTape() as tape:
        y = x * x
    grads = tape.gradient(y, [x, s])
    assert value(grads[0]) == 4.0
    assert grads[1] is None


def test_second_gradient_call_on_a_non_persistent_tape_raises():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert value(tape.gradient(y, x)) == 4.0
    with pytest.raises(RuntimeError) as info:
        tape.gradient(y, x)
    assert str(info.value) == NON_PERSISTENT_MESSAGE


def test_jacobian_after_gradient_on_a_non_persistent_tape_raises():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match=re.escape(NON_PERSISTENT_MESSAGE)):
        tape.jacobian(y, x)


def test_persistent_tape_computes_many_gradients():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y1 = x**2
        y2 = x**3
    assert (value(tape.gradient(y1, x)), value(tape.gradient(y2, x)), value(tape.gradient(y1, x))) == \
           (4.0, 12.0, 4.0)


def test_target_none_is_a_type_error():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        _ = x * x
    with pytest.raises(TypeError, match=re.escape(
            "Argument `target` should be a list or nested structure of Tensors, Variables or CompositeTensors "
            "to be differentiated, but received None.")):
        tape.gradient(None, x)


def test_unknown_unconnected_gradients_value_is_a_value_error():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * x
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients: "):
        tape.gradient(y, x, unconnected_gradients="sometimes")


def test_unconnected_gradients_zero_gives_zeros_of_the_sources_shape():
    x = tf.Variable(2.0)
    unused = tf.Variable([[1.0, 2.0, 3.0]])
    with tf.GradientTape() as tape:
        y = x * x
    dx, dunused = tape.gradient(y, [x, unused], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    assert value(dx) == 4.0
    assert dunused.dtype == tf.float32
    np.testing.assert_array_equal(value(dunused), np.zeros((1, 3)))


def test_unconnected_gradients_default_is_none():
    x = tf.Variable(2.0)
    unused = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, unused, unconnected_gradients=tf.UnconnectedGradients.NONE) is None


# ==============================================================================================
# GradientTape: recording
# ==============================================================================================
def test_gradient_inside_the_context_stops_a_non_persistent_tape():
    x = tf.Variable(2.0)
    later = tf.Variable(5.0, name="later")
    with tf.GradientTape() as tape:
        y = x * x
        assert value(tape.gradient(y, x)) == 4.0
        _ = later * 2.0      # no longer recorded: `later` is not watched
        with pytest.raises(RuntimeError, match="Trying to stop recording a tape which is not recording."):
            with tape.stop_recording():
                pass
    assert "later:0" not in [v.name for v in tape.watched_variables()]


def test_gradient_inside_a_persistent_tapes_context_warns_once_and_is_recorded(caplog):
    x = tf.Variable(2.0)
    with expect_warning(caplog, "Calling GradientTape.gradient on a persistent tape inside its context is "
                                "significantly less efficient", count=1):
        with tf.GradientTape(persistent=True) as tape:
            y = x**3
            dy = tape.gradient(y, x)          # 3x^2 = 12, recorded
            d2y = tape.gradient(dy, x)        # 6x = 12, recorded
    assert value(dy) == 12.0
    assert value(d2y) == 12.0
    assert value(tape.gradient(d2y, x)) == 6.0


def test_reentering_an_active_tape_raises_value_error():
    with tf.GradientTape() as tape:
        with pytest.raises(ValueError, match=re.escape(
                "Tape is still recording, This can happen if you try to re-enter an already-active tape.")):
            with tape:
                pass


def test_reentering_after_exit_continues_the_same_tape():
    x = tf.Variable(2.0)
    tape = tf.GradientTape()
    with tape:
        y = x * x
    z = y * 10.0                 # outside: not recorded
    with tape:
        w = y * x                # x^3
    assert value(tape.gradient([w, z], x)) == 12.0   # only x^3: 3x^2 = 12


def test_stop_recording_pauses_the_tape():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = x * x
        with tape.stop_recording():
            z = x * x * x
        w = y + z
    assert value(tape.gradient(w, x)) == 4.0


def test_stop_recording_on_a_tape_that_is_not_recording_raises():
    tape = tf.GradientTape()
    with pytest.raises(RuntimeError, match=re.escape("Trying to stop recording a tape which is not recording.")):
        with tape.stop_recording():
            pass


def test_reset_is_exiting_and_entering_a_new_tape():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y = x * x
        tape.reset()
        z = x * x * x
    assert tape.gradient(y, x) is None
    assert value(tape.gradient(z, x)) == 12.0


def test_python_control_flow_is_recorded_as_executed_and_the_predicate_gets_none():
    x = tf.Variable(3.0)
    flag = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(flag)
        if flag % 2 == 0:
            y = 4.0 * x**2 + 3.0
        else:
            y = x**3
    assert value(tape.gradient(y, x)) == 24.0
    assert tape.gradient(y, flag) is None


def test_stop_gradient_blocks_the_gradient():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = tf.stop_gradient(x) * x
    assert value(tape.gradient(y, x)) == 3.0


# ==============================================================================================
# jacobian / batch_jacobian
# ==============================================================================================
def test_jacobian_shape_is_target_shape_plus_source_shape():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape(persistent=True) as tape:
        y = x * x                                  # (3,)
        z = tf.reshape(tf.concat([x, x * 2.0], axis=0), (2, 3))    # (2, 3)
    jy = tape.jacobian(y, x)
    assert tuple(jy.shape) == (3, 3)
    np.testing.assert_array_equal(jy.numpy(), np.diag([2.0, 4.0, 6.0]))
    jz = tape.jacobian(z, x)
    assert tuple(jz.shape) == (2, 3, 3)
    np.testing.assert_array_equal(jz.numpy(), np.stack([np.eye(3), 2.0 * np.eye(3)]))


def test_batch_jacobian_shape_and_values():
    x = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])      # (b=2, 3)
    with tf.GradientTape() as tape:
        y = tf.concat([x * x, tf.reduce_sum(x, axis=1, keepdims=True)], axis=1)   # (b=2, 4)
    j = tape.batch_jacobian(y, x)
    assert tuple(j.shape) == (2, 4, 3)
    expected = np.zeros((2, 4, 3))
    for b in range(2):
        expected[b, :3, :] = np.diag(2.0 * x.numpy()[b])
        expected[b, 3, :] = 1.0
    np.testing.assert_array_equal(j.numpy(), expected)


def test_batch_jacobian_needs_matching_first_dimensions():
    x = tf.Variable(np.ones((4, 3), np.float32))
    with tf.GradientTape() as tape:
        y = tf.ones((2, 4)) @ x             # (2, 3): first dimension 2, source's 4
    with pytest.raises(ValueError, match=r"Need first dimension of target shape \(.*\) and source shape \(.*\) "
                                         r"to match\."):
        tape.batch_jacobian(y, x)


def test_batch_jacobian_needs_rank_two():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = x * x
    with pytest.raises(ValueError):
        tape.batch_jacobian(y, x)


# ==============================================================================================
# Higher order
# ==============================================================================================
def test_nested_tapes_give_the_second_derivative():
    x = tf.Variable([1.0, 2.0, -3.0])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = x**3
        dy = inner.gradient(y, x)          # 3x^2
    d2y = outer.gradient(dy, x)            # 6x
    np.testing.assert_allclose(value(dy), [3.0, 12.0, 27.0])
    np.testing.assert_allclose(value(d2y), [6.0, 12.0, -18.0])


def test_nested_tapes_with_watched_constant():
    x = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x**3
        dy = inner.gradient(y, x)
    assert value(outer.gradient(dy, x)) == 12.0


def test_persistent_tape_differentiates_its_own_gradients():
    x = tf.Variable(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # gradient inside a persistent tape's context warns
        with tf.GradientTape(persistent=True) as tape:
            y = x**3
            dy = tape.gradient(y, x)               # 3x^2 = 12
            d2y = tape.gradient(dy, x)             # 6x = 12
        d3y = tape.gradient(d2y, x)                # 6
    assert (value(dy), value(d2y), value(d3y)) == (12.0, 12.0, 6.0)


# ==============================================================================================
# reduce_max / reduce_min / maximum
# ==============================================================================================
def test_reduce_max_splits_the_gradient_equally_among_ties():
    x = tf.Variable([1.0, 3.0, 3.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_max(x)
    np.testing.assert_array_equal(value(tape.gradient(y, x)), [0.0, 0.5, 0.5, 0.0])


def test_reduce_min_splits_the_gradient_equally_among_ties():
    x = tf.Variable([1.0, 1.0, 1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_min(x)
    np.testing.assert_allclose(value(tape.gradient(y, x)), [1 / 3, 1 / 3, 1 / 3, 0.0], rtol=1e-6)


def test_maximum_sends_the_gradient_to_x_where_x_is_at_least_y():
    x = tf.Variable([1.0, 2.0, 3.0])
    y = tf.Variable([3.0, 2.0, 1.0])
    with tf.GradientTape() as tape:
        z = tf.maximum(x, y)
    dx, dy = tape.gradient(z, [x, y])
    np.testing.assert_array_equal(value(dx), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(value(dy), [1.0, 0.0, 0.0])


# ==============================================================================================
# Why gradients come out None (the guide's list)
# ==============================================================================================
def test_variable_replaced_by_a_tensor_gives_none():
    x = tf.Variable(2.0)
    for epoch in range(2):
        with tf.GradientTape() as tape:
            y = x + 1
        grad = tape.gradient(y, x)
        if epoch == 0:
            assert value(grad) == 1.0
        else:
            assert grad is None
        x = x + 1        # should have been x.assign_add(1)


def test_computation_outside_the_library_gives_none():
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        x2 = x**2
        y = np.mean(x2, axis=0)               # numpy, not tapeviz
        y = tf.reduce_mean(y, axis=0)
    assert tape.gradient(y, x) is None


@pytest.mark.filterwarnings("ignore:The dtype of the watched tensor must be floating")
def test_path_through_an_integer_gives_none():
    x = tf.constant(10)
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    assert g.gradient(y, x) is None


def test_path_through_a_stateful_update_gives_none():
    x0 = tf.Variable(3.0)
    x1 = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        x1.assign_add(x0)       # updates x1 in place; the tape does not record a path to x0
        y = x1**2
    assert y.numpy() == 9.0
    assert tape.gradient(y, x0) is None


@pytest.mark.parametrize("through", ["cast_to_int", "round", "comparison", "argmax"])
def test_ops_registered_as_not_differentiable_give_none(through):
    x = tf.Variable([1.4, 2.6, 0.3])
    with tf.GradientTape() as tape:
        if through == "cast_to_int":
            y = tf.cast(tf.cast(x, tf.int32), tf.float32)
        elif through == "round":
            y = tf.round(x)
        elif through == "comparison":
            y = tf.cast(tf.math.equal(x, x), tf.float32)
        else:
            y = tf.cast(tf.math.argmax(x), tf.float32)
    assert tape.gradient(y, x) is None


# ==============================================================================================
# Registry: RegisterGradient, no_gradient, LookupError
# ==============================================================================================
def fresh_op_name():
    return "TapevizSemanticsOp" + uuid.uuid4().hex[:10]


def _reload_registry():
    try:
        from tapeviz.core.plugins import reload
    except ImportError:
        return
    reload()


@pytest.fixture
def restore_registry():
    """Drop the registrations a test makes (tapeviz's plugin reload), so they do not leak."""
    yield
    _reload_registry()


@pytest.fixture
def new_op():
    """A fresh op type with a forward computation and no gradient rule: ``tf.raw_ops.<name>(x, scale=...)``.

    TensorFlow's Python API cannot define new ops, so this uses tapeviz's plugin registrar (the mechanism
    gradient plugins use). Skipped if that is not there. Registrations made here are dropped afterwards.
    """
    try:
        from tapeviz.core.plugins import PluginInfo, Registrar
        registrar = Registrar("test-tf-semantics")
        name = fresh_op_name()
        registrar.op(name, lambda x, scale=2.0: x * scale)
        registrar.commit(PluginInfo("test-tf-semantics", "", "test"))
        getattr(tf.raw_ops, name)
    except (ImportError, AttributeError, TypeError) as error:
        pytest.skip(f"cannot define a new op type for the test: {error}")
    yield name
    _reload_registry()


def test_register_gradient_needs_a_string_op_type():
    with pytest.raises(TypeError, match="op_type must be a string"):
        tf.RegisterGradient(42)


def test_registering_an_op_type_twice_is_a_key_error_naming_the_first_registration(restore_registry):
    name = fresh_op_name()

    @tf.RegisterGradient(name)
    def first_rule(op, grad):
        return grad

    with pytest.raises(KeyError) as info:
        @tf.RegisterGradient(name)
        def second_rule(op, grad):
            return grad

    message = str(info.value)
    assert name in message
    assert re.search(rf"test_tf_semantics\.py:{first_rule.__code__.co_firstlineno}\b", message), message


def test_registering_a_builtin_op_type_again_is_a_key_error(restore_registry):
    with pytest.raises(KeyError):
        @tf.RegisterGradient("Mul")
        def my_mul_grad(op, grad):
            return grad, grad


def test_differentiable_path_through_an_op_without_a_rule_raises_lookup_error(new_op):
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = getattr(tf.raw_ops, new_op)(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    with pytest.raises(LookupError, match=f"gradient registry has no entry for: {new_op}"):
        tape.gradient(y, x)


def test_no_gradient_makes_the_op_propagate_none(new_op):
    tf.no_gradient(new_op)
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = getattr(tf.raw_ops, new_op)(x) + x * 0.0
    np.testing.assert_array_equal(value(tape.gradient(y, x)), [0.0, 0.0])   # only the x * 0.0 path
    with tf.GradientTape() as tape:
        z = getattr(tf.raw_ops, new_op)(x)
    assert tape.gradient(z, x) is None


def test_not_differentiable_is_an_alias_of_no_gradient(new_op):
    tf.NotDifferentiable(new_op)
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        z = getattr(tf.raw_ops, new_op)(x)
    assert tape.gradient(z, x) is None


def test_register_gradient_rule_gets_the_op_and_the_output_gradient(new_op):
    seen = {}

    @tf.RegisterGradient(new_op)
    def scale_grad(op, grad):
        seen["type"] = op.type
        seen["inputs"] = [t.numpy() for t in op.inputs]
        seen["outputs"] = [t.numpy() for t in op.outputs]
        seen["scale"] = op.get_attr("scale")
        seen["grad"] = grad.numpy()
        return [grad * op.get_attr("scale")]

    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = getattr(tf.raw_ops, new_op)(x, scale=3.0)
    grad = tape.gradient(y, x, output_gradients=tf.constant([1.0, 10.0]))
    np.testing.assert_array_equal(value(grad), [3.0, 30.0])
    assert seen["type"] == new_op
    np.testing.assert_array_equal(seen["inputs"][0], [1.0, 2.0])
    np.testing.assert_array_equal(seen["outputs"][0], [3.0, 6.0])
    assert seen["scale"] == 3.0
    np.testing.assert_array_equal(seen["grad"], [1.0, 10.0])


# ==============================================================================================
# custom_gradient
# ==============================================================================================
def test_custom_gradient_replaces_the_gradient():
    @tf.custom_gradient
    def square_with_fake_gradient(x):
        def grad(dy):
            return dy * 10.0
        return x * x, grad

    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = square_with_fake_gradient(x)
    assert y.numpy() == 9.0
    assert value(tape.gradient(y, x)) == 10.0


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # exp(100) is inf in float32, as in TF
def test_custom_gradient_log1pexp_is_stable():
    @tf.custom_gradient
    def log1pexp(x):
        e = tf.exp(x)

        def grad(upstream):
            return upstream * (1 - 1 / (1 + e))
        return tf.math.log(1 + e), grad

    x = tf.constant(100.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert value(tape.gradient(y, x)) == 1.0


def test_custom_gradient_returns_one_gradient_per_input():
    @tf.custom_gradient
    def product(a, b):
        def grad(dy):
            return dy * 2.0, dy * 5.0
        return a * b, grad

    a, b = tf.Variable(3.0), tf.Variable(4.0)
    with tf.GradientTape() as tape:
        y = product(a, b)
    assert y.numpy() == 12.0
    da, db = tape.gradient(y, [a, b])
    assert (value(da), value(db)) == (2.0, 5.0)


def test_custom_gradient_with_variables_returns_input_and_variable_gradients():
    v = tf.Variable(2.0)
    seen = {}

    @tf.custom_gradient
    def times_v(x):
        def grad(dy, variables=None):
            seen["variables"] = variables
            return dy * 5.0, [dy * 7.0]
        return x * v, grad

    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = times_v(x)
    assert y.numpy() == 6.0
    dx, dv = tape.gradient(y, [x, v])
    assert (value(dx), value(dv)) == (5.0, 7.0)
    assert len(seen["variables"]) == 1 and seen["variables"][0] is v


def test_custom_gradient_with_too_many_gradients_is_a_value_error():
    @tf.custom_gradient
    def f(x):
        def grad(dy):
            return dy, dy
        return x * x, grad

    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = f(x)
    with pytest.raises(ValueError):
        tape.gradient(y, x)


def test_custom_gradient_with_wrong_variable_gradient_count_is_a_value_error():
    v = tf.Variable(2.0)

    @tf.custom_gradient
    def times_v(x):
        def grad(dy, variables=None):
            return dy, []
        return x * v, grad

    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = times_v(x)
    with pytest.raises(ValueError):
        tape.gradient(y, [x, v])


# ==============================================================================================
# Threads
# ==============================================================================================
def test_a_tape_does_not_record_ops_run_in_another_thread():
    v = tf.Variable(2.0)
    from_thread = {}
    with tf.GradientTape(persistent=True) as tape:
        worker = threading.Thread(target=lambda: from_thread.setdefault("y", v * v))
        worker.start()
        worker.join()
        y_here = v * 3.0
    assert tape.gradient(from_thread["y"], v) is None
    assert value(tape.gradient(y_here, v)) == 3.0


def test_a_tape_opened_in_another_thread_does_not_record_this_threads_ops():
    v = tf.Variable(2.0)
    entered, computed = threading.Event(), threading.Event()
    result = {}

    def worker():
        with tf.GradientTape(persistent=True) as tape:
            entered.set()
            computed.wait(timeout=30)
            y_there = v * 5.0
        result["there"] = tape.gradient(y_there, v)
        result["here"] = tape.gradient(result["y_here"], v)

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(timeout=30)
    result["y_here"] = v * v            # main thread, while the worker's tape is open
    computed.set()
    thread.join(timeout=30)
    assert value(result["there"]) == 5.0
    assert result["here"] is None
