"""Kernels that work in cache-sized blocks on large arrays give bit for bit their whole-array result.

ReluGrad past RELU_GRAD_BLOCKED_MIN elements, MaxPool and MaxPoolGrad over large batches: the blocks
only change which elements are computed when, never how, so NaNs, signed zeros and ties land
exactly where the straightforward computation puts them.
"""
import numpy as np
import pytest

import tapeviz as tf
from tapeviz.ops import nn_ops


def _bits(array):
    return np.ascontiguousarray(array).view(np.uint32)


@pytest.mark.parametrize("size", [nn_ops.RELU_GRAD_BLOCKED_MIN, 3 * nn_ops.RELU_GRAD_BLOCKED_MIN + 7])
def test_large_relu_grad_is_the_mask_times_the_gradients(size):
    rng = np.random.default_rng(0)
    gradients = rng.standard_normal(size).astype(np.float32)
    features = rng.standard_normal(size).astype(np.float32)
    gradients[::97], features[::89], features[::101], gradients[::13] = np.nan, np.nan, 0.0, -0.0
    expected = (features > 0).astype(np.float32) * gradients  # TF's ReluGrad: gradients * (features > 0)
    result = nn_ops.relu_grad(tf.constant(gradients.reshape(-1, 1)), tf.constant(features.reshape(-1, 1)))
    np.testing.assert_array_equal(_bits(result.numpy().ravel()), _bits(expected))


def _max_pool_by_windows(x, k, s):
    """Reference MaxPool (VALID) straight from the definition: the maximum of each window."""
    n, h, w, c = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    return np.array([[[x[b, i * s:i * s + k, j * s:j * s + k].max(axis=(0, 1)) for j in range(ow)]
                      for i in range(oh)] for b in range(n)])


def _max_pool_grad_by_windows(x, dy, k, s):
    """Reference MaxPoolGrad (VALID): each window's gradient to its first maximum in row-major order."""
    n, h, w, c = x.shape
    out = np.zeros_like(x)
    for b in range(n):
        for i in range(dy.shape[1]):
            for j in range(dy.shape[2]):
                window = x[b, i * s:i * s + k, j * s:j * s + k].reshape(k * k, c)
                first = window.argmax(axis=0)  # argmax picks the first of tied maxima
                for ch in range(c):
                    out[b, i * s + first[ch] // k, j * s + first[ch] % k, ch] += dy[b, i, j, ch]
    return out


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2)])
def test_max_pool_and_its_gradient_over_many_image_blocks_match_the_definition(k, s):
    from tapeviz.ops import conv_ops
    rng = np.random.default_rng(1)
    batch = 2 * conv_ops.POOL_BLOCK_BYTES // (9 * 9 * 16 * 4) + 3  # several blocks of whole images
    x = np.maximum(rng.standard_normal((batch, 9, 9, 16)).astype(np.float32), 0)  # zeros: many tied windows
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.max_pool2d(xt, k, s, "VALID")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(y.numpy(), _max_pool_by_windows(x, k, s))
    gradient = tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy()
    if k == s:  # disjoint windows: each element gets one gradient or none, exactly
        np.testing.assert_array_equal(gradient, _max_pool_grad_by_windows(x, dy, k, s))
    else:  # overlapping windows add their shares in another order than the reference: rounding only
        np.testing.assert_allclose(gradient, _max_pool_grad_by_windows(x, dy, k, s), rtol=1e-6, atol=1e-6)
