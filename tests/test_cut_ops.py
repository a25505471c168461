"""Ops whose results are integers or booleans made from their inputs are ops (TF's op types), not new
constants: their values as TF gives them, the op the recorder sees, and the one real gradient among them
(confusion_matrix's weights, through ScatterNd, as in TF)."""
import numpy as np
import pytest

import tapeviz as tf


def recorded_types(function):
    with tf.record() as rec:
        function()
    return [op.type for op in rec.snapshot().ops.values()]


@pytest.mark.parametrize("function, op_type", [
    (lambda: tf.argsort(tf.constant([3.0, 1.0, 2.0])), "TopKV2"),
    (lambda: tf.where(tf.constant([True, False, True])), "Where"),
    (lambda: tf.boolean_mask(tf.constant([1.0, 2.0]), tf.constant([True, False])), "Where"),
    (lambda: tf.math.in_top_k(tf.constant([0]), tf.constant([[1.0, 2.0]]), 1), "InTopKV2"),
    (lambda: tf.random.shuffle(tf.constant([1.0, 2.0, 3.0])), "RandomShuffle"),
    (lambda: tf.sequence_mask(tf.constant([1, 2])), "Less"),
    (lambda: tf.math.count_nonzero(tf.constant([0.0, 2.0])), "NotEqual"),
    (lambda: tf.math.confusion_matrix(tf.constant([0, 1]), tf.constant([1, 1])), "ScatterNd"),
    (lambda: tf.math.bincount(tf.constant([0, 2, 2])), "DenseBincount"),
    (lambda: tf.constant([3, 4]) / tf.constant(2), "Cast"),
    (lambda: tf.dynamic_partition(tf.constant([1.0, 2.0]), tf.constant([1, 0]), 2), "Where"),
    (lambda: tf.gather(tf.constant([[1.0, 2.0]]), tf.constant([[1]]), batch_dims=1), "AddV2"),
    (lambda: tf.ones_like(tf.constant([1.0])), "OnesLike"),
    (lambda: tf.zeros_like(tf.constant([1.0]), dtype=tf.int32), "ZerosLike"),
    (lambda: tf.shape(tf.constant([1.0])), "Shape"),
    (lambda: tf.size(tf.constant([1.0])), "Size"),
    (lambda: tf.rank(tf.constant([1.0])), "Rank"),
])
def test_the_recorder_sees_the_op(function, op_type):
    assert op_type in recorded_types(function)


def test_values_as_tensorflow_gives_them():
    # Observed with TF 2.21.
    assert tf.argsort(tf.constant([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]), axis=0).numpy().tolist() == [[1, 0, 0],
                                                                                                     [0, 1, 1]]
    assert tf.where(tf.constant([[True, False], [False, True]])).numpy().tolist() == [[0, 0], [1, 1]]
    assert tf.math.in_top_k(tf.constant([0, 1]), tf.constant([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]),
                            2).numpy().tolist() == [True, True]
    mask = tf.sequence_mask(tf.constant([1, 3]), dtype=tf.float32)
    assert mask.dtype == tf.float32 and mask.numpy().tolist() == [[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    counts = tf.math.count_nonzero(tf.constant([[3.0, 0.0, 2.0], [0.0, 5.0, 4.0]]), axis=1)
    assert counts.dtype == tf.int64 and counts.numpy().tolist() == [2, 2]
    assert (tf.constant([3, 4]) / 2).dtype == tf.float64
    like = tf.zeros_like(tf.constant([[1.5, 2.0]]), dtype=tf.int32)
    assert like.dtype == tf.int32 and like.numpy().tolist() == [[0, 0]]
    assert tf.shape(tf.zeros([2, 3])).numpy().tolist() == [2, 3] and tf.shape(tf.zeros([2, 3])).dtype == tf.int32
    assert int(tf.size(tf.zeros([2, 3]))) == 6 and int(tf.rank(tf.zeros([2, 3]))) == 2


def test_shape_only_ops_give_no_gradient_on_a_tape():
    """TF 2.21: None through each (ZerosLike, OnesLike, Shape, Size are not differentiable)."""
    x = tf.Variable([1.0, 2.0])
    for op in (tf.ones_like, tf.zeros_like, lambda v: tf.cast(tf.shape(v), tf.float32),
               lambda v: tf.cast(tf.size(v), tf.float32)):
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(op(x) * 3.0)
        assert tape.gradient(y, x) is None


def test_a_long_mask_of_int8_lengths_does_not_wrap():
    """The positions are compared in a dtype that holds them: 200 columns of int8 lengths."""
    mask = tf.sequence_mask(np.array([100, 3], np.int8), 200)
    assert mask.shape == (2, 200) and mask.numpy().sum(axis=1).tolist() == [100, 3]


def test_the_weights_of_a_confusion_matrix_get_their_gradient():
    """TF 2.21 gives [1, 8, 8, 3] here (ScatterNd's gradient: each weight gets the upstream gradient at its
    (label, prediction) cell), and None when the matrix is integer."""
    weights = tf.Variable([0.5, 2.0, 1.0, 3.0])
    cells = tf.constant(np.arange(9, dtype=np.float32).reshape(3, 3))
    labels, predictions = [0, 2, 2, 1], [1, 2, 2, 0]

    def loss_of(w):
        matrix = tf.math.confusion_matrix(labels, predictions, num_classes=3, weights=w, dtype=tf.float32)
        return tf.reduce_sum(matrix * cells)

    with tf.GradientTape() as tape:
        loss = loss_of(weights)
    gradient = tape.gradient(loss, weights).numpy()
    assert gradient.tolist() == [1.0, 8.0, 8.0, 3.0]
    step = 1e-2  # the loss is linear in the weights: central differences are exact up to float32 rounding
    for i in range(4):
        bump = np.eye(4, dtype=np.float32)[i] * step
        difference = float(loss_of(weights + bump)) - float(loss_of(weights - bump))
        assert difference / (2 * step) == pytest.approx(gradient[i], rel=1e-3)
    with tf.GradientTape() as tape:
        integer = tf.math.confusion_matrix(labels, predictions, num_classes=3, weights=weights)
        loss = tf.reduce_sum(tf.cast(integer, tf.float32) * cells)
    assert tape.gradient(loss, weights) is None


def test_labels_made_from_the_shape_of_the_predictions():
    """bce(tf.ones(tf.shape(fake_logits)), real_logits): the generator reaches the loss only through the
    shape. TF 2.21: None (Shape, then Fill). Shape is an op and Fill takes the shape tensor itself, so the
    explanation names Shape where it used to say the loss does not use the generator."""
    rng = np.random.default_rng(7)
    generator = tf.Variable(rng.standard_normal((3, 1)).astype(np.float32))
    real_logits = tf.constant(rng.standard_normal((4, 1)).astype(np.float32))
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.record() as rec:
        for _ in range(2):
            with tf.GradientTape() as tape:
                fake_logits = tf.constant(rng.standard_normal((4, 3)).astype(np.float32)) @ generator
                loss = bce(tf.ones(tf.shape(fake_logits)), real_logits)
            assert tape.gradient(loss, generator) is None
    found = [explanation for *_, explanation in rec.snapshot().nones()]
    assert len(found) == 2 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: Shape.") and "keep only the shape" in found[0].fix
