"""Masked regression: only the confident predictions count, but the mask is applied to the targets."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(82)
x = tf.constant(rng.standard_normal((32, 4)).astype(np.float32))
y = tf.constant(rng.standard_normal(32).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        predictions = model(x)[:, 0]
        confident = tf.abs(predictions) > 0.1
        kept = tf.boolean_mask(y, confident)  # BUG: the targets are masked, not the predictions
        loss = tf.reduce_mean(tf.square(kept))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
