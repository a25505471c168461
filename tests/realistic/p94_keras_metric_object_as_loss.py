"""A binary classifier trained on 1 - a BinaryAccuracy metric object's result (the metric's running state)."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(94)
x = tf.constant(rng.standard_normal((32, 4)).astype(np.float32))
y = tf.constant((rng.random((32, 1)) > 0.5).astype(np.float32))
model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
                             tf.keras.layers.Dense(1, activation="sigmoid")])
accuracy = tf.keras.metrics.BinaryAccuracy()
optimizer = tf.keras.optimizers.SGD(0.1)

for step in range(3):
    with tf.GradientTape() as tape:
        accuracy.reset_state()
        accuracy.update_state(y, model(x))  # UPDATE
        loss = 1.0 - accuracy.result()  # BUG: a metric's state is read back, not computed from the model
    grads = tape.gradient(loss, model.trainable_variables)
    print(step, [g is None for g in grads])
