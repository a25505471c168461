"""Two losses, one non-persistent tape: the second gradient call fails."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(23)
x = tf.constant(rng.standard_normal((8, 2)).astype(np.float32))
encoder = tf.keras.layers.Dense(3, name="encoder")
decoder = tf.keras.layers.Dense(2, name="decoder")

with tf.GradientTape() as tape:
    code = encoder(x)
    reconstruction_loss = tf.reduce_mean(tf.square(decoder(code) - x))
    sparsity_loss = tf.reduce_mean(tf.abs(code))
decoder_grads = tape.gradient(reconstruction_loss, decoder.trainable_variables)
encoder_grads = tape.gradient(sparsity_loss, encoder.trainable_variables)  # BUG: tape already used
print(encoder_grads)
