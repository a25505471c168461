"""The loss is the error rate, counted with tf.math.count_nonzero."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(86)
x = tf.constant(rng.standard_normal((25, 7)).astype(np.float32))
labels = tf.constant(rng.integers(0, 3, 25))
model = tf.keras.Sequential([tf.keras.layers.Dense(12, activation="relu"), tf.keras.layers.Dense(3)])
optimizer = tf.keras.optimizers.SGD(0.1)

for step in range(3):
    with tf.GradientTape() as tape:
        logits = model(x)
        errors = tf.math.count_nonzero(tf.argmax(logits, axis=1) != labels)  # BUG: a count of argmax
        loss = tf.cast(errors, tf.float32) / 25.0
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
