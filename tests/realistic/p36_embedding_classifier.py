"""Text classifier: Embedding + mean pooling; a padded batch of all zeros makes the average divide by 0."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(29)
tokens = rng.integers(1, 50, (8, 6))
tokens[2] = 0  # an empty sentence: every token is padding
labels = rng.integers(0, 2, 8).astype(np.float32)
embedding = tf.keras.layers.Embedding(50, 4)
classifier = tf.keras.layers.Dense(1)
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(2):
    with tf.GradientTape() as tape:
        vectors = embedding(tokens)
        mask = tf.cast(tokens > 0, tf.float32)[:, :, None]
        pooled = tf.reduce_sum(vectors * mask, axis=1) / tf.reduce_sum(mask, axis=1)  # BUG: 0 / 0 for row 2
        logits = tf.squeeze(classifier(pooled), 1)
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits))
    variables = embedding.trainable_variables + classifier.trainable_variables
    grads = tape.gradient(loss, variables)
    print(step, float(loss), [type(g).__name__ for g in grads])
