"""GAN step with the generator's loss written on the discriminator's output for the real images."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(92)
real = rng.standard_normal((48, 6)).astype(np.float32)
generator = tf.keras.Sequential([tf.keras.layers.Dense(12, activation="relu"), tf.keras.layers.Dense(6)])
discriminator = tf.keras.Sequential([tf.keras.layers.Dense(12, activation="relu"), tf.keras.layers.Dense(1)])
bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
g_opt, d_opt = tf.keras.optimizers.Adam(1e-4), tf.keras.optimizers.Adam(1e-4)

for step in range(3):
    noise = tf.random.normal([16, 4])
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake = generator(noise, training=True)
        real_out = discriminator(real[step * 16:(step + 1) * 16], training=True)
        fake_out = discriminator(fake, training=True)
        gen_loss = bce(tf.ones_like(fake_out), real_out)  # BUG: real_out where fake_out belongs
        disc_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
    gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    print(step, [g is None for g in gen_grads], [g is None for g in disc_grads])
    d_opt.apply_gradients(zip(disc_grads, discriminator.trainable_variables))
