"""Gradient penalty: the critic's score is summed after the inner tape's block has closed."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(31)
w = tf.Variable(rng.standard_normal((3, 1)).astype(np.float32), name="critic_w")
samples = [tf.constant(rng.standard_normal((4, 3)).astype(np.float32)) for _ in range(3)]

for x in samples:
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            scores = tf.tanh(x @ w)
        total = tf.reduce_sum(scores)  # BUG: outside the inner tape's block
        grad_x = inner.gradient(total, x)
        print("grad_x is None:", grad_x is None)
        penalty = tf.reduce_mean(tf.square(scores)) if grad_x is None else tf.reduce_mean(tf.square(grad_x))
    print(outer.gradient(penalty, w) is None)
