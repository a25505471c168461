"""The loss is computed in a helper with its own tape; the training loop asks a tape it never entered."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(45)
x = tf.constant(rng.standard_normal((8, 2)).astype(np.float32))
y = tf.constant(rng.standard_normal((8, 1)).astype(np.float32))
w = tf.Variable(rng.standard_normal((2, 1)).astype(np.float32), name="w")


def compute_loss():
    with tf.GradientTape() as inner:
        loss = tf.reduce_mean(tf.square(x @ w - y))
    return loss


for step in range(2):
    tape = tf.GradientTape()  # BUG: never entered with `with`
    loss = compute_loss()
    grad = tape.gradient(loss, w)
    print(step, grad)
