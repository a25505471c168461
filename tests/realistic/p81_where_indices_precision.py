"""A precision loss: the labels at the indices the model predicts positive (tf.where of a comparison)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(81)
x = tf.constant(rng.standard_normal((40, 3)).astype(np.float32))
labels = tf.constant(rng.integers(0, 2, 40).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(6, activation="tanh"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.1)

for step in range(3):
    with tf.GradientTape() as tape:
        probabilities = tf.sigmoid(model(x))[:, 0]
        predicted_positive = tf.where(probabilities > 0.5)  # BUG: indices carry no gradient
        precision = tf.reduce_mean(tf.gather_nd(labels, predicted_positive))
        loss = 1.0 - precision
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
