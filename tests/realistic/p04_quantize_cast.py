"""Fake quantization written with a cast to int in the middle of the forward pass."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(3)
x = tf.constant(rng.uniform(0, 1, (16, 6)).astype(np.float32))
y = tf.constant(rng.uniform(0, 1, (16, 2)).astype(np.float32))
kernel = tf.Variable(rng.standard_normal((6, 2)).astype(np.float32) * 0.5, name="kernel")
bias = tf.Variable(tf.zeros([2]), name="bias")
opt = tf.keras.optimizers.SGD(learning_rate=0.1)


def quantize(t, levels=255.0):
    q = tf.cast(t * levels, tf.int32)  # BUG: integer cast, no gradient
    return tf.cast(q, tf.float32) / levels


for step in range(3):
    with tf.GradientTape() as tape:
        out = tf.matmul(quantize(x @ kernel), tf.eye(2)) + bias
        loss = tf.reduce_mean(tf.square(out - y))
    grads = tape.gradient(loss, [kernel, bias])
    print(step, [g is None for g in grads])
    opt.apply_gradients([(g, v) for g, v in zip(grads, [kernel, bias]) if g is not None])
