"""The prediction is turned into a one-hot vector (argmax, then one_hot) before the loss."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(40)
x = rng.standard_normal((24, 6)).astype(np.float32)
labels = tf.one_hot(rng.integers(0, 3, 24), 3)
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(3)])
optimizer = tf.keras.optimizers.SGD(0.1)

for step in range(3):
    with tf.GradientTape() as tape:
        logits = model(x)
        predicted = tf.one_hot(tf.argmax(logits, axis=1), 3)  # BUG: a hard choice
        loss = tf.reduce_mean(tf.square(predicted - labels))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
