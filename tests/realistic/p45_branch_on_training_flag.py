"""A subclassed model whose projection head runs only when training=False; the training step asks for
its weights too."""
import numpy as np
import tapeviz as tf


class Classifier(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.body = tf.keras.layers.Dense(8, activation="relu")
        self.head = tf.keras.layers.Dense(3)
        self.projection = tf.keras.layers.Dense(3)

    def call(self, inputs, training=False):
        features = self.body(inputs)
        if training:
            return self.head(features)
        return self.head(features) + self.projection(features)  # BUG: projection only outside training


rng = np.random.default_rng(36)
x = rng.standard_normal((16, 4)).astype(np.float32)
labels = rng.integers(0, 3, 16)
model = Classifier()
model(x)  # builds every layer
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
optimizer = tf.keras.optimizers.Adam()

for step in range(3):
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
    optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
