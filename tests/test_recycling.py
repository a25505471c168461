"""Recycled kernel outputs: an array is handed out again only once nothing refers to it any more.

Large outputs of convolution, pooling and ReLU come from tapeviz.ops._recycling, which reuses the
memory of earlier outputs nobody holds. Whatever still holds one (a tensor, a view of it, the
array from ``.numpy()``, a tape) must keep its values through any number of later ops.
"""
import gc

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.ops import _recycling

BIG = (64, 26, 26, 32)  # 5.5 MB of float32: past MIN_BYTES


def _address(array):
    return array.__array_interface__["data"][0]


@pytest.fixture(autouse=True)
def _fresh():
    gc.collect()
    _recycling.release()
    yield
    gc.collect()
    _recycling.release()


def test_memory_nobody_holds_is_handed_out_again():
    first = _recycling.empty(BIG, np.float32)
    address = _address(first)
    del first
    second = _recycling.empty(BIG, np.float32)
    assert _address(second) == address
    assert second.shape == BIG and second.dtype == np.float32


@pytest.mark.parametrize("holder", ["array", "view", "tensor", "numpy"])
def test_memory_something_holds_is_not_handed_out(holder):
    values = np.random.default_rng(0).standard_normal(BIG).astype(np.float32)
    out = _recycling.empty(BIG, np.float32)
    out[...] = values
    held = {"array": lambda: out, "view": lambda: out[3:5, ::2],
            "tensor": lambda: tf.constant(out), "numpy": lambda: tf.constant(out).numpy()}[holder]()
    address = _address(out)
    del out
    gc.collect()
    others = [_recycling.empty(BIG, np.float32) for _ in range(3)]
    for other in others:
        other.fill(7.0)
        assert _address(other) != address
    expected = {"view": values[3:5, ::2]}.get(holder, values)
    np.testing.assert_array_equal(np.asarray(held), expected)


def test_small_arrays_are_not_kept():
    before = _recycling.kept_bytes()
    _recycling.empty((10, 10), np.float32)
    assert _recycling.kept_bytes() == before


def test_at_most_keep_bytes_are_kept_and_the_longest_unused_go_first(monkeypatch):
    size = _recycling.MIN_BYTES // 4 + 64
    monkeypatch.setattr(_recycling, "KEEP_BYTES", 3 * 4 * size)
    held = [_recycling.empty((size,), np.float32) for _ in range(3)]  # fills the budget
    _recycling.empty((size + 8,), np.float32)  # made, but not kept: the kept ones are all in use
    assert _recycling.kept_bytes() == 3 * 4 * size
    del held[0]
    held.append(_recycling.empty((size,), np.float32))  # the unused one, handed out again
    del held[1]  # now the longest unused
    newest_unused = held.pop()
    newest_address = _address(newest_unused)
    del newest_unused
    held.append(_recycling.empty((size - 8,), np.float32))  # room for it: the longest unused goes, only it
    assert _recycling.kept_bytes() == 3 * 4 * size - 32
    assert _address(_recycling.empty((size,), np.float32)) == newest_address


def test_release_lets_go_of_unused_arrays_only():
    held = _recycling.empty(BIG, np.float32)
    unused = _recycling.empty(BIG, np.float32)
    del unused
    assert _recycling.release() == held.nbytes
    assert _recycling.kept_bytes() == held.nbytes


def test_a_training_step_leaves_the_tensors_of_earlier_steps_intact():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((64, 28, 28, 1)).astype(np.float32))
    kernel = tf.Variable(rng.standard_normal((3, 3, 1, 32)).astype(np.float32) * 0.3)

    def step():
        with tf.GradientTape() as tape:
            h = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "VALID"))
            pooled = tf.nn.max_pool2d(h, 2, 2, "VALID")
            loss = tf.reduce_sum(pooled * pooled)
        grad = tape.gradient(loss, kernel)
        kernel.assign_sub(1e-4 * grad)
        return h, pooled, grad

    kept = step()
    copies = [t.numpy().copy() for t in kept]
    for _ in range(3):
        step()
    for tensor, copy in zip(kept, copies):
        np.testing.assert_array_equal(tensor.numpy(), copy)
