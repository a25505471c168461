"""A 'safe' distance with a single tf.where around sqrt: the NaN still comes back through the other branch."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(28)
points = tf.Variable(rng.standard_normal((6, 2)).astype(np.float32), name="points")
anchors = tf.constant(np.concatenate([points.numpy()[:3], rng.standard_normal((3, 2))]).astype(np.float32))

for step in range(3):
    with tf.GradientTape() as tape:
        squared = tf.reduce_sum(tf.square(points - anchors), axis=1)
        distance = tf.where(squared > 0, tf.sqrt(squared), 0.0)  # BUG: one where is not enough
        loss = tf.reduce_mean(distance)
    grad = tape.gradient(loss, points)
    print(step, float(loss), bool(np.isnan(grad.numpy()).any()))
    points.assign_sub(0.1 * tf.where(tf.math.is_nan(grad), 0.0, grad))
