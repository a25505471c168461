"""Keras 3 losses: values and gradients match TensorFlow's for the same inputs.

The expected numbers were printed by TensorFlow 2.21 / Keras 3 for these inputs; they are facts
here, not a dependency.
"""
import numpy as np
import pytest

import tapeviz as tf

L = tf.keras.losses

yt_reg = np.array([[0., 1., 2.], [1., -1., 0.5]], np.float32)
yp_reg = np.array([[0.5, 1.5, 0.0], [3., -1.2, 0.4]], np.float32)
yt_bin = np.array([[0., 1.], [1., 1.], [0., 0.]], np.float32)
yp_bin = np.array([[0.1, 0.8], [1.0, 0.6], [0.0, 0.3]], np.float32)
logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0], [-2., 5., 1.]], np.float32)
probs = np.array([[0.7, 0.2, 0.1], [0.0, 0.1, 0.9], [0.3, 0.3, 0.4]], np.float32)
onehot = np.eye(3, dtype=np.float32)[[0, 2, 1]]
sparse = np.array([0, 2, 1])
sw = np.array([1.0, 0.5, 2.0], np.float32)
CASES = [
 ("mse", lambda: L.MeanSquaredError()(yt_reg, yp_reg)),
 ("mse_sum", lambda: L.MeanSquaredError(reduction="sum")(yt_reg, yp_reg)),
 ("mse_none", lambda: L.MeanSquaredError(reduction=None)(yt_reg, yp_reg)),
 ("mae", lambda: L.MeanAbsoluteError()(yt_reg, yp_reg)),
 ("huber", lambda: L.Huber()(yt_reg, yp_reg)),
 ("huber_d05", lambda: L.Huber(delta=0.5)(yt_reg, yp_reg)),
 ("bce", lambda: L.BinaryCrossentropy()(yt_bin, yp_bin)),
 ("bce_sw", lambda: L.BinaryCrossentropy()(yt_bin, yp_bin, sample_weight=sw)),
 ("bce_logits", lambda: L.BinaryCrossentropy(from_logits=True)(yt_bin, yp_bin * 4 - 2)),
 ("bce_smooth", lambda: L.BinaryCrossentropy(label_smoothing=0.2)(yt_bin, yp_bin)),
 ("cce", lambda: L.CategoricalCrossentropy()(onehot, probs)),
 ("cce_logits", lambda: L.CategoricalCrossentropy(from_logits=True)(onehot, logits)),
 ("cce_smooth", lambda: L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, logits)),
 ("scce", lambda: L.SparseCategoricalCrossentropy()(sparse, probs)),
 ("scce_logits", lambda: L.SparseCategoricalCrossentropy(from_logits=True)(sparse, logits)),
 ("scce_logits_sw", lambda: L.SparseCategoricalCrossentropy(from_logits=True)(sparse, logits, sample_weight=sw)),
 ("scce_ignore", lambda: L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2)(sparse, logits)),
 ("fn_mse", lambda: L.mean_squared_error(yt_reg, yp_reg)),
 ("fn_bce", lambda: L.binary_crossentropy(yt_bin, yp_bin)),
 ("fn_cce", lambda: L.categorical_crossentropy(onehot, probs)),
 ("fn_scce_logits", lambda: L.sparse_categorical_crossentropy(sparse, logits, from_logits=True)),
]
TF_VALUES = {
    "mse": 1.425,
    "mse_sum": 2.8499999,
    "mse_none": [1.5, 1.35],
    "mae": 0.8833333,
    "huber": 0.5458333,
    "huber_d05": 0.3375,
    "bce": 0.1993341,
    "bce_sw": 0.2162112,
    "bce_logits": 0.2641926,
    "bce_smooth": 0.8142801,
    "cce": 0.5553361,
    "cce_logits": 0.1233193,
    "cce_smooth": 0.3588748,
    "scce": 0.5553361,
    "scce_logits": 0.1233193,
    "scce_logits_sw": 0.1114007,
    "scce_ignore": 0.1301782,
    "fn_mse": [1.5, 1.35],
    "fn_bce": [0.164252, 0.2554128, 0.1783375],
    "fn_cce": [0.356675, 0.1053605, 1.2039728],
    "fn_scce_logits": [0.2413113, 0.1096015, 0.019045],
}

TF_GRADIENTS = {
    "g_bce": [[0.185185, -0.208333], [0.0, -0.277778], [0.0, 0.238095]],
    "g_cce": [[-0.142857, 0.333333, 0.333333], [0.333333, 0.333333, -0.037037], [0.333333, -0.777778, 0.333333]],
    "g_scce_logits": [[-0.071468, 0.013038, 0.05843], [0.016437, 0.018166, -0.034603], [0.000298, -0.006288, 0.00599]],
    "g_huber": [[0.083333, 0.083333, -0.166667], [0.166667, -0.033333, -0.016667]],
}


@pytest.mark.parametrize("name, fn", CASES, ids=[name for name, _ in CASES])
def test_loss_matches_tensorflow(name, fn):
    np.testing.assert_allclose(np.asarray(fn()), TF_VALUES[name], rtol=1e-6, atol=1e-7)


GRADIENT_CASES = [("g_bce", lambda: L.BinaryCrossentropy(), yt_bin, yp_bin),
                  ("g_cce", lambda: L.CategoricalCrossentropy(), onehot, probs),
                  ("g_scce_logits", lambda: L.SparseCategoricalCrossentropy(from_logits=True), sparse, logits),
                  ("g_huber", lambda: L.Huber(), yt_reg, yp_reg)]


@pytest.mark.parametrize("name, make, y_true, y_pred", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_loss_gradient_matches_tensorflow_including_clipped_probabilities(name, make, y_true, y_pred):
    v = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        loss = make()(y_true, v)
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(), TF_GRADIENTS[name], atol=2e-6)


def test_losses_default_to_keras_names_and_reduction():
    assert L.MeanSquaredError().name == "mean_squared_error"
    assert L.Huber().name == "huber_loss"
    assert L.SparseCategoricalCrossentropy().reduction == "sum_over_batch_size"
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        L.MeanSquaredError(reduction="average")


def test_get_finds_functions_and_classes():
    assert L.get("mse") is L.mean_squared_error
    assert isinstance(L.get("SparseCategoricalCrossentropy"), L.SparseCategoricalCrossentropy)
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        L.get("msee")


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"target.shape=\(3, 2\), output.shape=\(3, 3\)"):
        L.categorical_crossentropy(np.zeros((3, 2), np.float32), probs)


def test_out_of_range_sparse_label_is_a_clear_error():
    with pytest.raises(tf.errors.InvalidArgumentError, match="label value of 3 which is outside the valid range"):
        L.sparse_categorical_crossentropy(np.array([0, 3, 1]), logits, from_logits=True)
