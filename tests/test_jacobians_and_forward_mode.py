"""jacobian, batch_jacobian, Hessians and forward mode (ForwardAccumulator) against finite differences.

Every expected value is a central difference of the same function evaluated in float64 (float32
results are compared at float32 precision); TF's observed behaviour for unconnected sources is
written in as facts (TensorFlow 2.21).
"""
import numpy as np
import pytest

import tapeviz as tf
from tapeviz.core import registry
from tapeviz.core.errors import GradientRuleError
from tapeviz.core.plugins import PluginInfo, Registrar
from tapeviz.testing import check_gradients

H = 1e-6


def rng(seed=0):
    return np.random.default_rng(seed)


# Functions of one tensor, with the shapes they are checked at: ranks 0 to 3, broadcasting inside.
FUNCTIONS = {
    "rank 0 to rank 0": (lambda x: tf.sin(x) * x, ()),
    "rank 1 broadcast to rank 2": (lambda x: tf.tanh(x[:, None] * tf.constant(np.linspace(-1, 1, 4), x.dtype)), (3,)),
    "rank 2 matmul and reduce": (lambda x: tf.reduce_sum(tf.tanh(x @ tf.transpose(x)), axis=0), (2, 3)),
    "rank 3 softmax and slice": (lambda x: tf.nn.softmax(x, axis=1)[:, 1:] * tf.exp(-x[:, :2] ** 2), (2, 3, 2)),
    "rank 2 to rank 0": (lambda x: tf.reduce_sum(tf.sigmoid(x) * tf.reverse(x, [1])), (2, 2)),
}


def numeric_jacobian(fn, x):
    """d fn(x)[i...] / d x[j...] by central differences, in float64."""
    x = np.asarray(x, np.float64)
    y_shape = np.shape(fn(tf.constant(x)).numpy())
    out = np.zeros(y_shape + x.shape)
    for j in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[j] = H
        up, down = fn(tf.constant(x + step)).numpy(), fn(tf.constant(x - step)).numpy()
        out[(Ellipsis,) + j] = (up - down) / (2 * H)
    return out


def assert_close(actual, expected, dtype):
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, **tolerance)


def point(shape, dtype, seed=0):
    return rng(seed).uniform(-1.5, 1.5, size=shape).astype(dtype)


# ---- jacobian ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"experimental_use_pfor": False}, {"parallel_iterations": 2}])
def test_jacobian_matches_finite_differences(name, dtype, options):
    fn, shape = FUNCTIONS[name]
    x = tf.constant(point(shape, dtype))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    j = tape.jacobian(y, x, **options)
    assert j.dtype == x.dtype and j.shape == tuple(y.shape) + tuple(x.shape)
    assert_close(j.numpy(), numeric_jacobian(fn, x.numpy()), dtype)


def test_jacobian_of_several_sources_and_an_unconnected_one_as_tensorflow():
    x, z = tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 2.0
    jx, jz = tape.jacobian(y, [x, z])
    np.testing.assert_array_equal(jx.numpy(), 2.0 * np.eye(4).reshape(2, 2, 2, 2))
    assert jz is None  # TF 2.21: None under UnconnectedGradients.NONE
    zeros = tape.jacobian(y, z, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    np.testing.assert_array_equal(zeros.numpy(), np.zeros((2, 2, 2, 2)))
    assert tape.jacobian(tf.constant([[1.0, 1.0], [2.0, 2.0]]), x) is None  # a target off the tape: None in TF


def test_jacobian_through_a_custom_gradient_and_a_plugin_rule_without_batch_support():
    softclip = pytest.importorskip("tapeviz_softclip").softclip
    assert "SoftClip" not in registry.batch_aware  # a third-party rule that does not declare batched=True

    @tf.custom_gradient
    def cube(x):
        return x * x * x, lambda dy: dy * 3.0 * x * x

    def fn(x):
        return softclip(cube(x) @ tf.constant([[1.0, -0.5], [0.25, 2.0]], tf.float64), low=-1.0, high=1.0)

    x = tf.constant(point((3, 2), np.float64, seed=4) * 0.8)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = fn(x)
    expected = numeric_jacobian(fn, x.numpy())
    assert_close(tape.jacobian(y, x).numpy(), expected, np.float64)
    assert_close(tape.jacobian(y, x, experimental_use_pfor=False).numpy(), expected, np.float64)
    assert_close(tape.batch_jacobian(y, x).numpy(), np.stack([expected[b, :, b] for b in range(3)]), np.float64)


def test_parallel_iterations_must_be_a_positive_int():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(ValueError, match="parallel_iterations"):
        tape.jacobian(y, x, parallel_iterations=0)


# ---- batch_jacobian ---------------------------------------------------------------------------
BATCHED = {
    "rank 2 to rank 2": (lambda x: tf.tanh(x @ tf.constant([[1.0, 0.5, -1.0], [0.3, -0.2, 0.8]], x.dtype)), (4, 2)),
    "rank 3 to rank 2": (lambda x: tf.reduce_sum(tf.exp(-x * x), axis=2) * tf.constant([1.0, 2.0, 3.0], x.dtype),
                         (2, 3, 2)),
    "rank 2 to rank 3": (lambda x: tf.sin(x[:, :, None] * x[:, None, :]), (3, 2)),
}


@pytest.mark.parametrize("name", BATCHED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"experimental_use_pfor": False}, {"parallel_iterations": 1}])
def test_batch_jacobian_matches_finite_differences(name, dtype, options):
    fn, shape = BATCHED[name]
    x = tf.constant(point(shape, dtype, seed=2))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    jb = tape.batch_jacobian(y, x, **options)
    full = numeric_jacobian(fn, x.numpy())  # (batch, y..., batch, x...)
    expected = np.stack([full[(b,) + (slice(None),) * (y.ndim - 1) + (b,)] for b in range(shape[0])])
    assert jb.shape == tuple(y.shape) + tuple(x.shape[1:])
    assert_close(jb.numpy(), expected, dtype)


@pytest.mark.parametrize("unconnected", ["none", "zero"])
@pytest.mark.parametrize("pfor", [True, False])
def test_batch_jacobian_gives_zeros_for_an_unconnected_source_even_under_none(unconnected, pfor):
    # TF 2.21: zeros of shape target.shape + source.shape[1:] in every one of these cases.
    x, z, unwatched = (tf.constant([[1.0, 2.0], [3.0, 4.0]]) for _ in range(3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 2.0
    for target, source in [(y, z), (y, unwatched), (tf.constant([[1.0, 1.0], [2.0, 2.0]]), x)]:
        result = tape.batch_jacobian(target, source, unconnected_gradients=unconnected, experimental_use_pfor=pfor)
        np.testing.assert_array_equal(result.numpy(), np.zeros((2, 2, 2)))


# ---- Hessians ---------------------------------------------------------------------------------
def numeric_hessian(fn, x, h=1e-4):
    x = np.asarray(x, np.float64)
    n = x.size
    out = np.zeros((n, n))

    def f(v):
        return float(fn(tf.constant(v.reshape(x.shape))).numpy())

    flat = x.reshape(-1)
    for i in range(n):
        for j in range(n):
            def moved(a, b):
                v = flat.copy()
                v[i] += a
                v[j] += b
                return f(v)
            out[i, j] = (moved(h, h) - moved(h, -h) - moved(-h, h) + moved(-h, -h)) / (4 * h * h)
    return out.reshape(x.shape + x.shape)


SCALARS = {
    "rank 0": (lambda x: tf.sin(x) * x ** 3, ()),
    "rank 1": (lambda x: tf.reduce_sum(tf.tanh(x) * tf.reverse(x, [0])) + tf.reduce_prod(x), (3,)),
    "rank 2, matmul": (lambda x: tf.reduce_sum(tf.tanh(tf.tanh(x @ tf.constant([[0.5, -1.0], [1.5, 0.2]], x.dtype))
                                                       @ tf.constant([[1.0, 0.3], [-0.4, 0.8]], x.dtype))), (1, 2)),
    "rank 3, broadcast": (lambda x: tf.reduce_mean(tf.nn.log_softmax(x, axis=-1) * (x + tf.constant([1.0, 2.0],
                                                                                                   x.dtype))), (2, 1, 2)),
}


@pytest.mark.parametrize("name", SCALARS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hessian_by_nested_tapes_matches_finite_differences(name, dtype):
    fn, shape = SCALARS[name]
    x = tf.constant(point(shape, dtype, seed=5))
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = fn(x)
        g = inner.gradient(y, x)
    hessian = outer.jacobian(g, x)
    expected = numeric_hessian(fn, x.numpy().astype(np.float64))
    tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == np.float64 else dict(rtol=3e-3, atol=3e-3)
    np.testing.assert_allclose(hessian.numpy(), expected, **tolerance)


def test_hessian_of_a_jacobian_by_a_persistent_outer_tape():
    x = tf.constant([0.3, -0.7], tf.float64)
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.sin(x) * tf.reverse(x, [0])
        j = inner.jacobian(y, x)  # recorded by the outer tape, so it can be differentiated again
    second = outer.jacobian(j, x)
    expected = np.stack([numeric_hessian(lambda v, k=k: (tf.sin(v) * tf.reverse(v, [0]))[k], x.numpy())
                         for k in range(2)])
    np.testing.assert_allclose(second.numpy(), expected, rtol=1e-5, atol=1e-5)


# Scalar functions through the op families whose rules take a vectorized pass's gradients: the
# Hessian's jacobian runs the rules of the ops their first gradient recorded (Conv2D's backprops,
# MaxPoolGrad, the cross-entropies' second output, ...) with a leading batch dimension.
_CONV_W = point((2, 2, 2, 3), np.float64, seed=11)
_SOLVE_A = point((3, 3), np.float64, seed=12) + 3.0 * np.eye(3)
_SOLVE_B = point((2, 3, 2), np.float64, seed=13)
_LABELS = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])


def _conv_of_both(p):
    # p holds an image (1, 3, 3, 2) and a filter (2, 2, 2, 2): both backprops and their mixed terms
    x = tf.reshape(p[:18], [1, 3, 3, 2])
    w = tf.reshape(p[18:], [2, 2, 2, 2])
    return tf.reduce_sum(tf.tanh(tf.nn.conv2d(x, w, 1, "VALID")))


def _solve_inverse_determinant(a):
    # _SOLVE_B's leading dimension broadcasts against the (3, 3) matrix
    return (tf.reduce_sum(tf.sin(tf.linalg.solve(a, _SOLVE_B))) + tf.linalg.det(a)
            + tf.reduce_sum(tf.linalg.inv(a) ** 2))


NEW_OP_SCALARS = {
    "conv2d, image and filter": (_conv_of_both, (34,)),
    "conv2d SAME stride 2": (lambda x: tf.reduce_sum(tf.sin(tf.nn.conv2d(x, tf.constant(_CONV_W), 2, "SAME"))),
                             (2, 3, 4, 2)),
    "max_pool": (lambda x: tf.reduce_sum(tf.nn.max_pool2d(tf.sin(x), 2, 1, "VALID") ** 3), (2, 3, 3, 1)),
    "avg_pool SAME": (lambda x: tf.reduce_sum(tf.tanh(tf.nn.avg_pool2d(x, 2, 2, "SAME"))), (1, 3, 3, 2)),
    "softmax cross-entropy": (lambda x: tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(_LABELS, x)), (2, 3)),
    "sparse softmax cross-entropy": (lambda x: tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
        np.array([2, 0]), x) * tf.constant([1.0, 2.0], x.dtype)), (2, 3)),
    "l2_loss": (lambda x: tf.nn.l2_loss(tf.sin(x)), (2, 2)),
    "cumsum and cumprod": (lambda x: tf.reduce_sum(tf.tanh(tf.math.cumprod(x, axis=1, exclusive=True))
                                                   * tf.math.cumsum(x, axis=0, reverse=True)), (2, 3)),
    "solve, inverse, determinant": (lambda x: _solve_inverse_determinant(tf.constant(_SOLVE_A) + x), (3, 3)),
    "cholesky and diagonals": (lambda x: tf.reduce_sum(tf.linalg.diag_part(tf.linalg.cholesky(
        x @ tf.transpose(x) + tf.linalg.diag(tf.constant([3.0, 3.0, 3.0], x.dtype)))) ** 3), (3, 3)),
    "gather_nd and top_k": (lambda x: tf.reduce_sum(tf.math.top_k(tf.gather_nd(x, np.array([[1], [0], [1]])),
                                                                  2).values ** 3), (2, 4)),
    "einsum": (lambda x: tf.reduce_sum(tf.tanh(tf.einsum("ij,kj,j->i", x, x, x[0]))), (2, 3)),
}


@pytest.mark.parametrize("name", NEW_OP_SCALARS)
def test_hessian_through_new_op_families_vectorized_as_row_by_row(name):
    fn, shape = NEW_OP_SCALARS[name]
    x = tf.constant(point(shape, np.float64, seed=10))
    with tf.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = fn(x)
        g = inner.gradient(y, x)
    vectorized = outer.jacobian(g, x).numpy()
    np.testing.assert_allclose(vectorized, outer.jacobian(g, x, experimental_use_pfor=False).numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vectorized, numeric_hessian(fn, x.numpy()), rtol=1e-5, atol=1e-5)


# ---- rules that declare batched=True ------------------------------------------------------------
def _forget(op_type):
    for table in (registry.registrations, registry.gradient_functions, registry.forward_functions,
                  registry.op_definitions, registry.forward_rules, registry.forward_registrations):
        table.pop(op_type, None)
    registry.batch_aware.discard(op_type)


def test_a_rule_that_declares_batched_but_drops_the_batch_dimension_is_caught():
    registrar = Registrar("test-bad-batch")
    # Flattens and keeps the input's length: right in an ordinary pass, wrong with a leading batch dimension.
    registrar.op("Twice2", lambda x: 2 * x, lambda op, g: tf.reshape(g * 2.0, [-1])[:2],
                 checks=[tf.CheckCase(lambda x: tf.raw_ops.Twice2(x), (np.array([1.0, 2.0]),))])
    registrar.staged[-1][0].batched = True
    registrar.commit(PluginInfo("test-bad-batch", "", "test"))
    try:
        assert "Twice2" in registry.batch_aware
        x = tf.constant([1.0, 2.0])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tf.raw_ops.Twice2(x)
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 2.0])
        with pytest.raises(GradientRuleError, match="batched=True"):
            tape.jacobian(y, x)
        np.testing.assert_array_equal(tape.jacobian(y, x, experimental_use_pfor=False).numpy(), 2.0 * np.eye(2))
        failed = [r for r in check_gradients(op_types=["Twice2"]) if not r.passed]
        assert [r.case for r in failed] == ["case 0, vectorized"]
    finally:
        _forget("Twice2")


def test_register_gradient_takes_batched():
    @tf.RegisterGradient("BatchedTwice3", batched=True)
    def _rule(op, g):
        return g * 3.0
    try:
        assert "BatchedTwice3" in registry.batch_aware
    finally:
        _forget("BatchedTwice3")


# ---- forward mode -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jvp_matches_finite_differences(name, dtype):
    fn, shape = FUNCTIONS[name]
    x = point(shape, dtype, seed=6)
    v = point(shape, dtype, seed=7)
    primal = tf.constant(x)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
        y = fn(primal)
    jvp = acc.jvp(y)
    x64, v64 = x.astype(np.float64), v.astype(np.float64)
    expected = (fn(tf.constant(x64 + H * v64)).numpy() - fn(tf.constant(x64 - H * v64)).numpy()) / (2 * H)
    assert jvp.dtype == primal.dtype and jvp.shape == y.shape
    assert_close(jvp.numpy(), expected, dtype)


def test_jvp_of_several_primals_with_broadcasting():
    a, b = tf.constant(point((2, 1, 3), np.float64, 1)), tf.constant(point((4, 1), np.float64, 2))
    ta, tb = point((2, 1, 3), np.float64, 3), point((4, 1), np.float64, 4)

    def fn(a, b):
        return tf.exp(a * b) / (1.0 + b * b) - tf.maximum(a, b)

    with tf.autodiff.ForwardAccumulator([a, b], [tf.constant(ta), tf.constant(tb)]) as acc:
        y = fn(a, b)
    expected = (fn(a + H * ta, b + H * tb).numpy() - fn(a - H * ta, b - H * tb).numpy()) / (2 * H)
    np.testing.assert_allclose(acc.jvp(y).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_jvp_derived_from_a_rule_of_an_op_with_an_integer_output():
    # TopKV2 (values, int32 indices) has no forward rule: its JVP comes from its gradient rule, and its
    # integer output must not take the floating output's tangent away.
    assert "TopKV2" not in registry.forward_rules
    x = point((2, 5), np.float64, seed=8)
    v = point((2, 5), np.float64, seed=9)
    primal = tf.constant(x)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
        values, indices = tf.math.top_k(primal, 3)
        ascending = tf.sort(primal, axis=0)
    expected = (tf.math.top_k(tf.constant(x + H * v), 3).values.numpy()
                - tf.math.top_k(tf.constant(x - H * v), 3).values.numpy()) / (2 * H)
    np.testing.assert_allclose(acc.jvp(values).numpy(), expected, rtol=1e-6, atol=1e-7)
    assert np.abs(expected).min() > 0.0  # every picked value moves: a zero JVP would fail above
    assert acc.jvp(indices) is None
    expected_sorted = (np.sort(x + H * v, axis=0) - np.sort(x - H * v, axis=0)) / (2 * H)
    np.testing.assert_allclose(acc.jvp(ascending).numpy(), expected_sorted, rtol=1e-6, atol=1e-7)


def test_jvp_unconnected_and_integer_targets_as_tensorflow():
    # Observed in TF 2.21 with the same program.
    x, v = tf.constant([1.0, 2.0]), tf.constant([1.0, 0.0])
    with tf.autodiff.ForwardAccumulator(x, v) as acc:
        y = x * x
        w = tf.constant(3.0)
        q = w * 2.0
        as_int = tf.cast(x, tf.int32)
        stopped = tf.stop_gradient(x) * 2.0
    np.testing.assert_array_equal(acc.jvp(y).numpy(), [2.0, 0.0])
    assert acc.jvp(q) is None and acc.jvp(w) is None and acc.jvp(as_int) is None and acc.jvp(stopped) is None
    assert float(acc.jvp(q, unconnected_gradients=tf.UnconnectedGradients.ZERO)) == 0.0
    zero_int = acc.jvp(as_int, unconnected_gradients="zero")
    assert zero_int.dtype == tf.int32 and zero_int.numpy().tolist() == [0, 0]
    np.testing.assert_array_equal(acc.jvp(x).numpy(), [1.0, 0.0])  # a primal's tangent is its own
    first, second = acc.jvp([y, q])
    assert second is None and first.numpy().tolist() == [2.0, 0.0]


def test_forward_accumulator_watches_a_variable_and_takes_python_tangents():
    variable = tf.Variable([1.0, 2.0])
    with tf.autodiff.ForwardAccumulator(variable, tf.constant([1.0, 0.0])) as acc:
        y = variable * 3.0
    assert acc.jvp(y).numpy().tolist() == [3.0, 0.0]
    x = tf.constant(2.0)
    with tf.autodiff.ForwardAccumulator(x, 1.0) as acc:
        y = x ** 2
    assert float(acc.jvp(y)) == 4.0


def test_forward_accumulator_refuses_mismatched_tangents():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="same nested structure"):
        tf.autodiff.ForwardAccumulator([x], [x, x])
    with pytest.raises(ValueError, match="shape"):
        tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="dtype"):
        tf.autodiff.ForwardAccumulator(x, tf.constant([1, 2]))
    accumulator = tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0]))
    with accumulator:
        with pytest.raises(ValueError, match="already recording"):  # TF 2.21's message
            with accumulator:
                pass


def _cubic(x):
    return tf.reduce_sum(x ** 3 * tf.reverse(x, [0]))


def test_hessian_vector_product_forward_over_backward():
    x, v = np.array([0.5, -1.2, 0.8]), np.array([1.0, 0.3, -0.7])
    primal = tf.constant(x)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
        with tf.GradientTape() as tape:
            tape.watch(primal)
            y = _cubic(primal)
        g = tape.gradient(y, primal)
    np.testing.assert_allclose(acc.jvp(g).numpy(), numeric_hessian(_cubic, x) @ v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jvp_inside_tape", [True, False])
def test_backward_over_forward(jvp_inside_tape):
    x, v = np.array([0.5, -1.2, 0.8]), np.array([1.0, 0.3, -0.7])
    primal = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(primal)
        with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
            y = _cubic(primal)
        if jvp_inside_tape:
            jv = acc.jvp(y)
    if not jvp_inside_tape:
        jv = acc.jvp(y)  # computed while the op ran, so the tape recorded it (as in TF)
    np.testing.assert_allclose(tape.gradient(jv, primal).numpy(), numeric_hessian(_cubic, x) @ v, rtol=1e-5,
                               atol=1e-6)


def test_nested_forward_accumulators_give_second_directional_derivatives():
    x, u, v = np.array([0.5, -1.2, 0.8]), np.array([1.0, 0.0, 0.5]), np.array([0.0, 1.0, -1.0])
    primal = tf.constant(x)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(u)) as outer:
        with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as inner:
            y = _cubic(primal)
        inner_jvp = inner.jvp(y)
    np.testing.assert_allclose(float(outer.jvp(inner_jvp)), u @ numeric_hessian(_cubic, x) @ v, rtol=1e-5)


def test_a_plugin_forward_rule_is_used_and_checked():
    calls = []

    def jvp(op, t):
        calls.append(op.type)
        return t * 4.0

    registrar = Registrar("test-forward-rule")
    registrar.op("Quad", lambda x: 4 * x, lambda op, g: g * 4.0,
                 checks=[tf.CheckCase(lambda x: tf.raw_ops.Quad(x), (np.array([1.0, -2.0]),))])
    registrar.forward("Quad", jvp)
    registrar.commit(PluginInfo("test-forward-rule", "", "test"))
    try:
        x = tf.constant([1.0, 2.0])
        with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, -1.0])) as acc:
            y = tf.raw_ops.Quad(x)
        assert calls == ["Quad"] and acc.jvp(y).numpy().tolist() == [4.0, -4.0]
        results = check_gradients(op_types=["Quad"])
        assert {r.case for r in results} >= {"case 0, forward mode", "case 0, forward mode from the gradient rule"}
        assert all(r.passed for r in results)
        again = Registrar("test-forward-rule-2")
        with pytest.raises(KeyError, match="two forward-mode rules"):
            again.forward("Quad", jvp)
    finally:
        _forget("Quad")


def test_a_wrong_plugin_forward_rule_fails_the_check():
    registrar = Registrar("test-wrong-forward")
    registrar.op("Quad2", lambda x: 4 * x, lambda op, g: g * 4.0,
                 checks=[tf.CheckCase(lambda x: tf.raw_ops.Quad2(x), (np.array([1.0, -2.0]),))])
    registrar.forward("Quad2", lambda op, t: t * 3.0)
    registrar.commit(PluginInfo("test-wrong-forward", "", "test"))
    try:
        failed = [r.case for r in check_gradients(op_types=["Quad2"]) if not r.passed]
        assert failed == ["case 0, forward mode"]
    finally:
        _forget("Quad2")


def test_forward_mode_over_a_vectorized_jacobian():
    # The jacobian's vectorized rules run while the accumulator computes tangents of their ops:
    # the tangent rules must see ordinary tensors, not the pass's batch dimension.
    x, v = np.array([0.4, -0.9]), np.array([1.0, 2.0])

    def jacobian_of(x_tensor):
        with tf.GradientTape() as tape:
            tape.watch(x_tensor)
            y = tf.sin(x_tensor) * tf.pow(tf.reverse(x_tensor, [0]), 3.0)
        return tape.jacobian(y, x_tensor)

    primal = tf.constant(x)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
        j = jacobian_of(primal)
    expected = (jacobian_of(tf.constant(x + H * v)).numpy() - jacobian_of(tf.constant(x - H * v)).numpy()) / (2 * H)
    np.testing.assert_allclose(acc.jvp(j).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_every_built_in_rule_takes_a_batched_gradient():
    registry.ensure_loaded()
    built_in = [r for r in registry.registrations.values() if r.plugin.startswith("tapeviz.")]
    assert built_in and [r.op_type for r in built_in if not r.batched] == []


def test_batch_jacobian_of_a_source_by_itself_is_a_writable_identity():
    x = tf.constant(np.arange(6.0).reshape(2, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
    result = tape.batch_jacobian(x, x).numpy()
    np.testing.assert_array_equal(result, np.stack([np.eye(3)] * 2))
    result[0, 0, 0] = 5.0  # the caller's own array, as TF's .numpy() gives
