"""An MLP with every weight initialized to zero: the hidden layer never learns."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(26)
x = tf.constant(rng.standard_normal((32, 4)).astype(np.float32))
y = tf.constant(rng.standard_normal((32, 1)).astype(np.float32))
w1 = tf.Variable(tf.zeros([4, 16]), name="w1")  # BUG: zero initialization
b1 = tf.Variable(tf.zeros([16]), name="b1")
w2 = tf.Variable(tf.zeros([16, 1]), name="w2")
b2 = tf.Variable(tf.zeros([1]), name="b2")
params = [w1, b1, w2, b2]
optimizer = tf.keras.optimizers.SGD(0.1)

for step in range(3):
    with tf.GradientTape() as tape:
        hidden = tf.nn.relu(x @ w1 + b1)
        prediction = hidden @ w2 + b2
        loss = tf.reduce_mean(tf.square(prediction - y))
    grads = tape.gradient(loss, params)
    print(step, [float(tf.reduce_max(tf.abs(g))) for g in grads])
    optimizer.apply_gradients(zip(grads, params))
