"""DQN update: stop_gradient put around the online network's Q-values instead of the target's."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(8)
states = rng.standard_normal((64, 4)).astype(np.float32)
actions = rng.integers(0, 2, 64)
rewards = rng.standard_normal(64).astype(np.float32)
next_states = rng.standard_normal((64, 4)).astype(np.float32)

q_net = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(2)])
target_net = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(2)])
q_net(states[:1]); target_net(states[:1])
optimizer = tf.keras.optimizers.Adam(1e-3)
gamma = 0.99

for step in range(3):
    idx = rng.integers(0, 64, 16)
    s, a, r, s2 = states[idx], actions[idx], rewards[idx], next_states[idx]
    target_q = r + gamma * tf.reduce_max(target_net(s2), axis=1)
    with tf.GradientTape() as tape:
        q_values = tf.stop_gradient(q_net(s))  # BUG: stops the gradient of the network being trained
        chosen = tf.reduce_sum(q_values * tf.one_hot(a, 2), axis=1)
        loss = tf.reduce_mean(tf.square(target_q - chosen))
    grads = tape.gradient(loss, q_net.trainable_variables)
    print(step, float(loss), [g is None for g in grads])
