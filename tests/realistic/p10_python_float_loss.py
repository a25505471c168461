"""The loss is turned into a Python float for logging before the gradient call."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(9)
x = tf.constant(rng.standard_normal((16, 2)).astype(np.float32))
y = tf.constant(rng.standard_normal((16, 1)).astype(np.float32))
w = tf.Variable(tf.ones([2, 1]), name="w")
b = tf.Variable(0.0, name="b")
history = []

for epoch in range(3):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(x @ w + b - y))
        loss = float(loss)  # BUG: for the history, but it rebinds the loss
        history.append(loss)
    dw, db = tape.gradient(loss, [w, b])
    print(epoch, loss, dw, db)
