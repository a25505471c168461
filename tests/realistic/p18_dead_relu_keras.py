"""A Keras Dense layer initialized with a large negative bias: every ReLU unit is dead."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(17)
x = rng.uniform(0, 1, (32, 5)).astype(np.float32)
y = rng.standard_normal((32, 1)).astype(np.float32)
model = tf.keras.Sequential([
    tf.keras.layers.Dense(8, activation="relu", bias_initializer=tf.keras.initializers.Constant(-10.0)),
    tf.keras.layers.Dense(1),
])
optimizer = tf.keras.optimizers.SGD(0.01)

for step in range(3):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [float(tf.reduce_max(tf.abs(g))) for g in grads])
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
