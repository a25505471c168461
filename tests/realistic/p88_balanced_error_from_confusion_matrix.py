"""Balanced error (mean per-class recall) computed from tf.math.confusion_matrix, used as the loss."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(88)
x = tf.constant(rng.standard_normal((30, 4)).astype(np.float32))
labels = tf.constant(rng.integers(0, 3, 30))
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(3)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        predicted = tf.argmax(model(x), axis=1)  # BUG: hard predictions
        matrix = tf.math.confusion_matrix(labels, predicted, num_classes=3, dtype=tf.float32)
        recall = tf.linalg.diag_part(matrix) / (tf.reduce_sum(matrix, axis=1) + 1e-6)
        loss = 1.0 - tf.reduce_mean(recall)
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
