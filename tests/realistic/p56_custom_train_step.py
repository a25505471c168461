"""A Keras model with a custom train_step (used by fit) that predicts before opening the tape."""
import numpy as np
import tapeviz as tf


class Regressor(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(8, activation="relu")
        self.out = tf.keras.layers.Dense(1)

    def call(self, inputs, training=False):
        return self.out(self.hidden(inputs))

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)  # BUG: before the tape
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(y_pred - y))
        grads = tape.gradient(loss, self.trainable_variables)
        print("None gradients:", sum(g is None for g in grads))
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, self.trainable_variables) if g is not None])
        return {"loss": loss}


rng = np.random.default_rng(43)
x = rng.standard_normal((32, 3)).astype(np.float32)
y = rng.standard_normal((32, 1)).astype(np.float32)
model = Regressor()
model.compile(optimizer="adam")
model.fit(x, y, batch_size=16, epochs=1, verbose=0)
