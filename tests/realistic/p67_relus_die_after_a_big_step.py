"""A learning rate far too high: one update pushes every ReLU of the hidden layer below zero for good."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(46)
x = tf.constant(np.abs(rng.standard_normal((32, 4))).astype(np.float32))
y = tf.constant((5.0 + rng.standard_normal((32, 1))).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu", kernel_initializer="ones"),
                             tf.keras.layers.Dense(1, kernel_initializer="ones")])
optimizer = tf.keras.optimizers.SGD(learning_rate=5.0, momentum=0.9)  # BUG: far too high

for step in range(4):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, round(float(loss), 3), [round(float(tf.reduce_max(tf.abs(g))), 4) for g in grads])
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
