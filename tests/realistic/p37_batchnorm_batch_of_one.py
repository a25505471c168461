"""Online learning with batch size 1 through a hand-written batch normalization: x - mean(x) is 0."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(30)
stream = rng.standard_normal((4, 1, 3)).astype(np.float32)
targets = rng.standard_normal((4, 1, 1)).astype(np.float32)
w1 = tf.Variable(rng.standard_normal((3, 5)).astype(np.float32), name="w1")
gamma = tf.Variable(tf.ones([5]), name="gamma")
beta = tf.Variable(tf.zeros([5]), name="beta")
w2 = tf.Variable(rng.standard_normal((5, 1)).astype(np.float32), name="w2")

for x, y in zip(stream, targets):  # BUG: one example per batch
    with tf.GradientTape() as tape:
        h = x @ w1
        mean, variance = tf.nn.moments(h, axes=[0])
        h = gamma * (h - mean) / tf.sqrt(variance + 1e-3) + beta
        loss = tf.reduce_mean(tf.square(tf.nn.relu(h) @ w2 - y))
    grads = tape.gradient(loss, [w1, gamma, beta, w2])
    print([float(tf.reduce_max(tf.abs(g))) for g in grads])
