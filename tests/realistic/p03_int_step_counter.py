"""A tf.Variable MLP whose parameter list also holds an integer step counter and a float
learning-rate variable that only the update uses."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(2)
x = tf.constant(rng.standard_normal((20, 3)).astype(np.float32))
y = tf.constant(rng.standard_normal((20, 1)).astype(np.float32))

w1 = tf.Variable(rng.standard_normal((3, 10)).astype(np.float32) * 0.3, name="w1")
b1 = tf.Variable(tf.zeros([10]), name="b1")
w2 = tf.Variable(rng.standard_normal((10, 1)).astype(np.float32) * 0.3, name="w2")
step = tf.Variable(0, name="step")                 # int32
lr = tf.Variable(0.05, name="lr")                  # used only in the update
params = [w1, b1, w2, step, lr]

for _ in range(4):
    with tf.GradientTape() as tape:
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
        step.assign_add(1)
    grads = tape.gradient(loss, params)
    print(int(step), [g is None for g in grads])
    for p, g in zip(params[:3], grads[:3]):
        p.assign_sub(lr * g)
