"""batch_jacobian's diagonal gradients (tapeviz.core.batching.DiagonalGradient) against the plain pass.

Each function's batch_jacobian is computed as it runs (element-wise rules and MatMul take the
one-hot seeds in diagonal form) and again with every diagonal rule hidden (the plain vectorized
pass, dense seeds): the numbers must be the same, and match central differences in float64. The
jacobian of a target of one row is seeded the same way and is tested the same way.
"""
import contextlib

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.core import registry
from tapeviz.core.batching import DiagonalGradient, elementwise
from tapeviz.core.errors import GradientRuleError
from tapeviz.core.plugins import PluginInfo, Registrar
from tapeviz.testing import check_gradients

H = 1e-6
W1 = np.random.default_rng(1).uniform(-1, 1, (3, 4))
W2 = np.random.default_rng(2).uniform(-1, 1, (4, 3))


def const(array, like):
    return tf.constant(array, like.dtype)


@tf.custom_gradient
def _cube(x):
    return x * x * x, lambda dy: dy * 3.0 * x * x


# Functions of a (5, 3) batch unless said otherwise. The comment says where the diagonal form ends.
FUNCTIONS = {
    # tanh, MatMul (diagonal), then dense through tanh and the second MatMul: the benchmark's shape
    "two tanh layers": (lambda x: tf.tanh(tf.tanh(x @ const(W1, x)) @ const(W2, x)), (5, 3)),
    # transpose_b, softplus, and a bias (unreachable, so it does not break the structure)
    "transpose_b and a bias": (lambda x: tf.math.softplus(tf.matmul(x, const(W2, x), transpose_b=True)
                                                          + const([0.5, -1.0, 2.0, 0.1], x)), (5, 3)),
    # same-shaped binary ops with both inputs reachable, down to the source itself
    "element-wise to the source": (lambda x: tf.exp(-x * x) * tf.sin(x) + x / (2.0 + tf.cos(x)), (5, 3)),
    # a reachable input that broadcasts: the Add declines, the pass goes on dense
    "broadcasting reachable input": (lambda x: tf.tanh(x @ const(W1, x) + tf.reduce_sum(x, axis=1, keepdims=True)),
                                     (5, 3)),
    # MatMul whose both operands are reachable, and one with transpose_a: MatMul declines
    "both operands reachable": (lambda x: tf.sigmoid(x @ tf.transpose(x)), (4, 3)),
    "transpose_a": (lambda x: tf.tanh(tf.matmul(tf.transpose(x), const(W1, x), transpose_a=True)), (5, 3)),
    # rank 3 target and source, element-wise all the way
    "rank 3": (lambda x: tf.nn.elu(x) * tf.tanh(x) - x ** 3, (2, 3, 2)),
    # rank 3 target from a rank 2 source: a reshape that keeps the batch axis stays diagonal
    "rank 3 by reshape": (lambda x: tf.sin(tf.reshape(x @ const(W1, x), [5, 2, 2])), (5, 3)),
    # a reshape that moves positions across batch rows declines
    "reshape across rows": (lambda x: tf.reshape(tf.sin(tf.reshape(x @ const(W1, x), [10, 2])), [5, 4]), (5, 3)),
    # a custom gradient (never diagonal) under the MatMul
    "custom gradient": (lambda x: tf.tanh(_cube(x) @ const(W1, x)), (5, 3)),
}


@contextlib.contextmanager
def plain_pass():
    """Every diagonal rule hidden: batch_jacobian's seeds go dense into the first rule, as before."""
    saved = dict(registry.diagonal_rules)
    registry.diagonal_rules.clear()
    try:
        yield
    finally:
        registry.diagonal_rules.update(saved)


def batch_jacobian(fn, x, **options):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.batch_jacobian(y, x, **options)


def numeric_batch_jacobian(fn, x):
    x = np.asarray(x, np.float64)
    y = fn(tf.constant(x)).numpy()
    out = np.zeros(y.shape + x.shape[1:])
    for j in np.ndindex(*x.shape[1:]):
        step = np.zeros_like(x)
        step[(slice(None),) + j] = H  # rows are independent: one step moves every row at once
        difference = (fn(tf.constant(x + step)).numpy() - fn(tf.constant(x - step)).numpy()) / (2 * H)
        out[(Ellipsis,) + j] = difference
    return out


def point(shape, dtype, seed=3):
    return np.random.default_rng(seed).uniform(-1.2, 1.2, size=shape).astype(dtype)


ROW_INDEPENDENT = [name for name in FUNCTIONS if name != "both operands reachable"]


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"parallel_iterations": 2}, {"parallel_iterations": 5}])
def test_the_diagonal_pass_gives_the_plain_pass_numbers(name, dtype, options):
    fn, shape = FUNCTIONS[name]
    x = tf.constant(point(shape, dtype))
    structured = batch_jacobian(fn, x, **options).numpy()
    with plain_pass():
        plain = batch_jacobian(fn, x, **options).numpy()
    np.testing.assert_allclose(structured, plain, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    assert structured.dtype == dtype and structured.shape == plain.shape


@pytest.mark.parametrize("name", ROW_INDEPENDENT)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_diagonal_pass_matches_finite_differences(name, dtype):
    fn, shape = FUNCTIONS[name]
    x = tf.constant(point(shape, dtype))
    tolerance = dict(rtol=1e-6, atol=1e-7) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(batch_jacobian(fn, x).numpy(), numeric_batch_jacobian(fn, x.numpy()), **tolerance)
    np.testing.assert_allclose(batch_jacobian(fn, x, experimental_use_pfor=False).numpy(),
                               numeric_batch_jacobian(fn, x.numpy()), **tolerance)


def test_matmul_and_tanh_take_the_diagonal_form():
    calls = []

    def spy(op_type):
        rule = registry.diagonal_rules[op_type]

        def spied(op, grad):
            result = rule(op, grad)
            calls.append((op_type, result is not NotImplemented))
            return result
        return spied

    saved = dict(registry.diagonal_rules)
    registry.diagonal_rules.update({op_type: spy(op_type) for op_type in ("MatMul", "Tanh")})
    try:
        batch_jacobian(FUNCTIONS["two tanh layers"][0], tf.constant(point((5, 3), np.float32)))
    finally:
        registry.diagonal_rules.update(saved)
    # the last tanh and the last MatMul see the diagonal seed; the first tanh a dense gradient
    assert calls == [("Tanh", True), ("MatMul", True)]


def test_experimental_use_pfor_false_never_calls_a_diagonal_rule():
    def refuse(op, grad):
        raise AssertionError("a diagonal rule ran in a pass that is not vectorized")

    saved = dict(registry.diagonal_rules)
    registry.diagonal_rules.update({op_type: refuse for op_type in saved})
    try:
        fn = FUNCTIONS["two tanh layers"][0]
        x = tf.constant(point((5, 3), np.float64))
        np.testing.assert_allclose(batch_jacobian(fn, x, experimental_use_pfor=False).numpy(),
                                   numeric_batch_jacobian(fn, x.numpy()), rtol=1e-6, atol=1e-7)
    finally:
        registry.diagonal_rules.update(saved)


def test_a_plugin_rule_without_batch_support_after_the_seed():
    softclip = pytest.importorskip("tapeviz_softclip").softclip
    assert "SoftClip" not in registry.diagonal_rules and "SoftClip" not in registry.batch_aware

    def fn(x):
        return softclip(tf.tanh(x) @ const(W1, x), low=-1.0, high=1.0)

    x = tf.constant(point((5, 3), np.float64))
    with plain_pass():
        plain = batch_jacobian(fn, x).numpy()
    np.testing.assert_array_equal(batch_jacobian(fn, x).numpy(), plain)
    np.testing.assert_allclose(plain, numeric_batch_jacobian(fn, x.numpy()), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("unconnected", ["none", "zero"])
def test_an_unconnected_source_still_gives_zeros(unconnected):
    x, z = tf.constant(point((3, 2), np.float32)), tf.constant(point((3, 2), np.float32, seed=4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = tf.tanh(x @ tf.constant(W1[:2], tf.float32))
    np.testing.assert_array_equal(tape.batch_jacobian(y, z, unconnected_gradients=unconnected).numpy(),
                                  np.zeros((3, 4, 2)))


def test_a_diagonal_gradient_reaching_the_source_is_the_callers_own_array():
    x = tf.constant(point((2, 3), np.float64))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.sin(x)
    result = tape.batch_jacobian(y, x).numpy()
    np.testing.assert_allclose(result, np.stack([np.diag(np.cos(row)) for row in x.numpy()]), rtol=1e-15)
    result[0, 0, 0] = 5.0  # writable, as TF's .numpy() gives


def test_higher_orders_through_the_diagonal_pass():
    # an outer tape differentiates the batch_jacobian: the diagonal rules' ops are recorded
    fn = FUNCTIONS["two tanh layers"][0]
    weights = tf.constant(np.random.default_rng(9).standard_normal((5, 3, 3)))

    def weighted_jacobian(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            total = tf.reduce_sum(batch_jacobian(fn, x) * weights)
        return total, outer.gradient(total, x)

    x = point((5, 3), np.float64)
    total, structured = weighted_jacobian(tf.constant(x))
    with plain_pass():
        _, plain = weighted_jacobian(tf.constant(x))
    np.testing.assert_allclose(structured.numpy(), plain.numpy(), rtol=1e-13, atol=1e-15)
    numeric = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[i] = H
        numeric[i] = (weighted_jacobian(tf.constant(x + step))[0].numpy()
                      - weighted_jacobian(tf.constant(x - step))[0].numpy()) / (2 * H)
    np.testing.assert_allclose(structured.numpy(), numeric, rtol=1e-6, atol=1e-7)


# ---- registering diagonal rules -----------------------------------------------------------------
def _forget(op_type):
    for table in (registry.registrations, registry.gradient_functions, registry.forward_functions,
                  registry.op_definitions, registry.diagonal_rules):
        table.pop(op_type, None)
    registry.batch_aware.discard(op_type)


def _double(op, g):
    return g * 2.0


def test_register_refuses_a_diagonal_rule_without_batched_or_not_callable():
    registrar = Registrar("test-diagonal")
    with pytest.raises(TypeError, match="batched=True"):
        registrar("DiagonalTwice", _double, diagonal=elementwise(_double))
    with pytest.raises(TypeError, match="must be a function"):
        registrar("DiagonalTwice", _double, batched=True, diagonal="elementwise")


def test_an_override_without_a_diagonal_rule_drops_the_old_one():
    first = Registrar("test-diagonal-first")
    first.op("DiagonalTwice", lambda x: 2 * x, checks=[])
    first("DiagonalTwice", _double, batched=True, diagonal=elementwise(_double))
    first.commit(PluginInfo("test-diagonal-first", "", "test"))
    try:
        assert "DiagonalTwice" in registry.diagonal_rules
        second = Registrar("test-diagonal-second")
        second("DiagonalTwice", lambda op, g: g * 2.0, batched=True, override=True)
        second.commit(PluginInfo("test-diagonal-second", "", "test"))
        assert "DiagonalTwice" not in registry.diagonal_rules  # the new rule may not be element-wise
        assert "DiagonalTwice" in registry.batch_aware
    finally:
        _forget("DiagonalTwice")


def test_a_wrong_diagonal_rule_is_caught_by_the_pass_and_by_the_check():
    def wrong_rows(op, grad):  # claims the gradient stays diagonal, with one row too few
        return (DiagonalGradient(grad.values * 2.0, grad.start, grad.stop - 1),)

    def wrong_numbers(op, grad):  # diagonal, but not the rule's numbers
        return (grad.with_values(grad.values * 3.0),)

    x = tf.constant(point((3, 2), np.float64))
    for bad, error in ((wrong_rows, "diagonal gradient"), (wrong_numbers, None)):
        registrar = Registrar("test-bad-diagonal")
        registrar.op("BadDiagonal", lambda v: 2 * v, _double, checks=[
            tf.CheckCase(lambda v: tf.raw_ops.BadDiagonal(v), (point((3, 2), np.float64),))])
        registrar.staged[-1][0].batched = True
        registrar.staged[-1][0].diagonal = bad
        registrar.commit(PluginInfo("test-bad-diagonal", "", "test"))
        try:
            assert "BadDiagonal" in registry.diagonal_rules
            if error:
                with pytest.raises(GradientRuleError, match=error):
                    batch_jacobian(lambda v: tf.raw_ops.BadDiagonal(v), x)
            failed = [r.case for r in check_gradients(op_types=["BadDiagonal"]) if not r.passed]
            assert failed == ["case 0, diagonal"]
        finally:
            _forget("BadDiagonal")


def test_every_built_in_diagonal_rule_passes_its_check():
    registry.ensure_loaded()
    assert {"MatMul", "Tanh", "Mul", "AddV2", "Relu"} <= set(registry.diagonal_rules)
    results = [r for r in check_gradients(op_types=sorted(registry.diagonal_rules), order=1) if "diagonal" in r.case]
    assert results and [str(r) for r in results if not r.passed] == []


def test_forward_mode_over_the_diagonal_pass():
    # the accumulator computes tangents of the ops the diagonal rules run (slices, transposes, products)
    fn = FUNCTIONS["transpose_b and a bias"][0]
    x, v = point((4, 3), np.float64), np.random.default_rng(8).standard_normal((4, 3))
    primal = tf.constant(x)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(v)) as acc:
        jb = batch_jacobian(fn, primal)
    expected = (batch_jacobian(fn, tf.constant(x + H * v)).numpy()
                - batch_jacobian(fn, tf.constant(x - H * v)).numpy()) / (2 * H)
    np.testing.assert_allclose(acc.jvp(jb).numpy(), expected, rtol=1e-6, atol=1e-7)


# ---- jacobian of a target with one row: the same seeds, a batch of one ------------------------------
ONE_ROW = {
    "two tanh layers": (lambda x: tf.tanh(tf.tanh(x @ const(W1, x)) @ const(W2, x)), (1, 3)),
    "rank 3 target by reshape": (lambda x: tf.sin(tf.reshape(x @ const(W1, x), [1, 2, 2])) * 2.0, (1, 3)),
    "rank 1 source": (lambda x: tf.exp(tf.reshape(x, [1, 4])) * tf.reshape(x, [1, 4]), (4,)),
    "both operands reachable": (lambda x: tf.tanh(tf.transpose(x) @ x)[:1], (2, 3)),
}


def jacobian(fn, x, **options):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.jacobian(y, x, **options)


def numeric_jacobian(fn, x):
    x = np.asarray(x, np.float64)
    y = fn(tf.constant(x)).numpy()
    out = np.zeros(y.shape + x.shape)
    for j in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[j] = H
        out[(Ellipsis,) + j] = (fn(tf.constant(x + step)).numpy() - fn(tf.constant(x - step)).numpy()) / (2 * H)
    return out


@pytest.mark.parametrize("name", ONE_ROW)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"parallel_iterations": 3}, {"experimental_use_pfor": False}])
def test_jacobian_of_one_row_matches_the_plain_pass_and_finite_differences(name, dtype, options):
    fn, shape = ONE_ROW[name]
    x = tf.constant(point(shape, dtype))
    structured = jacobian(fn, x, **options).numpy()
    with plain_pass():
        plain = jacobian(fn, x, **options).numpy()
    np.testing.assert_allclose(structured, plain, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    tolerance = dict(rtol=1e-6, atol=1e-7) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(structured, numeric_jacobian(fn, x.numpy()), **tolerance)


def test_jacobian_of_one_row_keeps_none_for_an_unconnected_source():
    x, z = tf.constant(point((1, 3), np.float32)), tf.constant(point((1, 3), np.float32, seed=4))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = tf.tanh(x @ tf.constant(W1, tf.float32))
    assert tape.jacobian(y, z) is None  # TF 2.21: None under UnconnectedGradients.NONE
    np.testing.assert_array_equal(tape.jacobian(y, z, unconnected_gradients="zero").numpy(), np.zeros((1, 4, 1, 3)))


def test_register_gradient_takes_a_diagonal_rule():
    first = Registrar("test-diagonal-op")
    first.op("ScriptTwice", lambda v: 2 * v)
    first.commit(PluginInfo("test-diagonal-op", "", "test"))
    try:
        @tf.RegisterGradient("ScriptTwice", batched=True, diagonal=elementwise(_double))
        def _rule(op, g):
            return g * 2.0

        assert "ScriptTwice" in registry.diagonal_rules
        x = tf.constant(point((2, 3), np.float64))
        np.testing.assert_array_equal(batch_jacobian(lambda v: tf.raw_ops.ScriptTwice(v), x).numpy(),
                                      np.stack([2.0 * np.eye(3)] * 2))
    finally:
        _forget("ScriptTwice")
