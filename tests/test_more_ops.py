"""Ops training programs reach for beyond the tutorials (segments, scatters, rolls, batched gathers,
bias_add, dropout, embedding lookups, map_fn / scan / folds, checks and asserts): values, gradients
and errors match TensorFlow's.

Every expected number was printed by TensorFlow 2.21 for the same expression (facts here, not a
dependency). The gradients are of sum(output * [1, 2, 3, ...]), so each output entry is told apart.
Rules are checked against finite differences at first and second order by test_gradient_rules.py.
"""
import numpy as np
import pytest

import tapeviz as tf

D = [[1., 2.], [3., 4.], [5., 6.], [7., 8.]]

GRADIENT_CASES = {
    "segment_mean": lambda d: tf.math.segment_mean(d, [0, 0, 2, 2]),
    "segment_max": lambda d: tf.math.segment_max(d * [[1., 0.], [1., 0.], [1., 1.], [1., 1.]], [0, 0, 1, 1]),
    "unsorted_mean": lambda d: tf.math.unsorted_segment_mean(d, [2, -1, 0, 2], 3),
    "unsorted_sqrt_n": lambda d: tf.math.unsorted_segment_sqrt_n(d, [2, 2, 0, 2], 3),
    "unsorted_min": lambda d: tf.math.unsorted_segment_min(d, [1, 1, 0, 1], 2),
    "ts_sub": lambda d: tf.tensor_scatter_nd_sub(d, [[1], [3]], d[:2] * 2.),
    "ts_update_rows": lambda d: tf.tensor_scatter_nd_update(d, [[1], [3]], d[:2] * 2.),
    "cum_lse_excl": lambda d: tf.math.cumulative_logsumexp(d / 4., axis=0, exclusive=True)[1:],
    "cum_lse_rev": lambda d: tf.math.cumulative_logsumexp(d / 4., axis=1, reverse=True),
    "euclid_axis": lambda d: tf.math.reduce_euclidean_norm(d, axis=1),
    "l2n_axis0": lambda d: tf.math.l2_normalize(d, axis=0),
    "xdivy": lambda d: tf.math.xdivy(d - 3., d),
    "atan2b": lambda d: tf.math.atan2(d, 2.),
    "softsign": lambda d: tf.nn.softsign(d - 4.),
    "bias_add_nchw": lambda d: tf.nn.bias_add(tf.reshape(d, [2, 2, 2]), d[0], data_format="NCHW"),
    "matvec_ta": lambda d: tf.linalg.matvec(tf.reshape(d, [2, 2, 2]), d[0], transpose_a=True),
    "gather_bd2": lambda d: tf.gather(tf.reshape(d, [2, 2, 2]), [[1, 0, 1], [0, 0, 1]], axis=2, batch_dims=1),
    "gather_bd_ax1": lambda d: tf.gather(tf.reshape(d, [2, 2, 2]), [[1], [0]], axis=1, batch_dims=1),
    "roll2": lambda d: tf.roll(d, [1, 3], [0, 1]),
    "map_nested": lambda d: tf.map_fn(lambda t: (t[0] * t[1], t[1]), (d, d * 2.))[0],
    "scan_init_rev": lambda d: tf.scan(lambda a, r: a * r, d, initializer=tf.ones(2), reverse=True),
    "foldr": lambda d: tf.foldr(lambda a, r: a * 0.5 + r, d),
    "emb_maxnorm": lambda d: tf.nn.embedding_lookup(d, [3, 0], max_norm=5.0),
    "batchnorm_scale": lambda d: tf.nn.batch_normalization(d, d[0], d[1], None, d[2], 0.01),
}

TF_GRADIENTS = {
    "segment_mean": [[0.5, 1.0], [0.5, 1.0], [2.5, 3.0], [2.5, 3.0]],
    "segment_max": [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [3.0, 4.0]],
    "unsorted_mean": [[2.5, 3.0], [0.0, 0.0], [1.0, 2.0], [2.5, 3.0]],
    "unsorted_sqrt_n": [[2.88675, 3.4641], [2.88675, 3.4641], [1.0, 2.0], [2.88675, 3.4641]],
    "unsorted_min": [[3.0, 4.0], [0.0, 0.0], [1.0, 2.0], [0.0, 0.0]],
    "ts_sub": [[-5.0, -6.0], [-11.0, -12.0], [5.0, 6.0], [7.0, 8.0]],
    "ts_update_rows": [[7.0, 10.0], [14.0, 16.0], [5.0, 6.0], [0.0, 0.0]],
    "cum_lse_excl": [[0.76606, 1.15703], [0.85084, 1.08325], [0.6331, 0.75972], [0.0, 0.0]],
    "cum_lse_rev": [[0.10946, 0.64054], [0.32837, 1.42163], [0.54728, 2.20272], [0.76619, 2.98381]],
    "euclid_axis": [[0.44721, 0.89443], [1.2, 1.6], [1.92055, 2.30466], [2.63402, 3.01031]],
    "l2n_axis0": [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
    "xdivy": [[3.0, 1.5], [0.0, 0.75], [0.6, 0.5], [0.42857, 0.375]],
    "atan2b": [[0.4, 0.5], [0.46154, 0.4], [0.34483, 0.3], [0.26415, 0.23529]],
    "softsign": [[0.0625, 0.22222], [0.75, 4.0], [1.25, 0.66667], [0.4375, 0.32]],
    "bias_add_nchw": [[15.0, 24.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]],
    "matvec_ta": [[45.0, 66.0], [2.0, 4.0], [3.0, 4.0], [6.0, 8.0]],
    "gather_bd2": [[2.0, 4.0], [5.0, 10.0], [15.0, 9.0], [21.0, 12.0]],
    "gather_bd_ax1": [[0.0, 0.0], [1.0, 2.0], [3.0, 4.0], [0.0, 0.0]],
    "roll2": [[4.0, 3.0], [6.0, 5.0], [8.0, 7.0], [2.0, 1.0]],
    "map_nested": [[4.0, 16.0], [36.0, 64.0], [100.0, 144.0], [196.0, 256.0]],
    "scan_init_rev": [[105.0, 384.0], [140.0, 384.0], [119.0, 304.0], [92.0, 236.0]],
    "foldr": [[1.0, 2.0], [0.5, 1.0], [0.25, 0.5], [0.125, 0.25]],
    "emb_maxnorm": [[3.0, 4.0], [0.0, 0.0], [0.0, 0.0], [-0.1998, 0.17482]],
    "batchnorm_scale": [[-43.22928, -53.93262], [-23.90775, -17.90282], [53.6043, 57.92764], [20.17366, 23.97006]],
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradient_is_tensorflows(name):
    d = tf.Variable(D)
    with tf.GradientTape() as tape:
        y = GRADIENT_CASES[name](d)
        weights = tf.reshape(tf.range(1.0, float(np.prod(y.shape)) + 1.0), y.shape)
        loss = tf.reduce_sum(y * weights)
    np.testing.assert_allclose(tape.gradient(loss, d), TF_GRADIENTS[name], rtol=1e-4, atol=1e-4)


TF_VALUES = [
    ("segment_sum", lambda d: tf.math.segment_sum(d, [0, 0, 2, 2]), [[4., 6.], [0., 0.], [12., 14.]]),
    ("segment_max, an empty segment is 0", lambda d: tf.math.segment_max(d, [0, 0, 2, 2]), [[3., 4.], [0., 0.], [7., 8.]]),
    ("segment_mean", lambda d: tf.math.segment_mean(d, [0, 0, 2, 2]), [[2., 3.], [0., 0.], [6., 7.]]),
    ("unsorted_segment_sum drops negative ids", lambda d: tf.math.unsorted_segment_sum(d, [2, -1, 0, 2], 3),
     [[5., 6.], [0., 0.], [8., 10.]]),
    ("unsorted_segment_max, an empty segment is the lowest float",
     lambda d: tf.math.unsorted_segment_max(d, [2, 2, 0, 2], 3), [[5., 6.], [-3.4028234663852886e+38] * 2, [7., 8.]]),
    ("unsorted_segment_min, an empty segment is the highest float",
     lambda d: tf.math.unsorted_segment_min(d, [1, 1, 1, 1], 2), [[3.4028234663852886e+38] * 2, [1., 2.]]),
    ("unsorted_segment_mean", lambda d: tf.math.unsorted_segment_mean(d, [2, 2, 0, 2], 3),
     [[5., 6.], [0., 0.], [3.6666667461395264, 4.666666507720947]]),
    ("unsorted_segment_sqrt_n", lambda d: tf.math.unsorted_segment_sqrt_n(d, [2, 2, 0, 2], 3),
     [[5., 6.], [0., 0.], [6.350852966308594, 8.082903861999512]]),
    ("2-D segment ids", lambda d: tf.math.unsorted_segment_sum(d, [[0, 1], [1, 1], [0, 0], [1, 0]], 2), [20., 16.]),
    ("tensor_scatter_nd_update, the last update wins", lambda d: tf.tensor_scatter_nd_update(d, [[0, 1], [0, 1]], [9., 10.]),
     [[1., 10.], [3., 4.], [5., 6.], [7., 8.]]),
    ("tensor_scatter_nd_add, updates add up", lambda d: tf.tensor_scatter_nd_add(d, [[0, 1], [0, 1]], [9., 10.]),
     [[1., 21.], [3., 4.], [5., 6.], [7., 8.]]),
    ("tensor_scatter_nd_update of rows", lambda d: tf.tensor_scatter_nd_update(d, [[1]], [[9., 10.]]),
     [[1., 2.], [9., 10.], [5., 6.], [7., 8.]]),
    ("gather with batch_dims on a later axis",
     lambda d: tf.gather(tf.reshape(tf.range(24.), [2, 3, 4]), [[0, 3], [1, 1]], axis=2, batch_dims=1),
     [[[0., 3.], [4., 7.], [8., 11.]], [[13., 13.], [17., 17.], [21., 21.]]]),
    ("gather with negative batch_dims", lambda d: tf.gather(d, [[0], [1], [0], [1]], axis=1, batch_dims=-1),
     [[1.], [4.], [5.], [8.]]),
    ("roll", lambda d: tf.roll(d, [1, -1], [0, 1]), [[8., 7.], [2., 1.], [4., 3.], [6., 5.]]),
    ("bias_add NCHW", lambda d: tf.nn.bias_add(tf.ones((1, 2, 1, 1)), [1., 2.], data_format="NCHW"), [[[[2.]], [[3.]]]]),
    ("cumulative_logsumexp exclusive", lambda d: tf.math.cumulative_logsumexp(tf.constant([0., 1., 2.]), exclusive=True),
     [-np.inf, 0.0, 1.3132617473602295]),
    ("cumulative_logsumexp reverse", lambda d: tf.math.cumulative_logsumexp(tf.constant([0., 1., 2.]), reverse=True),
     [2.4076061248779297, 2.3132617473602295, 2.0]),
    ("reduce_euclidean_norm of ints", lambda d: tf.math.reduce_euclidean_norm(tf.constant([3, 4])), 5),
    ("xlogy with x = 0", lambda d: tf.math.xlogy(tf.constant([0., 0., 2.]), tf.constant([0., -1., 0.])), [0., 0., -np.inf]),
    ("xdivy with x = 0", lambda d: tf.math.xdivy(tf.constant([0., 1.]), tf.constant([0., 0.])), [0., np.inf]),
    ("l2_normalize of a zero row", lambda d: tf.math.l2_normalize(tf.constant([[3., 4.], [0., 0.]]), axis=1),
     [[0.6, 0.8], [0., 0.]]),
    ("matvec broadcasts the vector", lambda d: tf.linalg.matvec(tf.ones((2, 2, 3)), tf.constant([1., 2., 3.])),
     [[6., 6.], [6., 6.]]),
    ("embedding_lookup over a list of tables", lambda d: tf.nn.embedding_lookup([tf.constant([[1.], [2.]]),
                                                                                 tf.constant([[3.]])], [2, 0]),
     [[3.], [1.]]),
    ("embedding_lookup max_norm", lambda d: tf.nn.embedding_lookup(tf.constant([[3., 4.], [0.3, 0.4]]), [0, 1],
                                                                   max_norm=1.0), [[0.6, 0.8], [0.3, 0.4]]),
    ("batch_normalization", lambda d: tf.nn.batch_normalization(d, d[0], d[1], None, d[2], 0.01),
     [[0., 0.], [5.7639031410217285, 5.992514133453369], [11.527807235717773, 11.985029220581055],
      [17.291709899902344, 17.977542877197266]]),
    ("batch_normalization with numbers", lambda d: tf.nn.batch_normalization(d, 1.0, 4.0, 0.5, 2.0, 0.001),
     [[0.5, 1.4998750686645508], [2.4997501373291016, 3.4996252059936523], [4.499500274658203, 5.499375343322754],
      [6.499250411987305, 7.4991254806518555]]),
    ("unique", lambda d: tf.unique([3, 1, 3, 2]).y, [3, 1, 2]),
    ("unique idx", lambda d: tf.unique(tf.constant([3., 1., 3., 2.])).idx, [0, 1, 0, 2]),
    ("unique_with_counts", lambda d: tf.unique_with_counts([3, 1, 3, 2]).count, [2, 1, 1]),
    ("bincount", lambda d: tf.math.bincount([1, 1, 3]), [0, 2, 0, 1]),
    ("bincount weights", lambda d: tf.math.bincount([1, 1, 3], weights=[0.5, 1., 2.]), [0., 1.5, 0., 2.]),
    ("bincount minlength and maxlength", lambda d: tf.math.bincount([1, 1, 3], minlength=6, maxlength=3), [0, 2, 0]),
    ("bincount of a matrix", lambda d: tf.math.bincount([[1, 1], [3, 0]]), [1, 2, 0, 1]),
    ("bincount per row", lambda d: tf.math.bincount([[1, 1], [3, 0]], axis=-1), [[0, 2, 0, 0], [1, 0, 0, 1]]),
    ("searchsorted right", lambda d: tf.searchsorted([[1., 2., 3.], [0., 5., 9.]], [[2.5, 3.], [9., 0.]], side="right"),
     [[2, 3], [3, 1]]),
    ("searchsorted left", lambda d: tf.searchsorted([1., 2., 3.], [2., 4.]), [1, 3]),
    ("ensure_shape with None", lambda d: tf.ensure_shape(d, [None, 2]), D),
    ("map_fn to a dict with a signature", lambda d: tf.map_fn(lambda t: {"a": t * 2.}, d,
                                                              fn_output_signature={"a": tf.float32})["a"],
     [[2., 4.], [6., 8.], [10., 12.], [14., 16.]]),
    ("scan of a tuple", lambda d: tf.scan(lambda a, r: (a[0] + r, a[1] * r), d, initializer=(tf.zeros(2), tf.ones(2)))[1],
     [[1., 2.], [3., 8.], [15., 48.], [105., 384.]]),
]


@pytest.mark.parametrize("fn, expected", [case[1:] for case in TF_VALUES], ids=[case[0] for case in TF_VALUES])
def test_value_is_tensorflows(fn, expected):
    result = fn(tf.constant(D))
    np.testing.assert_allclose(np.asarray(result, dtype=np.float64), expected, rtol=1e-6)


def test_result_dtypes_are_tensorflows():
    assert tf.unique([3, 1]).idx.dtype == tf.int32 and tf.unique(tf.constant([1.])).y.dtype == tf.float32
    assert tf.math.bincount([1]).dtype == tf.int32
    assert tf.math.bincount([1], weights=[0.5]).dtype == tf.float32
    assert tf.searchsorted([1., 2.], [1.5]).dtype == tf.int32
    assert tf.map_fn(lambda t: t * 2., tf.zeros((0, 3))).shape == (0,)


TF_ERRORS = [  # TF's error class and the words of its message
    ("segment ids not sorted", lambda d: tf.math.segment_sum(d, [1, 0, 2, 2]), tf.errors.InvalidArgumentError,
     "segment ids are not increasing"),
    ("too few segment ids", lambda d: tf.math.segment_sum(d, [0, 0, 1]), tf.errors.InvalidArgumentError,
     "segment_ids should be the same size as dimension 0 of input"),
    ("float segment ids", lambda d: tf.math.segment_sum(d, [0., 0., 1., 1.]), tf.errors.InvalidArgumentError,
     "Tindices"),
    ("segment id out of range", lambda d: tf.math.unsorted_segment_sum(d, [2, 5, 0, 2], 3),
     tf.errors.InvalidArgumentError, r"segment_ids\[1\] = 5 is out of range \[0, 3\)"),
    ("scatter index out of range", lambda d: tf.tensor_scatter_nd_update(d, [[7, 1]], [9.]),
     tf.errors.InvalidArgumentError, r"indices\[0\] = \[7, 1\] does not index into shape \[4, 2\]"),
    ("scatter updates of the wrong shape", lambda d: tf.tensor_scatter_nd_update(d, [[1]], [9.]),
     tf.errors.InvalidArgumentError, "Inner dimensions of output shape must match inner dimensions of updates shape"),
    ("batched gather index out of range", lambda d: tf.gather(d, [[0, 3], [1, 1], [0, 0], [1, 1]], axis=1, batch_dims=1),
     tf.errors.InvalidArgumentError, r"indices\[0, 1\] = 3 is not in \[0, 2\)"),
    ("batch dimensions that differ", lambda d: tf.gather(d, [[0], [1]], axis=1, batch_dims=1),
     tf.errors.InvalidArgumentError, r"params.shape\[0\]: 4 should be equal to indices.shape\[0\]: 2"),
    ("roll with more shifts than axes", lambda d: tf.roll(d, [1, 1], [0]), tf.errors.InvalidArgumentError,
     "shift and axis must have the same size"),
    ("unique of a matrix", lambda d: tf.unique([[1, 2]]), tf.errors.InvalidArgumentError, "unique expects a 1D vector"),
    ("bincount of a negative value", lambda d: tf.math.bincount([1, -1, 3]), tf.errors.InvalidArgumentError,
     "Input arr must be non-negative"),
    ("ensure_shape that does not fit", lambda d: tf.ensure_shape(d, [4, 3]), tf.errors.InvalidArgumentError,
     r"Shape of tensor input \[4, 2\] is not compatible with expected shape \[4, 3\]"),
    ("check_numerics of a NaN", lambda d: tf.debugging.check_numerics(tf.constant([1., np.nan]), "bad x"),
     tf.errors.InvalidArgumentError, "bad x : Tensor had NaN values"),
    ("check_numerics of an Inf", lambda d: tf.debugging.check_numerics(tf.constant([1., np.inf]), "bad x"),
     tf.errors.InvalidArgumentError, "bad x : Tensor had Inf values"),
    ("assert_all_finite", lambda d: tf.debugging.assert_all_finite(tf.constant([np.inf]), "fin"),
     tf.errors.InvalidArgumentError, "fin : Tensor had Inf values"),
    ("assert_equal", lambda d: tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]), message="m"),
     tf.errors.InvalidArgumentError, r"m Condition x == y did not hold. Indices of first 1 different values: \[\[1\]\]"),
    ("assert_less", lambda d: tf.debugging.assert_less(tf.constant([1., 2.]), tf.constant([1., 3.])),
     tf.errors.InvalidArgumentError, "Condition x < y did not hold"),
    ("assert_positive", lambda d: tf.debugging.assert_positive(tf.constant([1., -2.])), tf.errors.InvalidArgumentError,
     "Condition x > 0 did not hold element-wise"),
    ("assert_near", lambda d: tf.debugging.assert_near(tf.constant([1., 2.]), tf.constant([1., 2.1])),
     tf.errors.InvalidArgumentError, "x and y not equal to tolerance"),
    ("assert_rank", lambda d: tf.debugging.assert_rank(d, 3), ValueError, "must have rank 3.  Received rank 2"),
    ("assert_shapes", lambda d: tf.debugging.assert_shapes([(d, ("N", "D")), (tf.ones(3), ("N",))]), ValueError,
     "dimension 0 must have size 4.  Received size 3"),
    ("assert_type", lambda d: tf.debugging.assert_type(d, tf.int32), TypeError,
     "tensor must be of type tf.int32; got tf.float32"),
    ("bias_add with too many biases", lambda d: tf.nn.bias_add(d, [1., 2., 3.]), tf.errors.InvalidArgumentError,
     r"Must provide as many biases as the last dimension of the input tensor: \[3\] vs. \[4, 2\]"),
    ("bias_add of a vector", lambda d: tf.nn.bias_add(tf.ones(3), [1., 2., 3.]), tf.errors.InvalidArgumentError,
     r"Input tensor must be at least 2D: \[3\]"),
    ("dropout with rate 1", lambda d: tf.nn.dropout(d, 1.0), ValueError,
     r"`rate` must be a scalar tensor or a float in the range \[0, 1\). Received: rate=1.0"),
    ("atan2 of ints", lambda d: tf.math.atan2(tf.constant([1]), tf.constant([1])), tf.errors.InvalidArgumentError,
     "Value for attr 'T' of int32 is not in the list of allowed values"),
    ("map_fn returning another structure", lambda d: tf.map_fn(lambda t: {"a": t * 2.}, d), ValueError,
     "The two structures don't have the same nested structure"),
]


@pytest.mark.parametrize("fn, error, words", [case[1:] for case in TF_ERRORS], ids=[case[0] for case in TF_ERRORS])
def test_error_is_tensorflows(fn, error, words):
    with pytest.raises(error, match=words):
        fn(tf.constant(D))


def test_asserts_that_hold_return_none():
    assert tf.debugging.assert_equal(tf.constant([1, 2]), tf.constant([1, 2])) is None
    assert tf.debugging.assert_shapes([(tf.ones((4, 2)), ("N", "D")), (tf.ones(4), ("N",))]) is None
    assert tf.assert_rank(tf.ones((2, 2)), 2) is None


def test_dropout_keeps_the_expected_fraction_scaled_and_its_gradient_is_the_mask():
    x = tf.Variable(tf.ones((200, 50)))
    with tf.GradientTape() as tape:
        y = tf.nn.dropout(x, 0.4, seed=7)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.6) < 0.02
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.6, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(y, x), kept / 0.6, rtol=1e-6)
    shared = tf.nn.dropout(tf.ones((4, 30)), 0.5, noise_shape=[None, 1], seed=3).numpy()
    assert all(len(set(row)) == 1 for row in shared)  # one draw per row, broadcast along it
    with pytest.raises(ValueError, match="floating point"):
        tf.nn.dropout(tf.constant([1, 2]), 0.5)


def test_check_numerics_checks_the_gradient_on_the_way_back():
    x = tf.Variable([1.0, 0.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.sqrt(tf.debugging.check_numerics(x, "input")))
    with pytest.raises(tf.errors.InvalidArgumentError, match="detected in gradient. input : Tensor had Inf values"):
        tape.gradient(y, x)


def test_searchsorted_and_unique_pass_no_gradient():
    x = tf.Variable([3., 1., 3.])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.cast(tf.searchsorted(x, [2.]), tf.float32))
    assert tape.gradient(y, x) is None
    with tf.GradientTape() as tape:  # TF has no gradient for Unique: a LookupError, as there
        y = tf.reduce_sum(tf.unique(x).y)
    with pytest.raises(LookupError, match="Unique"):
        tape.gradient(y, x)


SPECIAL_POINTS = [1.0, 2.0, 3.0, 0.5, -0.5, 20.0, 0.0, -2.0]
TF_SPECIAL = {  # float64, printed by TF 2.21
    "lgamma": [0.0, 0.0, 0.69314718, 0.57236494, 1.26551212, 39.33988419, np.inf, np.inf],
    "digamma": [-0.57721566, 0.42278434, 0.92278434, -1.96351003, 0.03648997, 2.97052399, np.nan, np.nan],
    "polygamma 1": [1.64493407, 0.64493407, 0.39493407, 4.9348022, 8.9348022, 0.05127082, np.inf, np.inf],
    "polygamma 3": [6.49393940, 0.493939402, 0.118939402, 97.4090910, 193.409091, 2.69374221e-04, np.inf, np.inf],
}


@pytest.mark.parametrize("name", sorted(TF_SPECIAL))
def test_special_functions_are_tensorflows(name):
    x = tf.constant(SPECIAL_POINTS, tf.float64)
    fn = {"lgamma": tf.math.lgamma, "digamma": tf.math.digamma,
          "polygamma 1": lambda v: tf.math.polygamma(tf.constant(1.0, tf.float64), v),
          "polygamma 3": lambda v: tf.math.polygamma(tf.constant(3.0, tf.float64), v)}[name]
    np.testing.assert_allclose(fn(x), TF_SPECIAL[name], rtol=1e-7, atol=1e-8)  # TF printed 8 decimals


def test_polygamma_of_a_fractional_order_is_nan_and_float32_matches():
    orders = tf.constant([0.0, 1.0, 2.5])
    result = tf.math.polygamma(orders, tf.constant([1.0, 2.5, -0.5]))
    np.testing.assert_allclose(result, [-0.5772159099578857, 0.49035772681236267, np.nan], rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not in the list of allowed values"):
        tf.math.lgamma(tf.constant([1, 2]))


def test_bincount_weights_have_no_gradient_as_in_tensorflow():
    weights = tf.Variable([0.5, 1.0, 2.0])
    with tf.GradientTape() as tape:  # TF: "gradient registry has no entry for: DenseBincount"
        y = tf.reduce_sum(tf.math.bincount([1, 1, 3], weights=weights) * [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(LookupError, match="DenseBincount"):
        tape.gradient(y, weights)


SECOND_ORDER = {  # d/dx of the gradient of sum(f(x) ** 2) at x = [0.5, -1], printed by TF 2.21
    "cumulative_logsumexp": (lambda v: tf.math.cumulative_logsumexp(v), [3.635149, 0.36485106]),
    "reduce_euclidean_norm": (lambda v: tf.math.reduce_euclidean_norm(v), [2.0, 2.0]),
    "segment_max": (lambda v: tf.math.segment_max(v, [0, 0]), [2.0, 0.0]),
    "bias_add": (lambda v: tf.nn.bias_add(tf.reshape(v, [1, 2]) * v, v), [11.0, 2.0]),
    "check_numerics": (lambda v: tf.debugging.check_numerics(v * v, "m"), [3.0, 12.0]),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_is_tensorflows(name):
    fn, expected = SECOND_ORDER[name]
    x = tf.Variable([0.5, -1.0])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(fn(x) ** 2)
        grad = inner.gradient(y, x)
    np.testing.assert_allclose(outer.gradient(grad, x), expected, rtol=1e-5)


def test_softsign_has_a_second_order_where_tensorflows_kernel_has_none():
    # TF: "gradient registry has no entry for: SoftsignGrad". tapeviz composes the rule of ops:
    # d2/dx2 of sum(softsign(x) ** 2) is 2 (1 - 2|x|) / (1 + |x|)^4, element-wise.
    x = tf.Variable([0.5, -1.0])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(tf.nn.softsign(x) ** 2)
        grad = inner.gradient(y, x)
    np.testing.assert_allclose(grad, [0.29629629850387573, -0.25], rtol=1e-6)  # TF's first order
    a = np.abs([0.5, -1.0])
    np.testing.assert_allclose(outer.gradient(grad, x), 2 * (1 - 2 * a) / (1 + a) ** 4, rtol=1e-5)


TF_ERRORS_2 = [  # what TF 2.21 raises for these calls
    ("central_crop of 0", lambda: tf.image.central_crop(tf.ones((4, 4, 1)), 0.0), ValueError,
     r"central_fraction must be within \(0, 1\]"),
    ("random_crop larger than the value", lambda: tf.image.random_crop(tf.ones((4, 4, 1)), [5, 4, 1]),
     tf.errors.InvalidArgumentError, "Need value.shape >= size"),
    ("switch_case with a Python int", lambda: tf.switch_case(1, [lambda: 1.0, lambda: 2.0]), TypeError,
     "branch_index must be an int32 or int64 scalar tensor"),
    ("case with no true predicate and no default",
     lambda: tf.case([(tf.constant(False), lambda: 1.0), (tf.constant(False), lambda: 2.0)]),
     tf.errors.InvalidArgumentError, "None of conditions evaluated as True"),
    ("dynamic_partition out of range", lambda: tf.dynamic_partition(tf.ones(3), [0, 3, 1], 2),
     tf.errors.InvalidArgumentError, r"not in \[0, 2\)"),
    ("crop box taller than the image", lambda: tf.image.crop_to_bounding_box(tf.ones((4, 4, 1)), 3, 0, 2, 2),
     ValueError, "height must be >= target \\+ offset"),
]


@pytest.mark.parametrize("fn, error, words", [case[1:] for case in TF_ERRORS_2], ids=[case[0] for case in TF_ERRORS_2])
def test_error_of_a_helper_is_tensorflows(fn, error, words):
    with pytest.raises(error, match=words):
        fn()


def test_case_and_switch_case_fall_back_as_tensorflow_does():
    assert tf.case([(tf.constant(False), lambda: 1.0)], default=lambda: 7.0) == 7.0
    # Eagerly TF calls the first true predicate's function, exclusive or not.
    assert tf.case([(tf.constant(True), lambda: 1.0), (tf.constant(True), lambda: 2.0)], exclusive=True) == 1.0
    assert tf.sequence_mask([1.0, 2.0]).numpy().tolist() == [[True, False], [True, True]]
    assert tf.switch_case(tf.constant(5), [lambda: 1.0, lambda: 2.0]) == 2.0  # out of range: the last branch
    assert tf.switch_case(tf.constant(5), {0: lambda: 1.0}, default=lambda: 3.0) == 3.0


def test_random_flips_flip_whole_images_and_pass_gradients():
    images = tf.Variable(tf.reshape(tf.range(2.0 * 2 * 3), (2, 2, 3, 1)))
    with tf.GradientTape() as tape:
        flipped = tf.image.random_flip_left_right(images, seed=4)
        loss = tf.reduce_sum(flipped * tf.reshape(tf.range(12.0), (2, 2, 3, 1)))
    for i in range(2):
        row = flipped.numpy()[i]
        assert np.array_equal(row, images.numpy()[i]) or np.array_equal(row, images.numpy()[i, :, ::-1])
    np.testing.assert_allclose(np.sort(tape.gradient(loss, images).numpy().ravel()), np.arange(12.0))


def test_a_bag_of_words_training_loop_matches_tensorflow_step_by_step():
    # embedding_lookup -> unsorted_segment_mean -> l2_normalize -> bias_add -> map_fn(softsign) -> loss
    # with a reduce_euclidean_norm penalty, five SGD steps; TF 2.21 printed these losses and squared
    # gradient norms of the embedding table for the same initial weights.
    rng = np.random.default_rng(5)
    emb = tf.Variable(rng.standard_normal((12, 4)).astype("float32") * 0.5)
    w = tf.Variable(rng.standard_normal((4, 3)).astype("float32") * 0.5)
    b = tf.Variable(np.zeros(3, "float32"))
    tokens = tf.constant([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7])
    doc_of_token = tf.constant([0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3])
    labels = tf.constant([0, 2, 1, 2])
    printed = []
    for _ in range(5):
        with tf.GradientTape() as tape:
            docs = tf.math.unsorted_segment_mean(tf.nn.embedding_lookup(emb, tokens), doc_of_token, 4)
            logits = tf.nn.bias_add(tf.matmul(tf.math.l2_normalize(docs, axis=1) * 3.0, w), b)
            scaled = tf.map_fn(lambda row: row * tf.nn.softsign(tf.reduce_max(row)) + row, logits)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, scaled))
            loss += 1e-3 * tf.reduce_sum(tf.math.reduce_euclidean_norm(w, axis=0))
        grads = tape.gradient(loss, [emb, w, b])
        for variable, grad in zip([emb, w, b], grads):
            variable.assign_sub(0.5 * grad)
        printed.append([float(loss), float(tf.reduce_sum(grads[0] ** 2))])
    np.testing.assert_allclose(printed, [[0.993315, 0.64772], [0.584435, 0.202905], [0.450485, 0.206334],
                                         [0.342038, 0.140581], [0.252537, 0.097149]], rtol=2e-5, atol=2e-6)


TRIANGULAR_RNG = np.random.default_rng(3)
TRIANGULAR_A = (TRIANGULAR_RNG.standard_normal((3, 3)) * 0.4 + 2 * np.eye(3)).astype("float32")
TRIANGULAR_B = TRIANGULAR_RNG.standard_normal((3, 2)).astype("float32")
TRIANGULAR_CASES = {
    "lower": lambda a, b: tf.linalg.triangular_solve(a, b),
    "upper_adj": lambda a, b: tf.linalg.triangular_solve(a, b, lower=False, adjoint=True),
    "chol_solve": lambda a, b: tf.linalg.cholesky_solve(tf.linalg.cholesky(tf.matmul(a, a, transpose_b=True)), b),
}
TF_TRIANGULAR = {  # (solution, gradient of the matrix, gradient of the right-hand side), printed by TF 2.21
    "lower": [[1.1798900365829468, 0.08016999810934067, -0.046549998223781586, -0.14462999999523163, 0.16989000141620636, -0.6069200038909912], [-1.0446699857711792, 0.0, 0.0, -1.5874600410461426, 0.31777000427246094, 0.0, -3.0959300994873047, 0.5498200058937073, 1.4239200353622437], [0.792460024356842, 1.3678100109100342, 1.222890019416809, 1.8035000562667847, 2.4184999465942383, 3.023129940032959]],
    "upper_adj": [[1.1798900365829468, 0.08016999810934067, 0.46924999356269836, -0.10959000140428543, -0.49876001477241516, -0.6517900228500366], [-0.41679999232292175, -1.5763399600982666, -3.0959300994873047, 0.0, -0.37330999970436096, -0.8035699725151062, 0.0, 0.0, 3.1767001152038574], [0.297109991312027, 0.826229989528656, 1.214210033416748, 1.792639970779419, 2.4184999465942383, 3.023129940032959]],
    "chol_solve": [[0.44672998785972595, -0.10293000191450119, 0.2310899943113327, -0.17459000647068024, 0.062449999153614044, -0.3749000132083893], [-0.8596699833869934, -0.15175999701023102, -0.26273998618125916, -1.3352999687194824, 0.4039500057697296, 0.921209990978241, -1.6489800214767456, 1.0865099430084229, 2.236020088195801], [0.654699981212616, 1.0510400533676147, 1.142840027809143, 1.7561099529266357, 1.5875699520111084, 2.1272099018096924]],
}


@pytest.mark.parametrize("name", sorted(TRIANGULAR_CASES))
def test_triangular_solves_are_tensorflows(name):
    a, b = tf.Variable(TRIANGULAR_A), tf.Variable(TRIANGULAR_B)
    with tf.GradientTape() as tape:
        y = TRIANGULAR_CASES[name](a, b)
        loss = tf.reduce_sum(y * tf.reshape(tf.range(6.0), [3, 2]))
    grad_a, grad_b = tape.gradient(loss, [a, b])
    for ours, theirs in zip([y, grad_a, grad_b], TF_TRIANGULAR[name]):
        np.testing.assert_allclose(np.ravel(ours), theirs, rtol=1e-4, atol=2e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Input matrix must be square"):
        tf.linalg.triangular_solve(tf.ones((2, 3)), tf.ones((2, 1)))


def test_erfinv_and_ndtri_are_tensorflows():
    # float64 values and gradients printed by TF 2.21.
    x = tf.Variable(np.array([-0.999, -0.5, 0.0, 0.3, 0.9, 0.99999]))
    p = tf.Variable(np.array([1e-6, 0.01, 0.3, 0.5, 0.8, 0.999]))
    with tf.GradientTape(persistent=True) as tape:
        a, b = tf.math.erfinv(x), tf.math.ndtri(p)
    np.testing.assert_allclose(a, [-2.326753766, -0.476936276, 0.0, 0.272462715, 1.163087154, 3.123413274],
                               rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(tape.gradient(a, x), [198.93952, 1.1125848, 0.88622693, 0.95452036, 3.4280428,
                                                     15289.602], rtol=1e-6)
    np.testing.assert_allclose(b, [-4.753424309, -2.326347874, -0.524400513, 0.0, 0.841621234, 3.090232306],
                               rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(tape.gradient(b, p), [202088.27, 37.520436, 2.8761037, 2.5066283, 3.5719143,
                                                     296.99235], rtol=1e-6)
    np.testing.assert_array_equal(tf.math.erfinv(tf.constant([1.0, -1.0, 1.5])), [np.inf, -np.inf, np.nan])


def test_local_response_normalization_is_tensorflows():
    x = tf.Variable(np.random.default_rng(4).standard_normal((1, 2, 2, 7)).astype("float32"))
    with tf.GradientTape() as tape:
        y = tf.nn.local_response_normalization(x, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75)
        loss = tf.reduce_sum(y * tf.reshape(tf.range(28.0), [1, 2, 2, 7]))
    np.testing.assert_allclose(y.numpy().ravel()[:10], [-0.33112, -0.0854, 0.66365, 0.27056, -0.65764, -0.00257,
                                                        -0.32084, 0.07958, -0.85642, 0.10446], atol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy().ravel()[:10],
                               [0.1047, 0.5363, 0.9269, 1.2841, 0.9094, 2.4709, 2.6456, 3.909, 2.7548, 3.7037], atol=1e-4)
