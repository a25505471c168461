"""model.predict inside the tape: it returns a numpy array."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(27)
x = rng.standard_normal((32, 5)).astype(np.float32)
y = rng.standard_normal((32, 1)).astype(np.float32)
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
loss_fn = tf.keras.losses.MeanSquaredError()

for step in range(3):
    with tf.GradientTape() as tape:
        predictions = model.predict(x, verbose=0)  # BUG: numpy out, no tape
        loss = loss_fn(y, predictions)
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, type(predictions).__name__, [g is None for g in grads])
