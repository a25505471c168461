"""A custom Keras layer that creates a bias and forgets it in call(); a tf.function train step."""
import numpy as np
import tapeviz as tf


class Linear(tf.keras.layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return tf.matmul(inputs, self.w)  # BUG: + self.b forgotten


rng = np.random.default_rng(20)
x = rng.standard_normal((16, 3)).astype(np.float32)
y = rng.standard_normal((16, 2)).astype(np.float32)
layer = Linear(2)
optimizer = tf.keras.optimizers.SGD(0.1)


@tf.function
def train_step(xb, yb):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(layer(xb) - yb))
    grads = tape.gradient(loss, layer.trainable_variables)
    return loss, grads


for step in range(3):
    loss, grads = train_step(x, y)
    print(step, float(loss), [g is None for g in grads])
