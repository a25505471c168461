"""A length predictor trained through the mask of its rounded lengths (tf.sequence_mask)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(85)
features = tf.constant(rng.standard_normal((16, 6)).astype(np.float32))
true_lengths = rng.integers(1, 9, 16)
target_masks = tf.sequence_mask(true_lengths, 10, dtype=tf.float32)
length_model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        lengths = tf.cast(tf.round(length_model(features)[:, 0] * 5.0), tf.int32)  # BUG: rounded to integers
        masks = tf.sequence_mask(lengths, 10, dtype=tf.float32)
        loss = tf.reduce_mean(tf.square(masks - target_masks))
    grads = tape.gradient(loss, length_model.trainable_variables)
    print(step, [g is None for g in grads])
