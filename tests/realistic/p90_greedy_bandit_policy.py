"""A contextual bandit: the policy's greedy action picks each row's reward (tf.gather with batch_dims)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(90)
contexts = tf.constant(rng.standard_normal((24, 5)).astype(np.float32))
rewards = tf.constant(rng.random((24, 3)).astype(np.float32))
policy = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(3)])
optimizer = tf.keras.optimizers.Adam(1e-2)

for step in range(3):
    with tf.GradientTape() as tape:
        actions = tf.argmax(policy(contexts), axis=1)  # BUG: a greedy choice has no gradient
        earned = tf.gather(rewards, actions, batch_dims=1)
        loss = -tf.reduce_mean(earned)
    grads = tape.gradient(loss, policy.trainable_variables)
    print(step, [g is None for g in grads])
