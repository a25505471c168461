"""A 'fast weights' loop: a copy of the model is made every step, and the gradient is asked for the original."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(44)
x = rng.standard_normal((16, 4)).astype(np.float32)
y = rng.standard_normal((16, 1)).astype(np.float32)


def make_model():
    return tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, activation="tanh"),
                                tf.keras.layers.Dense(1)])


model = make_model()
optimizer = tf.keras.optimizers.SGD(0.1)

for step in range(3):
    fast = make_model()
    fast.set_weights(model.get_weights())  # BUG: a copy through numpy
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(fast(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
