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


def _reference_windows(x, kernel, strides, dilations, pads):
    """Every window of the padded input in float64, (N, OH, OW, KH, KW, C), straight from indices."""
    padded = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    oh, ow = [(padded.shape[1 + a] - span[a]) // strides[a] + 1 for a in range(2)]
    windows = np.empty((x.shape[0], oh, ow, kernel[0], kernel[1], x.shape[3]))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            top, left = i * dilations[0], j * dilations[1]
            windows[:, :, :, i, j] = padded[:, top:top + strides[0] * (oh - 1) + 1:strides[0],
                                            left:left + strides[1] * (ow - 1) + 1:strides[1]]
    return padded.shape, windows


def _reference_input_backprop(dy, w, shape, padded_shape, strides, dilations, pads):
    padded = np.zeros(padded_shape)
    oh, ow = dy.shape[1:3]
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            top, left = i * dilations[0], j * dilations[1]
            padded[:, top:top + strides[0] * (oh - 1) + 1:strides[0], left:left + strides[1] * (ow - 1) + 1:strides[1]] \
                += np.einsum("nhwo,co->nhwc", dy.astype(np.float64), w[i, j].astype(np.float64))
    return padded[:, pads[0][0]:pads[0][0] + shape[1], pads[1][0]:pads[1][0] + shape[2]]


# input shape, filter shape, strides, padding (explicit pairs), dilations
BLOCKED_CONV_SETTINGS = [
    ((5, 9, 8, 3), (3, 3, 3, 4), (1, 1), ((1, 1), (1, 1)), (1, 1)),    # few channels: transposed patches
    ((5, 9, 8, 10), (3, 2, 10, 4), (2, 1), ((0, 1), (2, 0)), (1, 1)),  # many channels, uneven padding
    ((3, 11, 10, 9), (2, 3, 9, 5), (1, 2), ((0, 0), (0, 0)), (2, 1)),  # dilated, no padding
    ((2, 7, 7, 1), (5, 5, 1, 3), (3, 3), ((2, 2), (2, 2)), (1, 1)),    # windows wider than the stride
    ((3, 10, 6, 9), (3, 2, 9, 4), (2, 1), ((1, 2), (0, 1)), (2, 1)),   # dilated and strided rows only
]


@pytest.mark.parametrize("block_bytes", [1, 700, 5000, None])  # rows of one image, whole images, all at once
@pytest.mark.parametrize("x_shape, w_shape, strides, pads, dilations", BLOCKED_CONV_SETTINGS)
def test_conv2d_and_its_backprops_in_blocks_match_the_definition(monkeypatch, block_bytes, x_shape, w_shape, strides,
                                                                 pads, dilations):
    from tapeviz.ops import conv_ops
    if block_bytes is not None:
        monkeypatch.setattr(conv_ops, "PATCH_BLOCK_BYTES", block_bytes)
        monkeypatch.setattr(conv_ops, "BACKPROP_INPUT_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    padded_shape, windows = _reference_windows(x, w_shape[:2], strides, dilations, pads)
    y = conv_ops._conv2d(x, w, strides, pads, dilations)
    np.testing.assert_allclose(y, np.einsum("nhwijc,ijco->nhwo", windows, w.astype(np.float64)), rtol=1e-5, atol=1e-5)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dw = conv_ops._conv2d_backprop_filter(x, dy, w_shape, strides, pads, dilations)
    np.testing.assert_allclose(dw, np.einsum("nhwijc,nhwo->ijco", windows, dy.astype(np.float64)), rtol=1e-5, atol=1e-4)
    dx = conv_ops._conv2d_backprop_input(w, dy, x_shape, strides, pads, dilations)
    np.testing.assert_allclose(dx, _reference_input_backprop(dy, w, x_shape, padded_shape, strides, dilations, pads),
                               rtol=1e-5, atol=1e-5)


def test_backprops_name_a_mismatched_out_backprop():
    from tapeviz.ops import conv_ops
    wrong = np.zeros((2, 4, 4, 4), np.float32)  # the VALID output of X and W is (2, 5, 5, 4)
    with pytest.raises(Exception, match="out_backprop has shape"):
        conv_ops.conv2d_backprop_filter(X, W.shape, wrong, 1, "VALID")
    with pytest.raises(Exception, match="out_backprop has shape"):
        conv_ops.conv2d_backprop_input(X.shape, W, wrong, 1, "VALID")
