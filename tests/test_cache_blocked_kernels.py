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
