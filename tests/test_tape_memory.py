"""A tape keeps no large value that no rule will read, decided per input and per output.

Each case drops the program's own references and checks, with weak references, which
intermediate arrays the tape alone keeps alive: exactly those the gradient rules read. The
gradients are checked too, since a value dropped that a rule did read would make them wrong.
"""
import gc
import weakref

import numpy as np
import pytest

import tapeviz as tf

N = 100_000  # 400 KB of float32: far above the size under which values are always kept


def alive_after_forward(build, *sources):
    """Run ``build`` on a tape; return ({name: is its value still alive}, gradients, tape)."""
    refs = {}

    def keep(name, tensor):
        refs[name] = weakref.ref(tensor._value)
        return tensor

    with tf.GradientTape() as tape:
        target = build(keep)
    gc.collect()
    alive = {name: ref() is not None for name, ref in refs.items()}
    return alive, tape.gradient(target, list(sources))


@pytest.fixture
def x():
    return tf.Variable(np.linspace(-1.0, 1.0, N, dtype=np.float32))


def test_a_reduction_keeps_no_large_input(x):
    # Sum reads only its input's shape; its scalar output used to let it keep x + 1 whole.
    alive, (dx,) = alive_after_forward(lambda keep: tf.reduce_sum(keep("x+1", x + 1.0)), x)
    assert alive == {"x+1": False}
    np.testing.assert_array_equal(dx.numpy(), np.ones(N, np.float32))


def test_relu_then_scale_keeps_only_the_relu_output(x):
    def build(keep):
        shifted = keep("x+1", x + 1.0)
        active = keep("relu", tf.nn.relu(shifted))
        return tf.reduce_sum(keep("*3", active * 3.0))

    alive, (dx,) = alive_after_forward(build, x)
    assert alive == {"x+1": False, "relu": True, "*3": False}  # Mul's rule reads its inputs, Relu's its output
    np.testing.assert_array_equal(dx.numpy(), np.where(x.numpy() + 1.0 > 0, 3.0, 0.0).astype(np.float32))


def test_rules_reading_some_inputs_keep_only_those(x):
    # GatherV2 reads the indices, not the params; SelectV2 reads the condition, not the branches.
    def build(keep):
        doubled = keep("2x", x * 2.0)
        picked = tf.gather(doubled, [0, 5, 7])
        positive = keep("x>0", x > 0.0)
        chosen = tf.where(positive, keep("sin", tf.sin(x)), keep("cos", tf.cos(x)))
        return tf.reduce_sum(picked) + tf.reduce_sum(chosen)

    alive, (dx,) = alive_after_forward(build, x)
    assert alive == {"2x": False, "x>0": True, "sin": False, "cos": False}
    v = x.numpy()
    expected = np.where(v > 0, np.cos(v), -np.sin(v))
    expected[[0, 5, 7]] += 2.0
    np.testing.assert_allclose(dx.numpy(), expected, rtol=1e-6)


def test_values_a_rule_reads_stay(x):
    # Exp's rule reads its output, RealDiv's and Mul's their inputs: e and the ratio stay.
    def build(keep):
        e = keep("exp", tf.exp(x))
        return tf.reduce_sum(keep("ratio", e / tf.reduce_sum(e)) * tf.range(N, dtype=tf.float32))

    alive, (dx,) = alive_after_forward(build, x)
    assert alive == {"exp": True, "ratio": True}
    v = x.numpy().astype(np.float64)
    p = np.exp(v) / np.exp(v).sum()
    k = np.arange(N)
    np.testing.assert_allclose(dx.numpy(), p * (k - (p * k).sum()), rtol=2e-3, atol=1e-6)
