"""Binary predictions rounded to 0/1 inside the loss."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(10)
x = tf.constant(rng.standard_normal((24, 3)).astype(np.float32))
y = tf.constant((rng.standard_normal((24, 1)) > 0).astype(np.float32))
w = tf.Variable(rng.standard_normal((3, 1)).astype(np.float32), name="w")
b = tf.Variable(tf.zeros([1]), name="b")
optimizer = tf.keras.optimizers.SGD(0.5)

for step in range(3):
    with tf.GradientTape() as tape:
        probability = tf.sigmoid(x @ w + b)
        prediction = tf.round(probability)  # BUG: a step function
        loss = tf.reduce_mean(tf.abs(prediction - y))
    grads = tape.gradient(loss, [w, b])
    print(step, float(loss), grads)
