"""A small MLP trained by hand-written SGD: the program people record when their gradients misbehave.

16x32 inputs -> 64 ReLU units -> 10 outputs, squared error, ``assign_sub`` updates. Used by
bench_recording.py in-process and, as a script, under ``python`` and ``tapeviz run``:
``python benchmarks/training_loop.py STEPS``.
"""
import sys

import numpy as np

import tapeviz as tf


def make_model(seed=0):
    rng = np.random.default_rng(seed)
    data = tf.constant(rng.standard_normal((16, 32)).astype(np.float32))
    labels = tf.constant(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)])
    params = [tf.Variable(rng.standard_normal((32, 64)).astype(np.float32) * 0.1, name="w1"),
              tf.Variable(np.zeros(64, np.float32), name="b1"),
              tf.Variable(rng.standard_normal((64, 10)).astype(np.float32) * 0.1, name="w2"),
              tf.Variable(np.zeros(10, np.float32), name="b2")]
    return data, labels, params


def train(steps, model=None, learning_rate=0.05):
    data, labels, params = model or make_model()
    w1, b1, w2, b2 = params
    loss = None
    for _ in range(steps):
        with tf.GradientTape() as tape:
            hidden = tf.nn.relu(data @ w1 + b1)
            logits = hidden @ w2 + b2
            loss = tf.reduce_mean(tf.square(logits - labels))
        grads = tape.gradient(loss, params)
        for param, grad in zip(params, grads):
            param.assign_sub(learning_rate * grad)
    return loss


if __name__ == "__main__":
    print(f"final loss {float(train(int(sys.argv[1]) if len(sys.argv) > 1 else 800)):.6f}")
