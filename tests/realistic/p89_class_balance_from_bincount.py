"""A class-balance regulariser on the histogram of predicted classes (tf.math.bincount)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(89)
x = tf.constant(rng.standard_normal((32, 5)).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(4)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        predicted = tf.cast(tf.argmax(model(x), axis=1), tf.int32)  # BUG: hard predictions
        histogram = tf.math.bincount(predicted, minlength=4, dtype=tf.float32)
        loss = tf.reduce_sum(tf.square(histogram / 32.0 - 0.25))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
