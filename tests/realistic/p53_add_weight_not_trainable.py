"""A custom layer whose scale is added with trainable=False by mistake; the step asks for layer.weights."""
import numpy as np
import tapeviz as tf


class ScaledDense(tf.keras.layers.Layer):
    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), initializer="glorot_uniform", name="kernel")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale", trainable=False)  # BUG

    def call(self, inputs):
        return self.scale * tf.matmul(inputs, self.kernel)


rng = np.random.default_rng(39)
x = rng.standard_normal((8, 3)).astype(np.float32)
y = rng.standard_normal((8, 2)).astype(np.float32)
layer = ScaledDense()
layer(x)

for step in range(3):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(layer(x) - y))
    grads = tape.gradient(loss, layer.weights)
    print(step, [g is None for g in grads])
