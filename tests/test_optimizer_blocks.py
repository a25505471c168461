"""Adam updates large arrays block by block (tapeviz.keras.optimizers.blocks): bit for bit the result of
Keras 3's whole-array arithmetic, whatever the size, layout, or sharing of the arrays."""
import numpy as np
import pytest

import tapeviz as tf
from tapeviz.keras.optimizers.blocks import BLOCK

LR, B1, B2, EPS = 0.01, 0.9, 0.999, 1e-7


def keras_adam(w, grads, amsgrad=False):
    """Keras 3's Adam.update_step written whole-array in float32, one step per gradient."""
    f = np.float32
    w = w.copy()
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        alpha = f(LR) * np.sqrt(f(1) - np.power(f(B2), f(t))) / (f(1) - np.power(f(B1), f(t)))
        m = m + (g - m) * f(1 - B1)
        v = v + (g * g - v) * f(1 - B2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)  # the velocity slot keeps v; the step divides by v_hat
        w = w - (m * alpha) / (np.sqrt(v_hat if amsgrad else v) + f(EPS))
    return w, m


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("shape", [(3,), (BLOCK,), (3, BLOCK // 2 + 7), (2 * BLOCK + 5,)])
def test_blocked_adam_is_bitwise_keras_order(shape, amsgrad):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    variable = tf.Variable(w0)
    optimizer = tf.keras.optimizers.Adam(LR, B1, B2, EPS, amsgrad=amsgrad)
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    expected_w, expected_m = keras_adam(w0, grads, amsgrad)
    np.testing.assert_array_equal(variable.numpy(), expected_w)
    np.testing.assert_array_equal(optimizer.slots(variable)[0].numpy(), expected_m)


def test_fortran_ordered_weights_and_transposed_gradients_update_correctly():
    rng = np.random.default_rng(4)
    w0 = np.asfortranarray(rng.standard_normal((300, 250)).astype(np.float32))
    grads = [rng.standard_normal((250, 300)).astype(np.float32).T for _ in range(2)]  # non-contiguous views
    variable = tf.Variable(w0)
    optimizer = tf.keras.optimizers.Adam(LR, B1, B2, EPS)
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    np.testing.assert_array_equal(variable.numpy(), keras_adam(np.ascontiguousarray(w0), grads)[0])


def test_weights_read_before_a_large_update_keep_their_values():
    rng = np.random.default_rng(5)
    variable = tf.Variable(rng.standard_normal(2 * BLOCK + 1).astype(np.float32))
    optimizer = tf.keras.optimizers.Adam(LR)
    optimizer.apply_gradients([(tf.ones(2 * BLOCK + 1), variable)])
    read = variable.value()
    before = read.numpy().copy()
    optimizer.apply_gradients([(tf.ones(2 * BLOCK + 1), variable)])
    np.testing.assert_array_equal(read.numpy(), before)
    assert not np.array_equal(variable.numpy(), before)
