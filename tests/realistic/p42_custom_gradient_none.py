"""A straight-through clip written with tf.custom_gradient whose gradient function forgets one input."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(35)
x = tf.constant(rng.standard_normal((8, 2)).astype(np.float32))
y = tf.constant(rng.standard_normal((8, 1)).astype(np.float32))
w = tf.Variable(rng.standard_normal((2, 1)).astype(np.float32), name="w")
limit = tf.Variable(1.0, name="limit")


@tf.custom_gradient
def soft_clip(values, bound):
    def grad(upstream):
        return upstream, None  # BUG: no gradient for bound
    return tf.clip_by_value(values, -bound, bound), grad


for step in range(3):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(soft_clip(x @ w, limit) - y))
    dw, dlimit = tape.gradient(loss, [w, limit])
    print(step, dw is None, dlimit)
