"""A forward function that wraps its parameters in a new tf.Variable at every call."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(6)
x = tf.constant(rng.standard_normal((8, 3)).astype(np.float32))
y = tf.constant(rng.standard_normal((8, 1)).astype(np.float32))
weights = tf.Variable(rng.standard_normal((3, 1)).astype(np.float32), name="weights")


def forward(inputs):
    w = tf.Variable(weights)  # BUG: a copy, made anew at every call
    return inputs @ w


for step in range(3):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(forward(x) - y))
    grad = tape.gradient(loss, weights)
    print(step, grad)
