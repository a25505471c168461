"""Cross-entropy written as log(softmax(logits)) on a model whose logits grow large."""
import numpy as np
import tapeviz as tf

rng = np.random.default_rng(13)
x = tf.constant(rng.standard_normal((16, 6)).astype(np.float32) * 10.0)
labels = tf.one_hot(rng.integers(0, 5, 16), 5)
w = tf.Variable(rng.standard_normal((6, 5)).astype(np.float32) * 20.0, name="w")
b = tf.Variable(tf.zeros([5]), name="b")
optimizer = tf.keras.optimizers.SGD(0.01)

for step in range(3):
    with tf.GradientTape() as tape:
        logits = x @ w + b
        probs = tf.nn.softmax(logits)
        loss = -tf.reduce_mean(tf.reduce_sum(labels * tf.math.log(probs), axis=1))
    grads = tape.gradient(loss, [w, b])
    print(step, float(loss), [bool(np.isnan(g.numpy()).any()) for g in grads])
