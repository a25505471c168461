"""Raw 0-255 pixel values into a sigmoid layer with positive weights: every unit saturates at 1."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(18)
pixels = tf.constant(rng.integers(50, 256, (16, 20)).astype(np.float32))  # BUG: not scaled to [0, 1]
labels = tf.constant(rng.integers(0, 2, (16, 1)).astype(np.float32))
w_hidden = tf.Variable(rng.uniform(0.01, 0.1, (20, 6)).astype(np.float32), name="w_hidden")
w_out = tf.Variable(rng.standard_normal((6, 1)).astype(np.float32), name="w_out")

for step in range(3):
    with tf.GradientTape() as tape:
        hidden = tf.sigmoid(pixels @ w_hidden)
        logits = hidden @ w_out
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
    g_hidden, g_out = tape.gradient(loss, [w_hidden, w_out])
    print(step, float(tf.reduce_max(tf.abs(g_hidden))), float(tf.reduce_max(tf.abs(g_out))))
    w_hidden.assign_sub(0.1 * g_hidden)
    w_out.assign_sub(0.1 * g_out)
