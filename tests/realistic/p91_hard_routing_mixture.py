"""A mixture of two experts with hard routing: tf.dynamic_partition by the router's decision."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(91)
x = tf.constant(rng.standard_normal((40, 3)).astype(np.float32))
y = tf.constant(rng.standard_normal((40, 1)).astype(np.float32))
router = tf.keras.layers.Dense(1)
experts = [tf.keras.layers.Dense(1), tf.keras.layers.Dense(1)]
optimizer = tf.keras.optimizers.SGD(0.05)

for step in range(3):
    with tf.GradientTape() as tape:
        route = tf.cast(router(x)[:, 0] > 0, tf.int32)  # BUG: a hard decision has no gradient
        x_parts = tf.dynamic_partition(x, route, 2)
        y_parts = tf.dynamic_partition(y, route, 2)
        loss = sum(tf.reduce_sum(tf.square(expert(xp) - yp)) for expert, xp, yp in zip(experts, x_parts, y_parts))
    variables = router.trainable_variables + experts[0].trainable_variables + experts[1].trainable_variables
    grads = tape.gradient(loss, variables)
    print(step, [g is None for g in grads])
