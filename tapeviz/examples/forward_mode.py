"""Forward mode: the JVP of a small MLP, a None jvp, and a Hessian-vector product"""
# Open it in the inspector (`tapeviz gui tapeviz/examples/forward_mode.py`): each ForwardAccumulator is
# listed with the tapes, its graph shows every op's tangent under the node (hover for value and tangent
# side by side), the jvp calls are listed with the gradient calls, and the None jvp is a problem with its
# reason. With `import tensorflow as tf` the None and H v are the same (the random weights differ).
import numpy as np

import tapeviz as tf

tf.random.set_seed(0)
x = tf.constant(np.linspace(-1.0, 1.0, 8, dtype=np.float32).reshape(2, 4))
w1 = tf.Variable(tf.random.normal((4, 3)), name="w1")
w2 = tf.Variable(tf.random.normal((3, 1)), name="w2")
direction = tf.ones_like(w1)   # which way w1 moves

# JVP: how the MLP's output changes when w1 moves along `direction`, in one forward pass.
with tf.autodiff.ForwardAccumulator(w1, direction) as acc:
    hidden = tf.tanh(x @ w1)
    out = tf.reduce_sum(hidden @ w2)
    positive = tf.cast(out > 0, tf.int32)
print("d out along direction:", acc.jvp(out))
print("an integer has no tangent:", acc.jvp(positive))   # None, as in TensorFlow

# Hessian-vector product, forward over backward: the tangent of the gradient is H v.
p = tf.constant([0.5, -1.0, 2.0])
v = tf.constant([1.0, 0.0, 0.0])
with tf.autodiff.ForwardAccumulator(p, v) as hvp_acc:
    with tf.GradientTape() as tape:
        tape.watch(p)
        loss = tf.reduce_sum(tf.sin(p) * p ** 2)
    grad = tape.gradient(loss, p)
print("H v:", hvp_acc.jvp(grad))
