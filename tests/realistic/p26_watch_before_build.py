"""watch_accessed_variables=False and tape.watch(model.trainable_variables) before the model is built."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(25)
x = rng.standard_normal((16, 3)).astype(np.float32)
y = rng.standard_normal((16, 1)).astype(np.float32)
model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.01)

for step in range(3):
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(model.trainable_variables)  # BUG: empty at the first step, the model builds on its first call
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
    if all(g is not None for g in grads):
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
