"""TensorFlow's "TensorFlow 2 quickstart for beginners", run with tapeviz.

The tutorial's code, changed only in the import and in the data: synthetic 28x28 images (the label
is the row band drawn brightest) stand in for the MNIST download. fit() prints Keras's progress
lines, one per epoch; under `tapeviz run` or the inspector each training step is one tape.
"""
import numpy as np

import tapeviz as tf
print("TensorFlow version:", tf.__version__)

# Synthetic stand-in for MNIST: 28x28 uint8 images whose label is the row band that is brightest.
rng = np.random.default_rng(0)
def synthetic_digits(count):
    images = rng.integers(0, 200, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count).astype(np.uint8)
    for image, label in zip(images, labels):
        image[2 + 2 * label:4 + 2 * label, :] = 255
    return images, labels
(x_train, y_train), (x_test, y_test) = synthetic_digits(600), synthetic_digits(100)
x_train, x_test = x_train / 255.0, x_test / 255.0

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dropout(0.2),
  tf.keras.layers.Dense(10)
])

predictions = model(x_train[:1]).numpy()
print(predictions)

print(tf.nn.softmax(predictions).numpy())

loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

print(loss_fn(y_train[:1], predictions).numpy())

model.compile(optimizer='adam',
              loss=loss_fn,
              metrics=['accuracy'])

model.fit(x_train, y_train, epochs=5)

model.evaluate(x_test,  y_test, verbose=2)

probability_model = tf.keras.Sequential([
  model,
  tf.keras.layers.Softmax()
])

print(probability_model(x_test[:5]))
