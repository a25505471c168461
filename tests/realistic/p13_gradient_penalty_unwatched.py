"""WGAN-GP: the interpolated samples are not watched by the inner tape."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(12)
real = tf.constant(rng.standard_normal((8, 5)).astype(np.float32))
critic = tf.keras.Sequential([tf.keras.layers.Dense(10, activation="tanh"), tf.keras.layers.Dense(1)])
critic(real)
optimizer = tf.keras.optimizers.Adam(1e-4)

for step in range(2):
    fake = tf.random.normal([8, 5])
    alpha = tf.random.uniform([8, 1])
    interpolated = alpha * real + (1 - alpha) * fake
    with tf.GradientTape() as tape:
        with tf.GradientTape() as gp_tape:
            critic_interp = critic(interpolated)  # BUG: gp_tape.watch(interpolated) is missing
        grad_interp = gp_tape.gradient(critic_interp, interpolated)
        print(step, "gradient of the critic w.r.t. the samples:", grad_interp)
        if grad_interp is None:
            grad_interp = tf.zeros_like(interpolated)  # the user's patch
        penalty = tf.reduce_mean((tf.norm(grad_interp, axis=1) - 1.0) ** 2)
        loss = tf.reduce_mean(critic(fake)) - tf.reduce_mean(critic(real)) + 10.0 * penalty
    grads = tape.gradient(loss, critic.trainable_variables)
    print(step, [None if g is None else bool(np.isnan(g.numpy()).any()) for g in grads])
