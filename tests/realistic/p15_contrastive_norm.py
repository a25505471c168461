"""Siamese embedding with a contrastive loss: tf.norm of the difference of identical pairs."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(14)
left = rng.standard_normal((10, 4)).astype(np.float32)
right = left.copy()
right[5:] = rng.standard_normal((5, 4))  # the first five pairs are the same item
same = np.array([1.0] * 5 + [0.0] * 5, np.float32)
embed = tf.keras.layers.Dense(3, name="embed")
optimizer = tf.keras.optimizers.Adam(1e-3)
margin = 1.0

for step in range(3):
    with tf.GradientTape() as tape:
        distance = tf.norm(embed(left) - embed(right), axis=1)
        loss = tf.reduce_mean(same * distance + (1 - same) * tf.maximum(margin - distance, 0.0))
    grads = tape.gradient(loss, embed.trainable_variables)
    print(step, float(loss), [bool(np.isnan(g.numpy()).any()) for g in grads])
    optimizer.apply_gradients(zip(grads, embed.trainable_variables))
