"""Learning to rank: the loss scores the predicted order (argsort of the scores) by its DCG."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(80)
documents = tf.constant(rng.standard_normal((20, 5)).astype(np.float32))
relevance = tf.constant(rng.integers(0, 4, 20).astype(np.float32))
discounts = 1.0 / np.log2(np.arange(20) + 2.0).astype(np.float32)
scorer = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        scores = scorer(documents)[:, 0]
        order = tf.argsort(scores, direction="DESCENDING")  # BUG: an order has no gradient
        dcg = tf.reduce_sum(tf.gather(relevance, order) * discounts)
        loss = -dcg
    grads = tape.gradient(loss, scorer.trainable_variables)
    print(step, [g is None for g in grads])
