"""Training directly on accuracy: argmax of the logits in the loss."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(5)
images = rng.standard_normal((40, 12)).astype(np.float32)
labels = rng.integers(0, 4, 40).astype(np.int64)
model = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(4)])
optimizer = tf.keras.optimizers.Adam()

for step in range(4):
    xb, yb = images[step * 10:(step + 1) * 10], labels[step * 10:(step + 1) * 10]
    with tf.GradientTape() as tape:
        logits = model(xb)
        predicted = tf.argmax(logits, axis=1)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, yb), tf.float32))
        loss = 1.0 - accuracy
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, float(loss), [g is None for g in grads])
