"""Per-feature standardization inside the model; one hidden unit is constant over the batch."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(15)
x = tf.constant(np.concatenate([rng.standard_normal((16, 3)), np.ones((16, 1))], 1).astype(np.float32))
y = tf.constant(rng.standard_normal((16, 1)).astype(np.float32))
w1 = tf.Variable(np.eye(4, dtype=np.float32), name="w1")
w2 = tf.Variable(rng.standard_normal((4, 1)).astype(np.float32), name="w2")

for step in range(3):
    with tf.GradientTape() as tape:
        h = x @ w1
        mean = tf.reduce_mean(h, axis=0)
        std = tf.math.reduce_std(h, axis=0)
        h = (h - mean) / std  # BUG: the last column's std is 0
        loss = tf.reduce_mean(tf.square(h @ w2 - y))
    g1, g2 = tape.gradient(loss, [w1, w2])
    print(step, float(loss), np.isnan(g1.numpy()).any(), np.isnan(g2.numpy()).any())
