"""Manual SGD over a parameter list, rebinding the list to tensors."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(7)
x = tf.constant(rng.standard_normal((32, 4)).astype(np.float32))
y = tf.constant(rng.standard_normal((32, 1)).astype(np.float32))
params = [tf.Variable(rng.standard_normal((4, 8)).astype(np.float32) * 0.5),
          tf.Variable(tf.zeros([8])),
          tf.Variable(rng.standard_normal((8, 1)).astype(np.float32) * 0.5)]
learning_rate = 0.1

for step in range(4):
    with tf.GradientTape() as tape:
        hidden = tf.tanh(x @ params[0] + params[1])
        loss = tf.reduce_mean((hidden @ params[2] - y) ** 2)
    grads = tape.gradient(loss, params)
    print(step, [g is None for g in grads])
    if any(g is None for g in grads):
        continue
    params = [p - learning_rate * g for p, g in zip(params, grads)]  # BUG: tensors from now on
