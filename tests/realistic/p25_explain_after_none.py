"""tape.explain called right after a None, in the loop: the user's first reaction to a None."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(24)
x = tf.constant(rng.standard_normal((16, 4)).astype(np.float32))
y = tf.constant(rng.standard_normal((16, 1)).astype(np.float32))
w1 = tf.Variable(rng.standard_normal((4, 8)).astype(np.float32), name="w1")
w2 = tf.Variable(rng.standard_normal((8, 1)).astype(np.float32), name="w2")
reasons = []

for step in range(3):
    hidden = tf.nn.relu(x @ w1)  # BUG: the first layer runs before the tape
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(hidden @ w2 - y))
    g1, g2 = tape.gradient(loss, [w1, w2])
    if g1 is None:
        reasons.append(tape.explain(loss, w1))
        print(step, reasons[-1].code)
    w2.assign_sub(0.01 * g2)
