"""The batch (predictions with their targets) is shuffled inside the training step."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(84)
x = tf.constant(rng.standard_normal((16, 3)).astype(np.float32))
y = tf.constant(rng.standard_normal((16, 1)).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.05)

for step in range(3):
    with tf.GradientTape() as tape:
        predictions = model(x)
        pairs = tf.random.shuffle(tf.concat([predictions, y], axis=1))  # BUG: shuffle passes no gradient
        loss = tf.reduce_mean(tf.square(pairs[:, 0] - pairs[:, 1]))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
