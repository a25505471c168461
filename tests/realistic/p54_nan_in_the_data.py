"""A dataset with one missing value (NaN) read from a CSV: every gradient is NaN from the first batch."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(41)
table = rng.standard_normal((40, 3)).astype(np.float32)
table[7, 1] = np.nan  # BUG: a missing value in the data
prices = rng.standard_normal((40, 1)).astype(np.float32)
dataset = tf.data.Dataset.from_tensor_slices((table, prices)).batch(10)
model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.01)

for step, (features, target) in enumerate(dataset.take(2)):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(features) - target))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, float(loss), [bool(np.isnan(g.numpy()).any()) for g in grads])
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
