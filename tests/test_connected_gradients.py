"""Ops that build their output from a tensor's value must keep the gradient connected where TF's is.

Each expected gradient was printed by TensorFlow 2.21 for the same expression (facts here, not a
dependency): before these tests, tapeviz gave None (or left a term out) for every one of them.
"""
import numpy as np
import pytest

import tapeviz as tf


def _gradient(fn):
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = fn(x)
    grad = tape.gradient(y, x)
    assert grad is not None, "the gradient was cut"
    return grad.numpy()


TF_GRADIENTS = [
    ("fill", lambda x: tf.reduce_sum(tf.fill([2, 3], x[1]) * 2.0), [0.0, 12.0, 0.0]),
    ("linspace", lambda x: tf.reduce_sum(tf.linspace(x[0], x[2], 4)), [2.0, 0.0, 2.0]),
    ("linspace of vectors", lambda x: tf.reduce_sum(tf.linspace(x[:2], x[1:], 3) * [[1.0], [2.0], [3.0]]),
     [2.0, 6.0, 4.0]),
    ("reduce_sum of a list", lambda x: tf.reduce_sum([x[0], x[1]]), [1.0, 1.0, 0.0]),
    ("convert_to_tensor of a list", lambda x: tf.reduce_sum(tf.convert_to_tensor([x[0], x[1]])), [1.0, 1.0, 0.0]),
    ("list operand", lambda x: tf.reduce_sum(x * [x[0], 1.0, 2.0]), [2.0, 1.0, 2.0]),
    ("list operand of add", lambda x: tf.reduce_sum(tf.add(x, [x[1], x[1], 0.0])), [1.0, 3.0, 1.0]),
    ("Python sum of slices", lambda x: sum([x[0], x[1]]), [1.0, 1.0, 0.0]),
    ("random.normal with a tensor mean", lambda x: tf.reduce_sum(tf.random.normal([3], mean=x, stddev=1.0, seed=1)),
     [1.0, 1.0, 1.0]),
    ("random.truncated_normal with a tensor mean",
     lambda x: tf.reduce_sum(tf.random.truncated_normal([5], mean=x[0], stddev=1.0, seed=1)), [5.0, 0.0, 0.0]),
]


@pytest.mark.parametrize("fn, expected", [case[1:] for case in TF_GRADIENTS], ids=[case[0] for case in TF_GRADIENTS])
def test_gradient_is_tensorflows(fn, expected):
    np.testing.assert_allclose(_gradient(fn), expected, rtol=1e-6)


def test_random_normal_stddev_gets_the_sum_of_the_standard_samples():
    x = tf.Variable([1.0, 2.0])
    tf.random.set_seed(3)
    with tf.GradientTape() as tape:
        sample = tf.random.normal([4], mean=x[0], stddev=x[1], seed=5)
        total = tf.reduce_sum(sample)
    tf.random.set_seed(3)
    standard = tf.random.normal([4], seed=5).numpy()
    np.testing.assert_allclose(sample.numpy(), 1.0 + 2.0 * standard, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(total, x), [4.0, standard.sum()], rtol=1e-5)


def test_random_uniform_bounds_get_gradients():
    bounds = tf.Variable([1.0, 3.0])
    with tf.GradientTape() as tape:
        sample = tf.random.uniform([6], minval=bounds[0], maxval=bounds[1], seed=2)
        total = tf.reduce_sum(sample)
    unit = (sample.numpy() - 1.0) / 2.0
    assert np.all((sample.numpy() >= 1.0) & (sample.numpy() < 3.0))
    np.testing.assert_allclose(tape.gradient(total, bounds), [6 - unit.sum(), unit.sum()], rtol=1e-5)


def test_linspace_values_are_the_same_watched_or_not():
    # TF's values (printed by TF 2.21), through the constant path and the composed one.
    start, stop = tf.constant([0.0, 1.0]), tf.constant([1.0, 3.0])
    expected = [[0.0, 1 / 3, 2 / 3, 1.0], [1.0, 5 / 3, 7 / 3, 3.0]]
    np.testing.assert_allclose(tf.linspace(start, stop, 4, axis=1), expected, rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(start)
        composed = tf.linspace(start, stop, 4, axis=1)
    np.testing.assert_allclose(composed, expected, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(composed, start), [2.0, 2.0], rtol=1e-6)
    with tf.GradientTape() as tape:
        tape.watch(start)
        one, none = tf.linspace(start[0], stop[0], 1), tf.linspace(start[0], stop[0], 0)
    assert one.numpy().tolist() == [0.0] and none.shape == (0,)
    assert tf.linspace(0, 5, 4).dtype == tf.float64


def test_fill_keeps_tensorflows_values_and_refuses_a_non_scalar():
    assert tf.fill([2, 2], 3).numpy().tolist() == [[3, 3], [3, 3]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="scalar"):
        tf.fill([2], tf.constant([1.0, 2.0]))


def test_constant_of_a_list_of_tensors_stays_a_constant():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.constant([x[0], x[1]]) * x)
    np.testing.assert_allclose(tape.gradient(y, x), [1.0, 2.0])


def test_a_list_mixing_dtypes_names_the_cast():
    with pytest.raises(TypeError, match="tapeviz.cast"):
        tf.convert_to_tensor([tf.constant(1.0), tf.constant(2)])


def test_random_ops_take_array_moments_and_bounds_as_tf_does():
    # TF composes sample * stddev + mean with ops, so a list of means broadcasts over the last axis.
    sample = tf.random.normal([2000, 3], mean=[0.0, 10.0, 100.0], seed=1).numpy()
    np.testing.assert_allclose(sample.mean(axis=0), [0.0, 10.0, 100.0], atol=0.1)
    bounded = tf.random.uniform([1000, 3], minval=[0.0, 10.0, 20.0], maxval=[1.0, 11.0, 21.0], seed=1).numpy()
    assert np.all((bounded >= [0.0, 10.0, 20.0]) & (bounded < [1.0, 11.0, 21.0]))


def test_random_generator_repeats_from_a_seed_and_stateless_ops_from_a_seed_pair():
    first = tf.random.Generator.from_seed(1)
    a, b = first.normal([2, 3]), first.normal([2, 3])
    again = tf.random.Generator.from_seed(1)
    np.testing.assert_array_equal(again.normal([2, 3]), a)
    assert not np.array_equal(a, b)
    one, two = tf.random.stateless_uniform([4], seed=[1, 2]), tf.random.stateless_uniform([4], seed=[1, 2])
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, tf.random.stateless_uniform([4], seed=[1, 3]))
    seeds = first.make_seeds(2)
    assert seeds.shape == (2, 2) and tf.random.stateless_normal([3], seed=seeds[:, 0]).shape == (3,)
    assert len(first.split(2)) == 2
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"seed must have shape \[2\], not \[1\]"):
        tf.random.stateless_normal([2], seed=[1])


def test_a_generator_draw_with_a_tensor_mean_passes_the_gradient():
    mean = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.random.Generator.from_seed(3).normal([4], mean=mean))
    assert tape.gradient(total, mean).numpy() == 4.0
