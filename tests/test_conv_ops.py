"""tf.nn.conv2d, max_pool2d and avg_pool2d: shapes, values and gradients match TensorFlow's.

Expected numbers were printed by TensorFlow 2.21 for the same inputs (facts here, not a
dependency): for each setting, the output's shape, its sum and first values, the loss
sum(y ** 2), and the squared norms of the gradients.
"""
import numpy as np
import pytest

import tapeviz as tf

rng = np.random.default_rng(0)
X = np.round(rng.standard_normal((2, 7, 6, 3)), 2).astype(np.float32)
W = np.round(rng.standard_normal((3, 2, 3, 4)), 2).astype(np.float32)

# strides, padding, output shape, sum(y), sum(y^2), |dx|^2, |dw|^2, first four outputs
TF_CONV = [
    (1, "VALID", (2, 5, 5, 4), -69.0762939453125, 4084.28271484375, 607304.625, 1149911.75, [2.3208, -2.7132, -3.9108, -0.8516]),
    (2, "SAME", (2, 4, 3, 4), -9.331497192382812, 1388.3017578125, 127484.828125, 227420.234375, [0.648, -1.5398, 0.8738, -2.7782]),
    ((1, 2), "SAME", (2, 7, 3, 4), -30.239601135253906, 2968.65185546875, 336914.90625, 658348.3125, [0.648, -1.5398, 0.8738, -2.7782]),
]
# op, ksize, strides, padding, output shape, sum(y), |d sum(y^2)/dx|^2, first four outputs
TF_POOL = [
    ("max_pool2d", 2, 2, "VALID", (2, 3, 3, 3), 56.96000289916992, 334.9679870605469, [1.37, 1.04, 0.64, 1.3]),
    ("max_pool2d", 3, 2, "SAME", (2, 4, 3, 3), 92.04000091552734, 1029.21044921875, [1.37, 1.04, 0.64, 1.3]),
    ("max_pool2d", 2, 1, "SAME", (2, 7, 6, 3), 227.6699981689453, 4920.25146484375, [1.37, 1.04, 0.64, 1.37]),
    ("avg_pool2d", 2, 2, "VALID", (2, 3, 3, 3), 0.6900004148483276, 13.072687149047852, [0.5025, -0.075, 0.305, 0.0025]),
    ("avg_pool2d", 3, 2, "SAME", (2, 4, 3, 3), -1.5188891887664795, 10.99067211151123, [0.701667, 0.123333, -0.036667, -0.555]),
    ("avg_pool2d", 2, 1, "SAME", (2, 7, 6, 3), -0.17499911785125732, 338.55572509765625, [0.5025, -0.075, 0.305, 0.9175]),
]


@pytest.mark.parametrize("strides, padding, shape, total, loss, dx2, dw2, first", TF_CONV)
def test_conv2d_matches_tensorflow(strides, padding, shape, total, loss, dx2, dw2, first):
    x, w = tf.Variable(X), tf.Variable(W)
    with tf.GradientTape() as tape:
        y = tf.nn.conv2d(x, w, strides, padding)
        value = tf.reduce_sum(y * y)
    dx, dw = tape.gradient(value, [x, w])
    assert tuple(y.shape) == shape
    np.testing.assert_allclose(y.numpy().ravel()[:4], first, atol=1e-5)
    np.testing.assert_allclose([float(tf.reduce_sum(y)), float(value), float(tf.reduce_sum(dx * dx)),
                                float(tf.reduce_sum(dw * dw))], [total, loss, dx2, dw2], rtol=2e-6)


@pytest.mark.parametrize("pool, ksize, strides, padding, shape, total, dx2, first", TF_POOL)
def test_pooling_matches_tensorflow(pool, ksize, strides, padding, shape, total, dx2, first):
    x = tf.Variable(X)
    with tf.GradientTape() as tape:
        y = getattr(tf.nn, pool)(x, ksize, strides, padding)
        value = tf.reduce_sum(y * y)
    dx = tape.gradient(value, x)
    assert tuple(y.shape) == shape
    np.testing.assert_allclose(y.numpy().ravel()[:4], first, atol=1e-5)
    np.testing.assert_allclose(float(tf.reduce_sum(y)), total, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(float(tf.reduce_sum(dx * dx)), dx2, rtol=2e-6)


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima():
    t = tf.Variable(np.ones((1, 2, 2, 1), np.float32))
    with tf.GradientTape() as tape:
        y = tf.nn.max_pool2d(t, 2, 2, "VALID")
    np.testing.assert_array_equal(tape.gradient(y, t).numpy().ravel(), [1, 0, 0, 0])


def test_conv2d_errors_name_the_fix():
    with pytest.raises(ValueError, match="in_channels"):
        tf.nn.conv2d(X, np.zeros((3, 3, 2, 4), np.float32), 1, "VALID")
    with pytest.raises(ValueError, match="data_format='NHWC' only"):
        tf.nn.conv2d(X, W, 1, "VALID", data_format="NCHW")
    with pytest.raises(ValueError, match="padding must be 'SAME', 'VALID'"):
        tf.nn.conv2d(X, W, 1, "FULL")


def test_patches_kept_for_the_backward_pass_are_released_with_their_input():
    import gc

    from tapeviz.ops import conv_ops

    w = tf.Variable(np.ones((3, 3, 3, 2), np.float32))
    for _ in range(3):
        x = tf.constant(np.random.default_rng(0).random((2, 6, 6, 3)).astype(np.float32))
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.nn.conv2d(x, w, 1, "SAME") ** 2)
        reused = tape.gradient(y, w).numpy()
    conv_ops._PATCHES.clear()
    fresh = conv_ops._conv2d_backprop_filter(x.numpy(), 2 * tf.nn.conv2d(x, w, 1, "SAME").numpy(), (3, 3, 3, 2),
                                             (1, 1), "SAME", (1, 1))
    np.testing.assert_allclose(reused, fresh, rtol=1e-6)
    del x, tape, y
    gc.collect()
    assert not conv_ops._PATCHES
