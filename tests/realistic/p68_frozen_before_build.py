"""Transfer learning: the base layer is created frozen, and the step asks for model.weights."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(47)
x = rng.standard_normal((16, 6)).astype(np.float32)
y = rng.integers(0, 2, (16, 1)).astype(np.float32)
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu", trainable=False, name="base"),
                             tf.keras.layers.Dense(1, name="head")])
loss_fn = tf.keras.losses.BinaryCrossentropy(from_logits=True)
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.weights)  # BUG: weights include the frozen base
    print(step, [g is None for g in grads])
    optimizer.apply_gradients(zip(grads[2:], model.weights[2:]))
