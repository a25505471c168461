"""Input-gradient attribution: tape.watch is called after the model has already used the input."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(33)
model = tf.keras.Sequential([tf.keras.layers.Dense(6, activation="tanh"), tf.keras.layers.Dense(2)])
batches = [tf.constant(rng.standard_normal((4, 5)).astype(np.float32)) for _ in range(3)]

for inputs in batches:
    with tf.GradientTape() as tape:
        logits = model(inputs)
        tape.watch(inputs)  # BUG: too late, the model already ran on it
        score = tf.reduce_sum(tf.nn.softmax(logits)[:, 0])
    attribution = tape.gradient(score, inputs)
    print("attribution:", attribution)
