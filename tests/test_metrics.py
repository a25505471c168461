"""Keras 3 metrics: update_state / result over two batches match TensorFlow's numbers.

The expected results were printed by TensorFlow 2.21 / Keras 3 for the same data (facts here,
not a dependency).
"""
import numpy as np
import pytest

import tapeviz as tf

M = tf.keras.metrics

rng = np.random.default_rng(3)
yb = (rng.random(40) > 0.4).astype(np.float32)
pb = np.clip(yb * 0.3 + rng.random(40) * 0.7, 0, 1).astype(np.float32)
sw = rng.random(40).astype(np.float32)
logits = rng.standard_normal((10, 4)).astype(np.float32)
sparse = rng.integers(0, 4, 10)
onehot = np.eye(4, dtype=np.float32)[sparse]
def two(m, a, b, **k):
    m.update_state(a[:20], b[:20], **({k2: v[:20] for k2, v in k.items()}))
    m.update_state(a[20:], b[20:], **({k2: v[20:] for k2, v in k.items()}))
    return m.result()
CASES = [
 ("mean", lambda: (lambda m: (m.update_state([1., 2., 3.]), m.update_state([4.], sample_weight=[2.]), m.result())[-1])(M.Mean())),
 ("mean_2d_sw", lambda: M.Mean()(np.arange(6, dtype=np.float32).reshape(3, 2), sample_weight=[1., 0., 2.])),
 ("accuracy", lambda: M.Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])),
 ("binary_accuracy", lambda: two(M.BinaryAccuracy(), yb, pb)),
 ("binary_accuracy_sw", lambda: two(M.BinaryAccuracy(threshold=0.7), yb, pb, sample_weight=sw)),
 ("categorical_accuracy", lambda: M.CategoricalAccuracy()(onehot, logits)),
 ("sparse_categorical_accuracy", lambda: M.SparseCategoricalAccuracy()(sparse, logits)),
 ("sparse_categorical_accuracy_col", lambda: M.SparseCategoricalAccuracy()(sparse[:, None], logits)),
 ("precision", lambda: two(M.Precision(), yb, pb)),
 ("recall", lambda: two(M.Recall(), yb, pb)),
 ("precision_sw", lambda: two(M.Precision(thresholds=[0.3, 0.6]), yb, pb, sample_weight=sw)),
 ("recall_top1", lambda: M.Recall(top_k=1)(onehot, 1 / (1 + np.exp(-logits)))),
 ("precision_class", lambda: M.Precision(class_id=2)(onehot, 1 / (1 + np.exp(-logits)))),
 ("tp", lambda: two(M.TruePositives(), yb, pb)),
 ("fp", lambda: two(M.FalsePositives(), yb, pb)),
 ("tn", lambda: two(M.TrueNegatives(), yb, pb)),
 ("fn", lambda: two(M.FalseNegatives(thresholds=[0.2, 0.8]), yb, pb)),
 ("auc", lambda: two(M.AUC(), yb, pb)),
 ("auc_sw", lambda: two(M.AUC(num_thresholds=50), yb, pb, sample_weight=sw)),
 ("auc_pr", lambda: two(M.AUC(curve="PR"), yb, pb)),
 ("auc_logits", lambda: M.AUC(from_logits=True)(yb, pb * 6 - 3)),
 ("mse_metric", lambda: M.MeanSquaredError()(yb, pb)),
 ("scce_metric", lambda: M.SparseCategoricalCrossentropy(from_logits=True)(sparse, logits)),
]
TF_RESULTS = {
    "mean": 2.8,
    "mean_2d_sw": 3.166667,
    "accuracy": 0.75,
    "binary_accuracy": 0.725,
    "binary_accuracy_sw": 0.765315,
    "categorical_accuracy": 0.3,
    "sparse_categorical_accuracy": 0.3,
    "sparse_categorical_accuracy_col": 0.3,
    "precision": 0.772727,
    "recall": 0.73913,
    "precision_sw": [0.642058, 0.81138],
    "recall_top1": 0.3,
    "precision_class": 0.333333,
    "tp": 17.0,
    "fp": 5.0,
    "tn": 12.0,
    "fn": [0.0, 13.0],
    "auc": 0.873402,
    "auc_sw": 0.866308,
    "auc_pr": 0.911139,
    "auc_logits": 0.872123,
    "mse_metric": 0.14547,
    "scce_metric": 1.870904,
}


@pytest.mark.parametrize("name, fn", CASES, ids=[name for name, _ in CASES])
def test_metric_matches_tensorflow(name, fn):
    np.testing.assert_allclose(np.asarray(fn()), TF_RESULTS[name], rtol=2e-6, atol=1e-6)


def test_reset_state_clears_and_variables_are_not_trainable():
    m = M.Mean()
    m.update_state([1.0, 2.0])
    assert float(m.result()) == 1.5
    m.reset_state()
    assert float(m.result()) == 0.0
    assert len(m.variables) == 2 and not any(v.trainable for v in m.variables)


def test_confusion_metrics_refuse_logits_with_the_fix():
    with pytest.raises(ValueError, match="Apply a sigmoid or softmax"):
        M.Precision().update_state([1.0, 0.0], [2.5, -1.0])


def test_get_by_name():
    assert isinstance(M.get("sparse_categorical_accuracy"), M.SparseCategoricalAccuracy)
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        M.get("acuracy")
