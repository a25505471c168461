"""A recurrent cell that keeps its hidden state in a tf.Variable and assigns it each time step."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(37)
sequence = tf.constant(rng.standard_normal((5, 2, 3)).astype(np.float32))  # time, batch, features
target = tf.constant(rng.standard_normal((2, 4)).astype(np.float32))
w_x = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32) * 0.5, name="w_x")
w_h = tf.Variable(rng.standard_normal((4, 4)).astype(np.float32) * 0.5, name="w_h")
state = tf.Variable(tf.zeros([2, 4]), trainable=False, name="state")

for epoch in range(2):
    state.assign(tf.zeros([2, 4]))
    with tf.GradientTape() as tape:
        for x_t in sequence:
            state.assign(tf.tanh(x_t @ w_x + state @ w_h))  # BUG: the assignment cuts the graph
        loss = tf.reduce_mean(tf.square(state - target))
    grads = tape.gradient(loss, [w_x, w_h])
    print(epoch, grads)
