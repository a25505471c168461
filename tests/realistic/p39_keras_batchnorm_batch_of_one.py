"""Keras BatchNormalization trained one example at a time (batch size 1)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(32)
x_all = rng.standard_normal((6, 4)).astype(np.float32)
y_all = rng.standard_normal((6, 1)).astype(np.float32)
model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.BatchNormalization(),
                             tf.keras.layers.Activation("relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam(1e-3)
dataset = tf.data.Dataset.from_tensor_slices((x_all, y_all)).batch(1)  # BUG: batches of one example

for step, (xb, yb) in enumerate(dataset.take(3)):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(xb, training=True) - yb))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [round(float(tf.reduce_max(tf.abs(g))), 6) for g in grads])
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
