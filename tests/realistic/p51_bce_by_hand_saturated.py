"""Binary cross-entropy written by hand on sigmoid outputs that saturate at exactly 0 or 1."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(42)
x = tf.constant(rng.standard_normal((16, 5)).astype(np.float32) * 8.0)
y = tf.constant(rng.integers(0, 2, (16, 1)).astype(np.float32))
w = tf.Variable(rng.standard_normal((5, 1)).astype(np.float32) * 6.0, name="w")
optimizer = tf.keras.optimizers.SGD(0.01)

for step in range(2):
    with tf.GradientTape() as tape:
        p = tf.sigmoid(x @ w)
        loss = -tf.reduce_mean(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))  # BUG: log(0)
    grad = tape.gradient(loss, w)
    print(step, float(loss), bool(np.isnan(grad.numpy()).any()), bool(np.isinf(grad.numpy()).any()))
