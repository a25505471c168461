"""The ops training code reaches for next (moments, cumsum, einsum, gather_nd, top_k, linalg, ...):
values and gradients match TensorFlow's.

For each case the expected outputs and the gradients of sum(output ** 2) were printed by
TensorFlow 2.21 for the same inputs (facts here, not a dependency). Rules are also checked
against finite differences at first and second order by tests/test_gradient_rules.py.
"""
import numpy as np
import pytest

import tapeviz as tf

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)
A = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]], np.float32)
B = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]], np.float32)

CASES = [
    ("moments", lambda x: list(tf.nn.moments(x, axes=[0])), X),
    ("moments_keep", lambda x: list(tf.nn.moments(x, axes=[0, 1], keepdims=True)), X),
    ("reduce_variance", lambda x: tf.math.reduce_variance(x, axis=1), X),
    ("reduce_std", lambda x: tf.math.reduce_std(x), X),
    ("cumsum", lambda x: tf.cumsum(x, axis=1), X),
    ("cumsum_excl_rev", lambda x: tf.cumsum(x, axis=0, exclusive=True, reverse=True), X),
    ("cumprod", lambda x: tf.math.cumprod(x, axis=1), X),
    ("divide_no_nan", lambda x: tf.math.divide_no_nan(x, tf.constant([[1.0, 0.0, 2.0], [0.0, 4.0, 0.5]])), X),
    ("l2_loss", lambda x: tf.nn.l2_loss(x), X),
    ("log_sigmoid", lambda x: tf.math.log_sigmoid(x * 10.0), X),
    ("silu", lambda x: tf.nn.silu(x), X),
    ("swish", lambda x: tf.nn.swish(x), X),
    ("sigmoid_xent", lambda x: tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant([[0., 1., 0.5], [1., 0., 1.]]), logits=x * 20.0), X),
    ("einsum", lambda a, b: tf.einsum("ij,jk->ik", a, b), X, B),
    ("einsum_ellipsis", lambda a: tf.einsum("...j->...", a), X),
    ("einsum_trace", lambda a: tf.einsum("ij,ij->", a, a), X),
    ("tensordot", lambda a, b: tf.tensordot(a, b, axes=1), X, B),
    ("tensordot_pairs", lambda a, b: tf.tensordot(a, b, axes=[[0], [1]]), X, np.ones((3, 2), np.float32)),
    ("gather_nd", lambda x: tf.gather_nd(x, [[0, 1], [1, 2], [0, 1]]), X),
    ("scatter_nd", lambda u: tf.scatter_nd([[0], [2], [0]], u, [3, 3]), X[:1].repeat(3, 0)),
    ("top_k", lambda x: tf.math.top_k(x, 2).values, X),
    ("sort", lambda x: tf.sort(x, axis=0, direction="DESCENDING"), X),
    ("sort_asc", lambda x: tf.sort(x), X),
    ("repeat", lambda x: tf.repeat(x, 2, axis=0), X),
    ("repeat_vec", lambda x: tf.repeat(x, [1, 0, 2], axis=1), X),
    ("repeat_flat", lambda x: tf.repeat(x, 2), X),
    ("meshgrid", lambda a, b: tf.meshgrid(a, b), np.array([1., 2., 3.], np.float32), np.array([4., 5.], np.float32)),
    ("meshgrid_ij", lambda a, b: tf.meshgrid(a, b, indexing="ij"), np.array([1., 2., 3.], np.float32), np.array([4., 5.], np.float32)),
    ("inv", lambda a: tf.linalg.inv(a), A),
    ("det", lambda a: tf.linalg.det(a), A),
    ("slogdet", lambda a: list(tf.linalg.slogdet(a)), A),
    ("solve", lambda a, b: tf.linalg.solve(a, b), A, B),
    ("diag", lambda d: tf.linalg.diag(d), X),
    ("diag_part", lambda a: tf.linalg.diag_part(a), A),
    ("trace", lambda a: tf.linalg.trace(a), A),
    ("cholesky", lambda a: tf.linalg.cholesky(0.5 * (a + tf.transpose(a))), A),
    ("clip_by_norm", lambda x: tf.clip_by_norm(x, 1.0), X),
    ("clip_by_global_norm", lambda x, b: tf.clip_by_global_norm([x, b], 2.0)[0], X, B),
    ("softmax_xent_axis0", lambda x: tf.nn.softmax_cross_entropy_with_logits(tf.constant([[0.2, 1., 0.], [0.8, 0., 1.]]), x, axis=0), X),
]

# name: (outputs, gradients of sum(output ** 2) with respect to each input)
TF_RESULTS = {
    "moments": ([[1.0, -0.375, 0.625], [0.25, 0.39062, 1.89062]],
        [[[0.75, -0.8633, 5.8242], [1.25, 0.1133, -4.5742]]]),
    "moments_keep": ([[[0.41667]], [[1.18056]]],
        [[[0.2045, -0.9761, 1.385], [0.9915, 0.0077, -0.7793]]]),
    "reduce_variance": ([[1.5, 0.84722]],
        [[[0.0, -3.0, 3.0], [1.3179, -0.0941, -1.2238]]]),
    "reduce_std": ([1.08653],
        [[[0.0278, -0.4722, 0.5278], [0.3611, -0.0556, -0.3889]]]),
    "cumsum": ([[[0.5, -0.5, 1.5], [1.5, 1.75, 1.0]]],
        [[[3.0, 2.0, 3.0], [8.5, 5.5, 2.0]]]),
    "cumsum_excl_rev": ([[[1.5, 0.25, -0.75], [0.0, 0.0, 0.0]]],
        [[[0.0, 0.0, 0.0], [3.0, 0.5, -1.5]]]),
    "cumprod": ([[[0.5, -0.5, -1.0], [1.5, 0.375, -0.28125]]],
        [[[6.0, -2.5, 1.0], [3.293, 1.7578, -0.2109]]]),
    "divide_no_nan": ([[[0.5, 0.0, 1.0], [0.0, 0.0625, -1.5]]],
        [[[1.0, 0.0, 1.0], [0.0, 0.0312, -6.0]]]),
    "l2_loss": ([4.0625],
        [[[4.0625, -8.125, 16.25], [12.1875, 2.0312, -6.0938]]]),
    "log_sigmoid": ([[[-0.00672, -10.00005, -0.0], [-0.0, -0.07889, -7.50055]]],
        [[[-0.0009, -199.9918, -0.0], [-0.0, -0.1197, -149.9281]]]),
    "silu": ([[[0.31123, -0.26894, 1.76159], [1.22636, 0.14054, -0.24062]]],
        [[[0.4606, -0.0389, 3.843], [2.554, 0.1753, -0.0757]]]),
    "swish": ([[[0.31123, -0.26894, 1.76159], [1.22636, 0.14054, -0.24062]]],
        [[[0.4606, -0.0389, 3.843], [2.554, 0.1753, -0.0757]]]),
    "sigmoid_xent": ([[[10.00005, 20.0, 20.0], [0.0, 5.00672, 15.0]]],
        [[[399.9837, -800.0, 400.0], [-0.0, 198.9282, -599.9998]]]),
    "einsum": ([[[6.5, 3.0], [-0.75, 2.375]]],
        [[[25.0, -6.0, 42.0], [8.0, -4.75, -2.125]], [[4.25, 10.125], [-13.375, -4.8125], [27.125, 8.4375]]]),
    "einsum_ellipsis": ([[1.5, 1.0]],
        [[[3.0, 3.0, 3.0], [2.0, 2.0, 2.0]]]),
    "einsum_trace": ([8.125],
        [[[16.25, -32.5, 65.0], [48.75, 8.125, -24.375]]]),
    "tensordot": ([[[6.5, 3.0], [-0.75, 2.375]]],
        [[[25.0, -6.0, 42.0], [8.0, -4.75, -2.125]], [[4.25, 10.125], [-13.375, -4.8125], [27.125, 8.4375]]]),
    "tensordot_pairs": ([[[2.0, 2.0, 2.0], [-0.75, -0.75, -0.75], [1.25, 1.25, 1.25]]],
        [[[12.0, -4.5, 7.5], [12.0, -4.5, 7.5]], [[8.5, 3.75], [8.5, 3.75], [8.5, 3.75]]]),
    "gather_nd": ([[-1.0, -0.75, -1.0]],
        [[[0.0, -4.0, 0.0], [0.0, 0.0, -1.5]]]),
    "scatter_nd": ([[[1.0, -2.0, 4.0], [0.0, 0.0, 0.0], [0.5, -1.0, 2.0]]],
        [[[2.0, -4.0, 8.0], [1.0, -2.0, 4.0], [2.0, -4.0, 8.0]]]),
    "top_k": ([[[2.0, 0.5], [1.5, 0.25]]],
        [[[1.0, 0.0, 4.0], [3.0, 0.5, 0.0]]]),
    "sort": ([[[1.5, 0.25, 2.0], [0.5, -1.0, -0.75]]],
        [[[1.0, -2.0, 4.0], [3.0, 0.5, -1.5]]]),
    "sort_asc": ([[[-1.0, 0.5, 2.0], [-0.75, 0.25, 1.5]]],
        [[[1.0, -2.0, 4.0], [3.0, 0.5, -1.5]]]),
    "repeat": ([[[0.5, -1.0, 2.0], [0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [1.5, 0.25, -0.75]]],
        [[[2.0, -4.0, 8.0], [6.0, 1.0, -3.0]]]),
    "repeat_vec": ([[[0.5, 2.0, 2.0], [1.5, -0.75, -0.75]]],
        [[[1.0, 0.0, 8.0], [3.0, 0.0, -3.0]]]),
    "repeat_flat": ([[0.5, 0.5, -1.0, -1.0, 2.0, 2.0, 1.5, 1.5, 0.25, 0.25, -0.75, -0.75]],
        [[[2.0, -4.0, 8.0], [6.0, 1.0, -3.0]]]),
    "meshgrid": ([[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], [[4.0, 4.0, 4.0], [5.0, 5.0, 5.0]]],
        [[4.0, 8.0, 12.0], [24.0, 30.0]]),
    "meshgrid_ij": ([[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], [[4.0, 5.0], [4.0, 5.0], [4.0, 5.0]]],
        [[4.0, 8.0, 12.0], [24.0, 30.0]]),
    "inv": ([[[0.27994, -0.08924, -0.06106], [-0.08924, 0.36402, -0.01409], [-0.06106, -0.01409, 0.51667]]],
        [[[-0.0663, 0.056, 0.0584], [0.056, -0.1127, 0.0042], [0.0584, 0.0042, -0.2859]]]),
    "det": ([21.29],
        [[[253.7768, -80.902, -55.354], [-80.902, 329.995, -12.774], [-55.354, -12.774, 468.3801]]]),
    "slogdet": ([1.0, 3.05824],
        [[[1.7123, -0.5459, -0.3735], [-0.5459, 2.2265, -0.0862], [-0.3735, -0.0862, 3.1602]]]),
    "solve": ([[[0.09676, 0.6186], [-0.13152, -0.54955], [1.48896, 0.15031]]],
        [[[-0.2535, 0.2205, 0.0911], [0.3334, -0.3033, 0.3081], [-0.207, 0.2536, -2.2932]], [[-0.1042, 0.4261], [-0.155, -0.5147], [1.5305, 0.0953]]]),
    "diag": ([[[[0.5, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 2.0]], [[1.5, 0.0, 0.0], [0.0, 0.25, 0.0], [0.0, 0.0, -0.75]]]],
        [[[1.0, -2.0, 4.0], [3.0, 0.5, -1.5]]]),
    "diag_part": ([[4.0, 3.0, 2.0]],
        [[[8.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.0, 0.0, 4.0]]]),
    "trace": ([9.0],
        [[[18.0, 0.0, 0.0], [0.0, 18.0, 0.0], [0.0, 0.0, 18.0]]]),
    "cholesky": ([[[2.0, 0.0, 0.0], [0.5, 1.65831, 0.0], [0.25, 0.04523, 1.39121]]],
        [[[1.0, 0.0, 0.0], [0.0, 1.0, -0.0], [0.0, -0.0, 1.0]]]),
    "clip_by_norm": ([[[0.17541, -0.35082, 0.70165], [0.52623, 0.08771, -0.26312]]],
        [[[0.0, -0.0, 0.0], [0.0, 0.0, -0.0]]]),
    "clip_by_global_norm": ([[[0.20684, -0.41367, 0.82734], [0.62051, 0.10342, -0.31025]], [[0.41367, 0.82734], [0.0, -0.41367], [1.24101, 0.20684]]],
        [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]),
    "softmax_xent_axis0": ([[0.51326, 1.50193, 2.81197]],
        [[[0.0708, -2.3349, 5.286], [-0.0708, 2.3349, -5.286]]]),
}


def _run(fn, inputs):
    variables = [tf.Variable(v) for v in inputs]
    with tf.GradientTape() as tape:
        out = fn(*variables)
        outs = out if isinstance(out, (list, tuple)) else [out]
        total = tf.add_n([tf.reduce_sum(o * o) for o in outs if o.dtype.is_floating])
    return [o.numpy() for o in outs], tape.gradient(total, variables)


@pytest.mark.parametrize("name, fn, inputs", [(c[0], c[1], c[2:]) for c in CASES], ids=[c[0] for c in CASES])
def test_values_and_gradients_match_tensorflow(name, fn, inputs):
    outs, grads = _run(fn, inputs)
    tf_outs, tf_grads = TF_RESULTS[name]
    assert len(outs) == len(tf_outs)
    for got, want in zip(outs, tf_outs):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    for got, want in zip(grads, tf_grads):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got.numpy(), want, rtol=2e-4, atol=2e-4)


def test_top_k_and_argsort_indices_match_tensorflow():
    assert tf.math.top_k(X, 2).indices.numpy().tolist() == [[2, 0], [0, 1]]
    assert tf.math.top_k(tf.constant([1., 3., 3., 2.]), 2).indices.numpy().tolist() == [1, 2]  # ties: lower first
    assert tf.argsort(X).numpy().tolist() == [[1, 0, 2], [2, 1, 0]] and tf.argsort(X).dtype == tf.int32
    assert tf.argsort(X, axis=0, direction="DESCENDING").numpy().tolist() == [[1, 1, 0], [0, 0, 1]]


def test_global_norm_matches_tensorflow():
    assert float(tf.clip_by_global_norm([X, B], 2.0)[1]) == pytest.approx(4.83477, abs=1e-5)


def test_categorical_samples_follow_the_logits_and_repeat_with_a_seed():
    tf.random.set_seed(3)
    logits = tf.math.log(tf.constant([[0.1, 0.0001, 0.8999], [0.5, 0.5, 1e-9]]))
    samples = tf.random.categorical(logits, 4000)
    assert samples.dtype == tf.int64 and tuple(samples.shape) == (2, 4000)
    counts = [np.bincount(row, minlength=3) / 4000 for row in samples.numpy()]
    np.testing.assert_allclose(counts[0], [0.1, 0.0, 0.9], atol=0.03)
    np.testing.assert_allclose(counts[1], [0.5, 0.5, 0.0], atol=0.03)
    tf.random.set_seed(3)
    np.testing.assert_array_equal(tf.random.categorical(logits, 4000).numpy(), samples.numpy())


def test_clear_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not index into param shape"):
        tf.gather_nd(X, [[2, 0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        tf.linalg.inv(tf.zeros((2, 2)))
    with pytest.raises(ValueError, match="square matrices"):
        tf.linalg.det(X)
    with pytest.raises(ValueError, match="names 2 operands but 1"):
        tf.einsum("ij,jk->ik", X)
    with pytest.raises(NotImplementedError, match="repeat a subscript"):
        v = tf.Variable(A)
        with tf.GradientTape() as tape:
            y = tf.einsum("ii->i", v)
        tape.gradient(y, v)
