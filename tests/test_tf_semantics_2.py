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


# ==============================================================================================
# Connected but zero is zeros, not None, at every order (TF's rules return zeros_like)
# ==============================================================================================
@pytest.mark.parametrize("f, x0, first", [
    (tf.nn.relu, -2.0, 0.0), (tf.nn.relu, 0.0, 0.0), (tf.nn.relu, 2.0, 1.0),
    (tf.nn.relu6, 0.0, 0.0), (tf.nn.relu6, 0.5, 1.0), (tf.nn.relu6, 7.0, 0.0),
    (tf.nn.leaky_relu, -2.0, 0.2), (tf.nn.leaky_relu, 0.0, 0.2), (tf.nn.leaky_relu, 2.0, 1.0),
    (tf.abs, -2.0, -1.0), (tf.abs, 0.0, 0.0),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_second_derivative_of_piecewise_linear_functions_is_zeros(f, x0, first):
    d, dd = second_derivative(f, x0)
    assert value(d) == np.float32(first)
    assert dd is not None and value(dd) == 0.0


@pytest.mark.parametrize("f", [tf.sign, lambda x: tf.clip_by_value(x, -1.0, 1.0), lambda x: tf.maximum(x, 0.0),
                               lambda x: tf.minimum(x, 0.0)], ids=["sign", "clip_by_value", "maximum", "minimum"])
def test_second_derivative_through_a_comparison_mask_is_none(f):
    _, dd = second_derivative(f, 0.5)
    assert dd is None  # TF: the mask comes from a comparison, which is not differentiable


def test_relu6_and_leaky_relu_gradient_ops_give_zeros_to_their_features():
    x = tf.Variable([-1.0, 3.0, 7.0])
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape(persistent=True) as inner:
            y6 = tf.nn.relu6(x)
            yl = tf.nn.leaky_relu(x, alpha=0.3)
        d6, dl = inner.gradient(y6, x), inner.gradient(yl, x)
    np.testing.assert_array_equal(value(d6), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(value(dl), [0.3, 1.0, 1.0])
    np.testing.assert_array_equal(value(outer.gradient(d6, x)), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(value(outer.gradient(dl, x)), [0.0, 0.0, 0.0])


# ==============================================================================================
# A zero upstream gradient gives 0, not NaN (TF's SqrtGrad, RsqrtGrad, ReciprocalGrad kernels)
# ==============================================================================================
@pytest.mark.parametrize("f, x0", [(tf.sqrt, -1.0), (tf.sqrt, 0.0), (tf.math.rsqrt, 0.0), (tf.math.rsqrt, -1.0),
                                   (tf.math.reciprocal, 0.0)], ids=["sqrt-1", "sqrt0", "rsqrt0", "rsqrt-1", "recip0"])
def test_the_where_trick_gives_zero_not_nan(f, x0):
    x = tf.Variable(x0)
    with tf.GradientTape(persistent=True) as tape:
        guarded = tf.where(x > 1.0, f(x), 0.0)
        times_zero = f(x) * 0.0
    assert value(tape.gradient(guarded, x)) == 0.0
    assert value(tape.gradient(times_zero, x)) == 0.0


@pytest.mark.parametrize("f, x0", [(tf.math.log, 0.0), (tf.math.log1p, -1.0), (lambda x: 1.0 / x, 0.0),
                                   (tf.exp, 100.0), (lambda x: x ** 0.5, 0.0), (tf.asin, 1.0), (tf.sinh, 100.0)],
                         ids=["log", "log1p", "div", "exp", "pow", "asin", "sinh"])
def test_ops_without_a_guarded_kernel_still_give_nan_under_a_zero_upstream(f, x0):
    x = tf.Variable(x0)
    with tf.GradientTape() as tape:
        y = tf.where(x > 1e38, f(x), 0.0)
    assert np.isnan(value(tape.gradient(y, x)))  # TF: nan (grad * inf)


def test_the_where_trick_second_derivative_is_nan_as_in_tf():
    d, dd = second_derivative(lambda x: tf.where(x > 0, tf.sqrt(x), 0.0), -1.0)
    assert value(d) == 0.0 and np.isnan(value(dd))


def test_direct_sqrt_gradients_at_the_edge_are_inf_and_nan():
    for f, x0, expected in [(tf.sqrt, 0.0, np.inf), (tf.math.rsqrt, 0.0, -np.inf), (tf.sqrt, -1.0, np.nan)]:
        x = tf.Variable(x0)
        with tf.GradientTape() as tape:
            y = f(x)
        np.testing.assert_array_equal(value(tape.gradient(y, x)), np.float32(expected))


# ==============================================================================================
# Kinks and edges
# ==============================================================================================
def test_selu_and_elu_at_zero_use_the_right_hand_slope():
    d, dd = second_derivative(tf.nn.selu, 0.0)
    assert value(d) == np.float32(1.050701) and value(dd) == 0.0
    d, dd = second_derivative(tf.nn.elu, 0.0)
    assert value(d) == 1.0 and value(dd) == 0.0
    d, dd = second_derivative(tf.nn.elu, -2.0)
    np.testing.assert_allclose([value(d), value(dd)], [0.13533527, 0.13533527], rtol=1e-6)
    d, dd = second_derivative(tf.nn.selu, -2.0)
    np.testing.assert_allclose([value(d), value(dd)], [0.2379328, 0.2379328], rtol=1e-6)


def test_kinks_of_abs_relu_relu6_leaky_relu():
    x = tf.Variable([0.0, -0.0, 6.0, -1.0])
    with tf.GradientTape(persistent=True) as tape:
        ys = [tf.abs(x), tf.nn.relu(x), tf.nn.relu6(x), tf.nn.leaky_relu(x)]
    grads = [value(tape.gradient(y, x)) for y in ys]
    np.testing.assert_array_equal(grads[0], [0.0, 0.0, 1.0, -1.0])
    np.testing.assert_array_equal(grads[1], [0.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(grads[2], [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(grads[3], [0.2, 0.2, 1.0, 0.2])


def test_clip_by_value_edges_send_the_gradient_to_t():
    x = tf.constant([-1.0, 1.0, 0.0, 5.0, -5.0])
    lo, hi = tf.Variable(-1.0), tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.clip_by_value(x, lo, hi)
    gx, glo, ghi = tape.gradient(y, [x, lo, hi])
    np.testing.assert_array_equal(value(gx), [1.0, 1.0, 1.0, 0.0, 0.0])
    assert value(glo) == 1.0 and value(ghi) == 1.0


def test_clip_by_value_with_min_above_max_gives_the_min():
    np.testing.assert_array_equal(value(tf.clip_by_value(tf.constant([0.0, 5.0, -5.0]), 2.0, 1.0)), [2.0, 2.0, 2.0])
    x = tf.constant([0.0, 5.0, -5.0, 1.5])
    lo, hi = tf.Variable(2.0), tf.Variable(1.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tf.clip_by_value(x, lo, hi)
    gx, glo, ghi = tape.gradient(y, [x, lo, hi])
    np.testing.assert_array_equal(value(gx), [0.0, 0.0, 0.0, 0.0])
    assert value(glo) == 4.0 and value(ghi) == 0.0


def test_maximum_and_minimum_ties_go_to_the_first_operand():
    x, y = tf.Variable([1.0, 2.0]), tf.Variable([1.0, 1.0])
    with tf.GradientTape(persistent=True) as tape:
        high, low = tf.maximum(x, y), tf.minimum(x, y)
    np.testing.assert_array_equal(value(tape.gradient(high, x)), [1.0, 1.0])
    np.testing.assert_array_equal(value(tape.gradient(high, y)), [0.0, 0.0])
    np.testing.assert_array_equal(value(tape.gradient(low, x)), [1.0, 0.0])
    np.testing.assert_array_equal(value(tape.gradient(low, y)), [0.0, 1.0])


def test_reduce_ties_share_the_gradient_per_reduced_slice():
    x = tf.Variable([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    with tf.GradientTape(persistent=True) as tape:
        whole, rows, columns = tf.reduce_max(x), tf.reduce_min(x, axis=1), tf.reduce_max(x, axis=0)
    np.testing.assert_allclose(value(tape.gradient(whole, x)), [[0, 0.5, 0.5], [0, 0, 0]])
    np.testing.assert_allclose(value(tape.gradient(rows, x)), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(value(tape.gradient(columns, x)), [[0, 1, 1], [1, 0, 0]])


def test_float16_mean_and_sum_overflow_to_inf():
    assert np.isinf(value(tf.reduce_mean(tf.constant([60000, 60000], tf.float16))))
    assert np.isinf(value(tf.reduce_sum(tf.constant([60000, 60000], tf.float16))))
    assert np.isinf(value(tf.reduce_mean(tf.fill([3000], tf.constant(30.0, tf.float16)))))
    np.testing.assert_array_equal(value(tf.reduce_mean(tf.constant([[60000, 60000], [1, 2]], tf.float16), axis=1)),
                                  np.array([np.inf, 1.5], np.float16))
    assert value(tf.reduce_mean(tf.constant([1000, 3000, 5], tf.float16))) == np.float16(1335)


def test_reduce_max_and_min_of_nothing_are_the_identities():
    assert value(tf.reduce_max(tf.zeros([0]))) == -np.inf
    assert value(tf.reduce_min(tf.zeros([0]))) == np.inf
    assert value(tf.reduce_max(tf.zeros([0], tf.int32))) == -2147483648
    assert value(tf.reduce_min(tf.zeros([0], tf.int32))) == 2147483647
    np.testing.assert_array_equal(value(tf.reduce_max(tf.zeros([2, 0]), axis=1)), [-np.inf, -np.inf])
    assert value(tf.reduce_max(tf.zeros([2, 0]), axis=1, keepdims=True)).shape == (2, 1)
    assert value(tf.reduce_max(tf.zeros([2, 0]), axis=0)).shape == (0,)
    v = tf.Variable(tf.zeros([0]))
    with tf.GradientTape() as tape:
        y = tf.reduce_max(v)
    assert value(tape.gradient(y, v)).shape == (0,)


# ==============================================================================================
# float32 at the extremes
# ==============================================================================================
def test_exp_sigmoid_softplus_flush_subnormal_results_to_zero():
    np.testing.assert_array_equal(value(tf.sigmoid(tf.constant([-95.0, -88.0]))), [0.0, 0.0])
    np.testing.assert_array_equal(value(tf.exp(tf.constant([-100.0, -88.0, -103.0]))), [0.0, 0.0, 0.0])
    assert value(tf.exp(tf.constant(-87.0))) == np.float32(1.6458115e-38)  # the smallest normal range stays
    np.testing.assert_array_equal(value(tf.nn.softplus(tf.constant([-95.0, -110.0]))), [0.0, 0.0])
    assert value(tf.math.log(tf.sigmoid(tf.constant(-95.0)))) == -np.inf


def test_hand_written_cross_entropy_gives_inf_as_in_tf():
    logits = tf.constant([-95.0])
    loss = -tf.math.log(tf.sigmoid(logits))
    assert np.isinf(value(loss)[0])


def test_float32_tanh_saturates_from_7_9073896():
    x = np.array([7.907389, 7.9073896, 7.95, 8.0, 9.0, -8.0], np.float32)
    np.testing.assert_array_equal(value(tf.tanh(x))[1:], [1.0, 1.0, 1.0, 1.0, -1.0])
    assert value(tf.tanh(x))[0] < 1.0
    v = tf.Variable([7.0, 8.0, 9.0])
    with tf.GradientTape() as tape:
        y = tf.tanh(v)
    grad = value(tape.gradient(y, v))
    assert grad[0] > 0 and grad[1] == 0.0 and grad[2] == 0.0


def test_float32_sigmoid_is_one_from_16_635532():
    x = np.array([16.63553, 16.635532, 17.0], np.float32)
    result = value(tf.sigmoid(x))
    assert result[0] < 1.0 and result[1] == 1.0 and result[2] == 1.0


# ==============================================================================================
# Errors as TF raises them: InvalidArgumentError under tf.errors.OpError, TypeError, ValueError
# ==============================================================================================
def test_tf_errors_hierarchy_and_constructor():
    for name in ["CancelledError", "UnknownError", "InvalidArgumentError", "DeadlineExceededError", "NotFoundError",
                 "AlreadyExistsError", "PermissionDeniedError", "UnauthenticatedError", "ResourceExhaustedError",
                 "FailedPreconditionError", "AbortedError", "OutOfRangeError", "UnimplementedError", "InternalError",
                 "UnavailableError", "DataLossError"]:
        assert issubclass(getattr(tf.errors, name), tf.errors.OpError), name
    error = tf.errors.InvalidArgumentError(None, None, "msg")
    assert error.message == "msg" and str(error) == "msg" and error.error_code == tf.errors.INVALID_ARGUMENT == 3
    assert error.op is None and error.node_def is None


def raises_invalid_argument(fn, *words):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        fn()
    for word in words:
        assert word in str(info.value), str(info.value)


@pytest.mark.parametrize("fn, words", [
    (lambda: tf.constant(1.0) + tf.constant(1.0, tf.float64),
     ["cannot compute AddV2 as input #1(zero-based) was expected to be a float tensor but is a double tensor"]),
    (lambda: tf.matmul(tf.ones([2, 2]), tf.ones([2, 2], tf.float64)), ["expected to be a float tensor but is a double"]),
    (lambda: tf.ones([2]) + tf.ones([3]), ["Incompatible shapes: [2] vs. [3]", "AddV2"]),
    (lambda: tf.ones([2, 3]) * tf.ones([4]), ["Incompatible shapes: [2, 3] vs. [4]", "Mul"]),
], ids=["dtypes", "matmul dtypes", "add shapes", "mul shapes"])
def test_binary_ops_on_mismatched_tensors_raise_invalid_argument(fn, words):
    raises_invalid_argument(fn, *words)


@pytest.mark.parametrize("fn", [tf.sqrt, tf.exp, tf.sigmoid, tf.sin, tf.math.log, tf.tanh])
def test_float_only_functions_on_integers_raise_invalid_argument(fn):
    raises_invalid_argument(lambda: fn(tf.constant(4)), "Value for attr 'T' of int32 is not in the list of allowed values")


def test_bool_reductions_and_bool_arithmetic_raise_invalid_argument():
    flags = tf.constant([True, False])
    raises_invalid_argument(lambda: tf.reduce_sum(flags), "Value for attr 'T' of bool", "Sum")
    raises_invalid_argument(lambda: tf.reduce_mean(flags), "Value for attr 'T' of bool", "Mean")
    raises_invalid_argument(lambda: tf.constant(True) + tf.constant(False), "Value for attr 'T' of bool", "AddV2")
    raises_invalid_argument(lambda: tf.constant(True) - tf.constant(False), "Value for attr 'T' of bool", "Sub")
    raises_invalid_argument(lambda: -tf.constant(True), "Value for attr 'T' of bool", "Neg")
    raises_invalid_argument(lambda: tf.abs(tf.constant(True)), "Value for attr 'T' of bool", "Abs")
    assert value(tf.constant(True) * tf.constant(False)) == False  # noqa: E712 - TF has a bool Mul kernel


def test_integer_division_by_zero_raises_invalid_argument():
    raises_invalid_argument(lambda: tf.constant(7) // tf.constant(0), "Integer division by zero", "FloorDiv")
    raises_invalid_argument(lambda: tf.constant(7) % tf.constant(0), "Integer division by zero", "FloorMod")
    raises_invalid_argument(lambda: tf.constant(7) // 0, "Integer division by zero")
    assert value(tf.constant(7.0) // 0.0) == np.inf
    assert value(tf.constant(7) / tf.constant(0)) == np.inf  # true division casts to float64 first


def test_one_hot_range_and_list_indexing_raise_invalid_argument():
    raises_invalid_argument(lambda: tf.one_hot(tf.constant([0.0, 1.0]), 3), "Value for attr 'TI' of float")
    raises_invalid_argument(lambda: tf.one_hot([0.0, 1.0], 3), "Value for attr 'TI' of float")
    raises_invalid_argument(lambda: tf.range(5, 1), "Requires start <= limit when delta > 0: 5/1")
    raises_invalid_argument(lambda: tf.range(0, 5, 0), "Requires delta != 0")
    raises_invalid_argument(lambda: tf.constant([1.0, 2.0, 3.0])[[0, 1]], "Index out of range using input dim 1",
                            "tapeviz.gather")


def test_a_list_index_is_a_tuple_of_indices():
    x = tf.constant(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(value(x[[0, 1]]), [4.0, 5.0, 6.0, 7.0])
    assert value(tf.constant([1.0, 2.0, 3.0])[[0]]) == 1.0


def test_cast_of_a_string_is_unimplemented():
    with pytest.raises(tf.errors.UnimplementedError, match="Cast string to float32 is not supported"):
        tf.cast(tf.constant("a"), tf.float32)


@pytest.mark.parametrize("fn", [lambda: tf.constant(3) * 2.0, lambda: tf.constant(2.0, dtype=tf.int32),
                                lambda: tf.constant([1.0, 2.0], dtype=tf.int32)],
                         ids=["int tensor times float", "float constant as int32", "float list as int32"])
def test_python_floats_do_not_convert_to_integer_tensors(fn):
    with pytest.raises(TypeError, match="Cannot convert .* to EagerTensor of dtype int32"):
        fn()


def test_mixed_python_sequences_are_a_value_error():
    for make in (tf.Variable, tf.constant):
        with pytest.raises(ValueError, match="Can't convert Python sequence with mixed types to Tensor"):
            make([1, "a"])


def test_none_in_output_gradients_of_a_recorded_target_is_a_value_error():
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        y, z = x * 2.0, x * 3.0
    with pytest.raises(ValueError, match=r"Attempt to convert a value \(None\)"):
        tape.gradient([y, z], x, output_gradients=[tf.constant(1.0), None])


def test_reset_outside_the_context_is_a_value_error():
    with pytest.raises(ValueError, match="Tape is not recording"):
        tf.GradientTape().reset()
    x = tf.Variable(1.0)
    with tf.GradientTape() as tape:
        x * 2.0
    with pytest.raises(ValueError, match="Tape is not recording"):
        tape.reset()


# ==============================================================================================
# Printing, dtypes, shapes, variables
# ==============================================================================================
def test_format_of_a_tensor_is_numpys():
    t, s, i = tf.constant([1.5, 2.25]), tf.constant(3.14159), tf.constant(7)
    assert f"{t}" == "[1.5  2.25]"
    assert f"{s}" == "3.141590118408203" and f"{s:.2f}" == "3.14"
    assert f"{i:d}" == "7" and f"{i:5}" == "    7"
    with pytest.raises(TypeError, match="unsupported format string passed to numpy.ndarray.__format__"):
        f"{t:.2f}"


def test_dtypes_print_compare_and_have_sizes():
    assert str(tf.float32) == "<dtype: 'float32'>"
    assert tf.float32 == "float32" and tf.float32 == np.float32 and tf.float32 != "float64"
    assert hash(tf.float32) == hash(tf.dtypes.float32)
    assert [tf.float32.size, tf.float16.size, tf.int64.size, tf.bool.size, tf.uint8.size] == [4, 2, 8, 1, 1]
    assert tf.dtypes.as_dtype("int32") is tf.int32 and tf.dtypes.float32 is tf.float32
    assert isinstance(tf.float32, tf.dtypes.DType)
    assert not tf.float32.is_complex and tf.float32.real_dtype is tf.float32 and tf.float32.base_dtype is tf.float32
    assert tf.uint8.is_unsigned and not tf.int32.is_unsigned


def test_shapes_compare_with_lists_and_slice_to_shapes():
    x = tf.zeros([2, 3])
    assert x.shape == [2, 3] and x.shape == (2, 3) and x.shape != [2, 4]
    tail = x.shape[1:]
    assert isinstance(tail, tf.TensorShape) and tail.as_list() == [3] and repr(tail) == "TensorShape([3])"
    assert x.shape[0] == 2 and type(x.shape[0]) is int
    assert str(x.shape) == "(2, 3)" and repr(x.shape) == "TensorShape([2, 3])"
    assert (x.shape.rank, x.shape.ndims, len(x.shape), x.shape.num_elements()) == (2, 2, 2, 6)
    assert x.shape + [4] == [2, 3, 4] and x.shape.concatenate([4]) == [2, 3, 4]
    assert x.shape.is_compatible_with([None, 3])


def test_unknown_shapes():
    unknown = tf.TensorShape(None)
    assert repr(unknown) == "TensorShape(None)" and str(unknown) == "<unknown>" and unknown.rank is None
    partial = tf.TensorShape([None, 3])
    assert repr(partial) == "TensorShape([None, 3])" and str(partial) == "(None, 3)"


def test_assign_returns_the_unread_variable_or_none():
    v = tf.Variable(1.0)
    assert v.assign(2.0, read_value=False) is None and v.numpy() == 2.0
    assert v.assign_add(1.0, read_value=False) is None and v.numpy() == 3.0
    assert str(v.assign(2.0)) == "<tapeviz.Variable 'UnreadVariable' shape=() dtype=float32, numpy=2.0>"
    assert repr(v.assign_add(3.0)) == "<tapeviz.Variable 'UnreadVariable' shape=() dtype=float32, numpy=5.0>"


def test_the_unread_variable_is_the_variable_for_gradients():
    v = tf.Variable(1.0)
    unread = v.assign(3.0)
    with tf.GradientTape() as tape:
        y = unread * unread
    assert value(tape.gradient(y, v)) == 6.0
    unread.assign(4.0)
    assert v.numpy() == 4.0


def test_variable_constraint_is_kept_not_applied_by_assign():
    v = tf.Variable(5.0, constraint=lambda t: tf.clip_by_value(t, 0.0, 1.0))
    assert v.numpy() == 5.0 and v.constraint is not None
    v.assign(7.0)
    assert v.numpy() == 7.0


def test_variables_of_unknown_shape_take_values_of_any_shape():
    v = tf.Variable([1.0], shape=tf.TensorShape(None))
    assert repr(v.shape) == "TensorShape(None)"
    v.assign([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0, 3.0])
    w = tf.Variable([1.0], shape=[None])
    assert repr(w.shape) == "TensorShape([None])"
    w.assign([1.0, 2.0])
    assert w.numpy().shape == (2,)


def test_sliced_assignment_writes_into_the_variable():
    w = tf.Variable([1.0, 2.0, 3.0, 4.0])
    w[0].assign(9.0)
    w[1:3].assign([7.0, 8.0])
    np.testing.assert_array_equal(w.numpy(), [9.0, 7.0, 8.0, 4.0])
    m = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    m[:, 0].assign([0.0, 0.0])
    np.testing.assert_array_equal(m.numpy(), [[0.0, 2.0], [0.0, 4.0]])
    with pytest.raises(AttributeError):
        w[1:3].assign_add([1.0, 1.0])  # TF: only assign
    with pytest.raises(AttributeError):
        tf.constant([1.0, 2.0])[0].assign(3.0)


def test_a_slice_of_a_variable_is_still_differentiable():
    w = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(w[1:] * w[1:]) + 2.0 * w[0]
    np.testing.assert_array_equal(value(tape.gradient(y, w)), [2.0, 4.0, 6.0])


def test_a_variable_formats_as_it_prints():
    v = tf.Variable(2.0)
    assert f"{v}" == "<tapeviz.Variable 'Variable:0' shape=() dtype=float32, numpy=2.0>"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{v:.1f}"


def test_string_tensors_hold_bytes():
    assert tf.constant("hi").numpy() == b"hi" and tf.constant(b"hi").numpy() == b"hi"
    assert repr(tf.constant("hi")) == "<tapeviz.Tensor: shape=(), dtype=string, numpy=b'hi'>"
    assert str(tf.constant("hi")) == "tapeviz.Tensor(b'hi', shape=(), dtype=string)"
    words = tf.constant(["a", "bc"])
    assert str(words) == "tapeviz.Tensor([b'a' b'bc'], shape=(2,), dtype=string)"
    assert words.numpy().dtype == object and words.numpy().tolist() == [b"a", b"bc"]
    assert words.dtype == tf.string and tf.string.size == 0
    assert value(tf.constant("hi") == "hi")


def test_dtype_hint_applies_to_numpy_arrays_when_it_can():
    assert tf.convert_to_tensor(np.array([1.0, 2.0]), dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor(np.array([1, 2]), dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor([1, 2], dtype_hint=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor(np.array([1.0, 2.0]), dtype_hint=tf.int32).dtype == tf.int32
    assert tf.convert_to_tensor([1.5], dtype_hint=tf.int32).dtype == tf.float32  # no fit: the hint is dropped


def test_linspace_with_integer_mixed_and_vector_end_points():
    integer = tf.linspace(0, 10, 5)
    assert integer.dtype == tf.float64 and value(integer).tolist() == [0.0, 2.5, 5.0, 7.5, 10.0]
    with pytest.raises(TypeError, match="Cannot convert 1.0 to EagerTensor of dtype int32"):
        tf.linspace(0, 1.0, 3)
    assert tf.linspace(tf.constant(0.0, tf.float64), 1.0, 3).dtype == tf.float64
    np.testing.assert_array_equal(value(tf.linspace([0.0, 1.0], [1.0, 2.0], 3)), [[0.0, 1.0], [0.5, 1.5], [1.0, 2.0]])
    np.testing.assert_array_equal(value(tf.linspace([0.0, 1.0], [1.0, 2.0], 3, axis=1)),
                                  [[0.0, 0.5, 1.0], [1.0, 1.5, 2.0]])
    np.testing.assert_array_equal(value(tf.linspace(0.0, [1.0, 2.0], 3)), [[0.0, 0.0], [0.5, 1.0], [1.0, 2.0]])
    np.testing.assert_array_equal(value(tf.linspace([[0.0], [1.0]], 3.0, 4, axis=-1)),
                                  np.float32([[[0.0, 1.0, 2.0, 3.0]], [[1.0, 1.6666667461395264, 2.3333334922790527, 3.0]]]))
    np.testing.assert_array_equal(value(tf.linspace(0.0, 1.0, 7)), np.float32(
        [0.0, 0.1666666716337204, 0.3333333432674408, 0.5, 0.6666666865348816, 0.8333333730697632, 1.0]))
    assert value(tf.linspace(0.0, 1.0, 0)).shape == (0,)
    np.testing.assert_array_equal(value(tf.linspace(2.0, 5.0, 1)), [2.0])


def test_pad_reflect_and_symmetric_with_gradients():
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(value(tf.pad(x, [[1, 1], [2, 2]], "REFLECT")),
                                  [[6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1], [6, 5, 4, 5, 6, 5, 4],
                                   [3, 2, 1, 2, 3, 2, 1]])
    np.testing.assert_array_equal(value(tf.pad(x, [[1, 1], [2, 2]], "SYMMETRIC")),
                                  [[2, 1, 1, 2, 3, 3, 2], [2, 1, 1, 2, 3, 3, 2], [5, 4, 4, 5, 6, 6, 5],
                                   [5, 4, 4, 5, 6, 6, 5]])
    np.testing.assert_array_equal(value(tf.pad(tf.constant([1.0, 2.0, 3.0]), [[1, 0]], "reflect")), [2, 1, 2, 3])
    weights = tf.constant([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    for mode, expected in (("REFLECT", [10.0, 12.0, 6.0]), ("SYMMETRIC", [5.0, 12.0, 11.0])):
        v = tf.Variable([1.0, 2.0, 3.0])
        with tf.GradientTape() as tape:
            y = tf.pad(v, [[2, 2]], mode) * weights
        np.testing.assert_array_equal(value(tape.gradient(y, v)), expected)


def test_pad_second_derivative_and_errors():
    d, dd = second_derivative(
        lambda x: tf.reduce_sum(tf.pad(x, [[2, 2]], "REFLECT") ** 2 * tf.constant([1.0, 2, 3, 4, 5, 6, 7])),
        [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(value(d), [20.0, 48.0, 36.0])
    np.testing.assert_array_equal(value(dd), [20.0, 24.0, 12.0])
    raises_invalid_argument(lambda: tf.pad(tf.constant([1.0, 2.0]), [[2, 0]], "REFLECT"),
                            "paddings must be less than the dimension size: 2, 0 not less than 2")
    raises_invalid_argument(lambda: tf.pad(tf.constant([1.0, 2.0]), [[3, 0]], "SYMMETRIC"),
                            "paddings must be no greater than the dimension size: 3, 0 greater than 2")
    with pytest.raises(ValueError, match='expected to be one of "CONSTANT", "REFLECT", or "SYMMETRIC"'):
        tf.pad(tf.constant([1.0, 2.0]), [[1, 0]], "WRAP")


def test_a_missing_keras_name_gets_the_helpful_attribute_error():
    with pytest.raises(AttributeError, match=r"tf\.keras\.layers\.NoSuchLayer is not part of it"):
        tf.keras.layers.NoSuchLayer
