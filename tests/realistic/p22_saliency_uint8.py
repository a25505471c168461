"""Saliency map: the uint8 image is watched, then converted to float inside the tape."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(21)
classifier = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(3)])
raw_images = [tf.constant(rng.integers(0, 256, (1, 16)).astype(np.uint8)) for _ in range(3)]

for raw in raw_images:
    with tf.GradientTape() as tape:
        tape.watch(raw)  # BUG: an integer tensor cannot be watched
        image = tf.cast(raw, tf.float32) / 255.0
        score = tf.reduce_max(classifier(image), axis=1)
    saliency = tape.gradient(score, image)
    print("saliency:", saliency)
