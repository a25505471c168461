"""Fine-tuning: the first layer is frozen with layer.trainable = False after the model is built,
and the gradient is asked for every weight (model.weights) instead of model.trainable_variables."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(1)
x_all = rng.standard_normal((32, 4)).astype(np.float32)
y_all = rng.integers(0, 3, 32)

model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="tanh", name="backbone"),
                             tf.keras.layers.Dense(3, name="head")])
model(x_all[:1])  # build
model.get_layer("backbone").trainable = False  # freeze the backbone
optimizer = tf.keras.optimizers.SGD(0.1)
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

for step in range(3):
    batch = slice(step * 8, step * 8 + 8)
    with tf.GradientTape() as tape:
        logits = model(x_all[batch])
        loss = loss_fn(y_all[batch], logits)
    grads = tape.gradient(loss, model.weights)  # BUG: model.weights includes the frozen layer
    print(step, float(loss), [g is None for g in grads])
    optimizer.apply_gradients([(g, v) for g, v in zip(grads, model.weights) if g is not None])
