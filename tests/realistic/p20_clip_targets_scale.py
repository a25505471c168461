"""Predictions clipped to [0, 1] although the regression targets are in the hundreds."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(19)
x = tf.constant(rng.uniform(1, 2, (20, 3)).astype(np.float32))
prices = tf.constant(rng.uniform(100, 300, (20, 1)).astype(np.float32))
dense = tf.keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="ones")
optimizer = tf.keras.optimizers.Adam(0.1)

for step in range(3):
    with tf.GradientTape() as tape:
        predicted = tf.clip_by_value(dense(x), 0.0, 1.0)  # BUG: meant for normalized targets
        loss = tf.reduce_mean(tf.square(predicted - prices))
    grads = tape.gradient(loss, dense.trainable_variables)
    print(step, float(loss), [float(tf.reduce_max(tf.abs(g))) for g in grads])
    optimizer.apply_gradients(zip(grads, dense.trainable_variables))
