"""A binary classifier trained on 1 - keras.metrics.binary_accuracy (the metric function, not a loss)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(93)
x = tf.constant(rng.standard_normal((20, 4)).astype(np.float32))
y = tf.constant(rng.integers(0, 2, (20, 1)).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
                             tf.keras.layers.Dense(1, activation="sigmoid")])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        probabilities = model(x)
        accuracy = tf.keras.metrics.binary_accuracy(y, probabilities)  # BUG: thresholded, no gradient
        loss = 1.0 - tf.reduce_mean(accuracy)
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
