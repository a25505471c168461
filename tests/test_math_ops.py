"""Math, comparison, logic and activation ops: forward values against numpy, TF's dtype rules and
operators, and the gradient conventions TF chose at kinks and ties."""
import math

import numpy as np
import pytest

import tapeviz as tf

X = np.array([[-1.5, -0.3, 0.4], [0.9, 1.7, 2.2]], np.float32)
POSITIVE = np.array([0.3, 0.9, 1.6, 2.5], np.float32)
UNIT = np.array([-0.7, -0.1, 0.2, 0.6], np.float32)


@pytest.mark.parametrize("fn, reference, data", [
    (tf.negative, np.negative, X), (tf.abs, np.abs, X), (tf.sign, np.sign, X), (tf.square, np.square, X),
    (tf.math.reciprocal, np.reciprocal, POSITIVE), (tf.exp, np.exp, X), (tf.math.log, np.log, POSITIVE),
    (tf.math.log1p, np.log1p, POSITIVE), (tf.math.expm1, np.expm1, X), (tf.sqrt, np.sqrt, POSITIVE),
    (tf.math.rsqrt, lambda x: 1 / np.sqrt(x), POSITIVE), (tf.sin, np.sin, X), (tf.cos, np.cos, X),
    (tf.tan, np.tan, UNIT), (tf.tanh, np.tanh, X), (tf.sinh, np.sinh, X), (tf.cosh, np.cosh, X),
    (tf.asin, np.arcsin, UNIT), (tf.acos, np.arccos, UNIT), (tf.atan, np.arctan, X),
    (tf.sigmoid, lambda x: 1 / (1 + np.exp(-x)), X), (tf.math.softplus, lambda x: np.log1p(np.exp(x)), X),
    (tf.math.erf, np.vectorize(math.erf), X), (tf.floor, np.floor, X), (tf.math.ceil, np.ceil, X),
])
def test_unary_forward_matches_numpy(fn, reference, data):
    result = fn(tf.constant(data))
    assert result.dtype == tf.float32
    np.testing.assert_allclose(result.numpy(), reference(data.astype(np.float64)), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("fn, reference", [
    (tf.add, np.add), (tf.subtract, np.subtract), (tf.multiply, np.multiply), (tf.divide, np.divide),
    (tf.maximum, np.maximum), (tf.minimum, np.minimum), (tf.pow, np.power),
    (tf.math.squared_difference, lambda x, y: (x - y) ** 2), (tf.math.floormod, np.mod),
    (tf.math.floordiv, np.floor_divide),
])
def test_binary_forward_broadcasts_like_numpy(fn, reference):
    x, y = np.abs(X) + 0.5, np.array([0.7, 1.3, 2.0], np.float32)
    np.testing.assert_allclose(fn(tf.constant(x), tf.constant(y)).numpy(), reference(x, y), rtol=1e-6)


def test_erf_is_exact_in_float64_and_within_two_ulp_in_float32():
    xs = np.linspace(-5, 5, 2001)
    exact = np.array([math.erf(v) for v in xs])
    assert np.array_equal(tf.math.erf(tf.constant(xs)).numpy(), exact)
    single = tf.math.erf(tf.constant(xs.astype(np.float32))).numpy()
    assert np.all(np.abs(single - exact) <= 2 * np.spacing(np.abs(exact).astype(np.float32)))


def test_sigmoid_and_softplus_do_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        s = tf.sigmoid(tf.constant([-200.0, 0.0, 200.0])).numpy()
        p = tf.math.softplus(tf.constant([-200.0, 200.0])).numpy()
    assert s[0] == 0.0 and s[1] == 0.5 and s[2] == 1.0
    assert p[1] == 200.0


def test_round_is_half_to_even_and_leaves_integers():
    assert tf.round(tf.constant([0.5, 1.5, 2.5, -0.5, -1.5])).numpy().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    ints = tf.constant([1, 2])
    assert tf.round(ints) is ints


# Dtype rules --------------------------------------------------------------------------------------------
def test_python_scalars_take_the_tensors_dtype():
    assert (tf.constant([1.0, 2.0]) * 2).dtype == tf.float32
    assert (2.5 - tf.constant(1.0, dtype=tf.float64)).dtype == tf.float64
    assert (tf.constant([1, 2]) + 3).dtype == tf.int32
    assert (tf.constant([1.0]) * np.float64(2.0)).dtype == tf.float32


def test_integer_division_gives_float64_and_floor_division_stays_integer():
    result = tf.constant(3) / tf.constant(2)
    assert result.dtype == tf.float64 and result.numpy() == 1.5
    assert (tf.constant(7) // tf.constant(2)).numpy() == 3
    assert (tf.constant(7) // 2).dtype == tf.int32


def test_modulo_takes_the_divisors_sign():
    assert (tf.constant(-7.0) % 3.0).numpy() == 2.0
    assert (tf.constant(7.0) % -3.0).numpy() == -2.0


def test_float_plus_int_tensor_raises_tfs_message():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"cannot compute AddV2 as input #1\(zero-based\) was "
                                                             r"expected to be a float tensor but is a int32 tensor"):
        tf.constant(1.0) + tf.constant(1)


def test_int_tensor_times_fraction_raises():
    with pytest.raises(TypeError, match="Cannot convert 2.5 to EagerTensor of dtype int32"):
        tf.constant(1) * 2.5


@pytest.mark.parametrize("fn", [tf.sin, tf.exp, tf.math.log, tf.sqrt, tf.sigmoid, tf.tanh, tf.nn.softmax,
                                tf.nn.elu, tf.nn.gelu])
def test_float_only_ops_refuse_integers(fn):
    with pytest.raises(tf.errors.InvalidArgumentError, match="cast"):  # TF: InvalidArgumentError
        fn(tf.constant([1, 2]))


# Comparisons, logic and truth values ------------------------------------------------------------------
def test_comparisons_give_bool_tensors():
    x = tf.constant([1.0, 2.0, 3.0])
    for result, expected in [(x < 2.0, [True, False, False]), (x <= 2.0, [True, True, False]),
                             (x > 2.0, [False, False, True]), (x >= 2.0, [False, True, True]),
                             (x == 2.0, [False, True, False]), (x != 2.0, [True, False, True]),
                             (2.0 < x, [False, False, True]), (tf.math.equal(x, x), [True] * 3)]:
        assert result.dtype == tf.bool
        assert result.numpy().tolist() == expected


def test_comparing_with_none_or_an_unbroadcastable_shape_gives_a_plain_answer():
    x = tf.constant([1.0, 2.0])
    assert (x == None) is False  # noqa: E711 - the point of the test
    assert (x != None) is True  # noqa: E711
    assert bool(x == tf.constant([1.0, 2.0, 3.0])) is False
    assert bool(x != tf.constant([1.0, 2.0, 3.0])) is True


def test_scalar_comparison_drives_python_control_flow():
    x = tf.Variable(2.0)
    taken = "positive" if x > 0.0 else "not"
    assert taken == "positive"
    assert bool(tf.constant(2.0) % 2 == 0) is True


def test_truth_value_of_a_vector_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tf.constant([1.0, -1.0]) > 0.0)


def test_logical_ops_and_bool_operators():
    a, b = tf.constant([True, True, False, False]), tf.constant([True, False, True, False])
    assert (a & b).numpy().tolist() == [True, False, False, False]
    assert (a | b).numpy().tolist() == [True, True, True, False]
    assert (a ^ b).numpy().tolist() == [False, True, True, False]
    assert (~a).numpy().tolist() == [False, False, True, True]
    assert tf.math.logical_xor(a, b).numpy().tolist() == [False, True, True, False]
    assert (tf.constant(6) & 3).numpy() == 2
    with pytest.raises(TypeError, match="bool"):
        tf.logical_and(tf.constant([1.0]), tf.constant([0.0]))


# Activations --------------------------------------------------------------------------------------------
def test_activation_values():
    x = np.array([-2.0, -0.5, 0.5, 3.0, 7.0], np.float32)
    t = tf.constant(x)
    np.testing.assert_allclose(tf.nn.relu(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(tf.nn.relu6(t).numpy(), np.clip(x, 0, 6))
    np.testing.assert_allclose(tf.nn.elu(t).numpy(), np.where(x > 0, x, np.expm1(x)), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.leaky_relu(t).numpy(), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
    selu = 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x))
    np.testing.assert_allclose(tf.nn.selu(t).numpy(), selu, rtol=1e-6)
    exact = x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(tf.nn.gelu(t).numpy(), exact, rtol=1e-6, atol=1e-7)
    approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(tf.nn.gelu(t, approximate=True).numpy(), approx, rtol=1e-6, atol=1e-7)


def test_softmax_and_log_softmax_are_stable_along_any_axis():
    logits = tf.constant([[1000.0, 1001.0], [-5.0, 5.0]])
    soft = tf.nn.softmax(logits)
    np.testing.assert_allclose(soft.numpy().sum(axis=-1), [1.0, 1.0], rtol=1e-6)
    shifted = logits.numpy().astype(np.float64) - [[1001.0], [5.0]]
    exact = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(tf.nn.log_softmax(logits).numpy(), exact, atol=1e-7)  # TF loses digits as here
    np.testing.assert_allclose(tf.nn.softmax(logits, axis=0).numpy().sum(axis=0), [1.0, 1.0], rtol=1e-6)


def test_namespaces():
    assert tf.math.reduce_sum(tf.constant([1.0, 2.0])).numpy() == 3.0
    assert tf.math.argmax(tf.constant([1.0, 3.0, 2.0])).numpy() == 1
    assert tf.nn.sigmoid is tf.sigmoid and tf.nn.tanh is tf.tanh and tf.nn.softplus is tf.math.softplus
    assert not hasattr(tf, "log") and not hasattr(tf, "erf")  # tf.math only, as in TF 2


# Gradient conventions -------------------------------------------------------------------------------
def _grad(fn, *values):
    xs = [tf.Variable(v) for v in values]
    with tf.GradientTape() as tape:
        y = fn(*xs)
    return [None if g is None else g.numpy() for g in tape.gradient(y, xs)]


def test_maximum_ties_go_to_x_and_minimum_ties_too():
    gx, gy = _grad(tf.maximum, [1.0, 2.0, 3.0], [1.0, 1.0, 4.0])
    assert gx.tolist() == [1.0, 1.0, 0.0] and gy.tolist() == [0.0, 0.0, 1.0]
    gx, gy = _grad(tf.minimum, [1.0, 2.0, 3.0], [1.0, 1.0, 4.0])
    assert gx.tolist() == [1.0, 0.0, 1.0] and gy.tolist() == [0.0, 1.0, 0.0]


def test_relu_abs_and_sign_at_zero():
    assert _grad(tf.nn.relu, [0.0, 2.0])[0].tolist() == [0.0, 1.0]
    assert _grad(tf.abs, [0.0, -2.0])[0].tolist() == [0.0, -1.0]
    assert _grad(tf.sign, [0.5, -2.0])[0].tolist() == [0.0, 0.0]
    assert _grad(tf.nn.leaky_relu, [0.0, -1.0])[0].tolist() == pytest.approx([0.2, 0.2])


def test_pow_exponent_gradient_uses_log_only_where_x_is_positive():
    gx, gy = _grad(tf.pow, [0.0, 2.0], [2.0, 3.0])
    assert gx.tolist() == [0.0, 12.0]
    assert gy[0] == 0.0 and gy[1] == pytest.approx(8.0 * math.log(2.0))


@pytest.mark.parametrize("fn", [tf.round, tf.floor, lambda x: tf.cast(x > 0.0, tf.float32),
                                lambda x: x // 1.0])
def test_piecewise_constant_ops_give_none(fn):
    assert _grad(fn, [0.4, 1.6])[0] is None


def test_second_derivative_of_sigmoid_and_tanh():
    x = tf.Variable(0.5)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.sigmoid(x) + tf.tanh(x)
        dy = inner.gradient(y, x)
    s, t = 1 / (1 + math.exp(-0.5)), math.tanh(0.5)
    assert outer.gradient(dy, x).numpy() == pytest.approx(s * (1 - s) * (1 - 2 * s) - 2 * t * (1 - t * t), rel=1e-6)


def test_special_values_are_silent_as_in_tf_but_user_numpy_still_warns():
    # -W error turns any warning into a failure: tapeviz's ops (and their gradients) must raise none
    # for log(0), 0/0 and float32 overflow, while the user's own numpy call keeps numpy's warning.
    import subprocess
    import sys
    script = (
        "import numpy as np, tapeviz as tf\n"
        "x = tf.constant([0.0, 1.0])\n"
        "with tf.GradientTape() as tape:\n"
        "    tape.watch(x)\n"
        "    y = tf.math.log(x) + tf.exp(x * 100.0) + x / tf.constant([0.0, 0.0])\n"
        "print(y.numpy().tolist(), tape.gradient(y, x).numpy().tolist())\n"
        "try:\n"
        "    np.log(np.float32(0))\n"
        "except RuntimeWarning as warning:\n"
        "    print('user warning:', warning)\n"
    )
    run = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # log(0) + exp(0) + 0/0 is nan and log(1) + exp(100) + 1/0 is inf; both gradients hold a 1/0, so inf.
    assert run.stdout.splitlines()[0] == "[nan, inf] [inf, inf]"
    assert "user warning: divide by zero encountered in log" in run.stdout


@pytest.mark.parametrize("shape, axis, keepdims", [((43264, 32), 0, False), ((4, 5, 6), (0, 1), True),
                                                     ((4, 5, 6), (-3,), False), ((0, 3), 0, False),
                                                     ((7, 0), 0, True), ((3, 4), (1, 0), False)])
def test_summing_leading_axes_matches_numpy_in_value_shape_and_special_values(shape, axis, keepdims):
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(shape).astype(dtype)
        if x.size:
            x.flat[0], x.flat[-1] = np.nan, np.inf
        got = tf.reduce_sum(tf.constant(x), axis=axis, keepdims=keepdims).numpy()
        want = np.sum(x.astype(np.float64), axis=axis, keepdims=keepdims)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-3)
