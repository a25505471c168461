"""Accuracy counted in integers and divided by the batch size, used as the loss."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(87)
x = tf.constant(rng.standard_normal((20, 5)).astype(np.float32))
labels = tf.constant(rng.integers(0, 4, 20))
model = tf.keras.Sequential([tf.keras.layers.Dense(10, activation="relu"), tf.keras.layers.Dense(4)])
optimizer = tf.keras.optimizers.Adam(1e-3)

for step in range(3):
    with tf.GradientTape() as tape:
        logits = model(x)
        correct = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == labels, tf.int32))  # BUG: argmax
        loss = 1.0 - correct / 20
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
