"""tf.data.Dataset: slicing, batching, shuffling, mapping and iteration, as tf.data behaves."""
import numpy as np
import pytest

import tapeviz as tf

Dataset = tf.data.Dataset


def test_from_tensor_slices_keeps_tuples_and_dicts_and_yields_tensors():
    features = np.arange(12, dtype=np.float32).reshape(6, 2)
    labels = np.arange(6)
    (x, y), = list(Dataset.from_tensor_slices((features, labels)).take(1))
    assert isinstance(x, tf.Tensor) and x.dtype == tf.float32 and y.dtype == tf.int64
    np.testing.assert_array_equal(x.numpy(), [0.0, 1.0])
    element = next(iter(Dataset.from_tensor_slices({"a": [1.0, 2.0], "b": [[1, 2], [3, 4]]})))
    assert set(element) == {"a", "b"} and element["a"].dtype == tf.float32 and element["b"].dtype == tf.int32
    # A Python list is one tensor, not a structure.
    assert [int(v) for v in Dataset.from_tensor_slices([1, 2, 3])] == [1, 2, 3]


def test_batch_with_and_without_drop_remainder():
    ds = Dataset.range(10)
    assert [b.numpy().tolist() for b in ds.batch(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [len(b) for b in ds.batch(4, drop_remainder=True)] == [4, 4]
    assert len(ds.batch(4)) == 3 and len(ds.batch(4, drop_remainder=True)) == 2


def test_shuffle_is_a_permutation_repeated_with_a_seed_and_reshuffled_each_pass():
    ds = Dataset.range(20).shuffle(20, seed=7)
    first, second = [list(ds.as_numpy_iterator()) for _ in range(2)]
    assert sorted(first) == list(range(20)) and first != list(range(20))
    assert first != second  # reshuffle_each_iteration=True
    again = Dataset.range(20).shuffle(20, seed=7)
    assert list(again.as_numpy_iterator()) == first
    fixed = Dataset.range(20).shuffle(20, seed=7, reshuffle_each_iteration=False)
    assert list(fixed.as_numpy_iterator()) == list(fixed.as_numpy_iterator())
    # A small buffer keeps elements near where they were.
    local = list(Dataset.range(100).shuffle(2, seed=1).as_numpy_iterator())
    assert sorted(local) == list(range(100)) and local[0] in (0, 1, 2)


def test_map_spreads_tuples_repeat_take_skip_and_zip():
    ds = Dataset.from_tensor_slices((np.arange(3.0, dtype=np.float32), np.arange(3))).map(lambda x, y: x * 2.0 + 1.0)
    assert [float(v) for v in ds] == [1.0, 3.0, 5.0]
    assert list(Dataset.range(3).repeat(2).as_numpy_iterator()) == [0, 1, 2, 0, 1, 2]
    assert list(Dataset.range(3).repeat().take(7).as_numpy_iterator()) == [0, 1, 2, 0, 1, 2, 0]
    assert list(Dataset.range(5).skip(3).as_numpy_iterator()) == [3, 4]
    pairs = list(Dataset.zip((Dataset.range(3), Dataset.range(10, 20))).as_numpy_iterator())
    assert pairs == [(0, 10), (1, 11), (2, 12)]
    assert list(Dataset.zip(Dataset.range(2), Dataset.range(2)).as_numpy_iterator()) == [(0, 0), (1, 1)]


def test_prefetch_and_autotune_are_accepted():
    ds = Dataset.range(4).map(lambda v: v + 1, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    assert list(ds.as_numpy_iterator()) == [1, 2, 3, 4]
    assert tf.data.experimental.AUTOTUNE == tf.data.AUTOTUNE


def test_cardinality_and_len():
    assert int(Dataset.range(10).batch(3).cardinality()) == 4
    assert int(Dataset.range(3).repeat().cardinality()) == tf.data.INFINITE_CARDINALITY
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="first axis"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="from_tensors"):
        Dataset.from_tensor_slices(1.0)
    with pytest.raises(ValueError, match="different shapes"):
        list(Dataset.from_generator(lambda: iter([np.zeros(2), np.zeros(3)])).batch(2))


def test_a_training_loop_over_batches_takes_gradients():
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    ds = Dataset.from_tensor_slices((x, 3.0 * x)).batch(4)
    w = tf.Variable(0.0)
    for xb, yb in ds:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * xb - yb) ** 2)
        w.assign_sub(0.1 * tape.gradient(loss, w))
    assert 0.0 < float(w) < 3.0
