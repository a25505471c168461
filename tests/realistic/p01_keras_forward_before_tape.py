"""Keras MLP + Adam: the model is called before the tape's `with`, the loss inside it."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(0)
features = rng.standard_normal((64, 8)).astype(np.float32)
targets = (features @ rng.standard_normal((8, 1))).astype(np.float32)
dataset = tf.data.Dataset.from_tensor_slices((features, targets)).batch(16)

model = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"),
                             tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam(1e-3)
loss_fn = tf.keras.losses.MeanSquaredError()

for epoch in range(2):
    for x_batch, y_batch in dataset:
        predictions = model(x_batch, training=True)  # BUG: forward pass outside the tape
        with tf.GradientTape() as tape:
            loss = loss_fn(y_batch, predictions)
        grads = tape.gradient(loss, model.trainable_variables)
        print("grads:", [g is None for g in grads])
        if all(g is None for g in grads):
            continue  # the user's workaround to keep going; TF's apply_gradients raises here
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
