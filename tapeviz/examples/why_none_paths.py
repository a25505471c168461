"""Why None 3: paths that break (integers, numpy, non-differentiable ops, assignments)"""
import tapeviz as tf

x = tf.Variable([1.2, 3.4], name="x")
state = tf.Variable([0.0, 0.0], trainable=False, name="state")
with tf.GradientTape(persistent=True) as tape:
    as_int = tf.cast(tf.cast(x, tf.int32), tf.float32) * 2.0
    via_numpy = tf.constant(x.numpy() * 2.0) * 1.0
    rounded = tf.round(x) * 2.0
    stopped = tf.stop_gradient(x * 2.0) * 3.0
    state.assign_add(x * 2.0)
    stateful = state * 3.0
for name, target in [("cast to int", as_int), ("numpy", via_numpy), ("round", rounded),
                     ("stop_gradient", stopped), ("assign_add", stateful)]:
    print(name, tape.gradient(target, x))
