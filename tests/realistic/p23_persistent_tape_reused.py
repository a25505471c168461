"""One persistent tape made before the loop, re-entered each step, gradient taken inside the `with`."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(22)
x = tf.constant(rng.standard_normal((16, 3)).astype(np.float32))
y = tf.constant(rng.standard_normal((16, 1)).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="tanh"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.05)
tape = tf.GradientTape(persistent=True)

for step in range(3):
    with tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)  # inside the with block
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    print(step, float(loss), [g is None for g in grads])
