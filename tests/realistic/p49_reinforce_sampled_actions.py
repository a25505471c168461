"""REINFORCE written with the sampled actions instead of their log-probabilities."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(38)
states = tf.constant(rng.standard_normal((32, 4)).astype(np.float32))
policy = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="tanh"), tf.keras.layers.Dense(2)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for episode in range(3):
    with tf.GradientTape() as tape:
        logits = policy(states)
        actions = tf.random.categorical(logits, 1)[:, 0]
        returns = tf.where(actions == 1, 1.0, -1.0)
        loss = -tf.reduce_mean(tf.cast(actions, tf.float32) * returns)  # BUG: actions carry no gradient
    grads = tape.gradient(loss, policy.trainable_variables)
    print(episode, [g is None for g in grads])
