"""A Poisson regression whose learning rate is too high: exp of the log-rate overflows after a few steps."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(16)
x = tf.constant(rng.uniform(0, 4, (32, 2)).astype(np.float32))
counts = tf.constant(rng.poisson(5, (32, 1)).astype(np.float32))
w = tf.Variable([[0.5], [0.5]], name="w")
optimizer = tf.keras.optimizers.SGD(learning_rate=3.0)

for step in range(6):
    with tf.GradientTape() as tape:
        log_rate = x @ w
        loss = tf.reduce_mean(tf.exp(log_rate) - counts * log_rate)
    grad = tape.gradient(loss, w)
    print(step, float(loss), grad.numpy().ravel())
    optimizer.apply_gradients([(grad, w)])
