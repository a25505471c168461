"""Seed tutorial 3: which variables a two-layer network trains"""
import tapeviz as tf

layer1 = tf.keras.layers.Dense(2, activation="relu", name="dense_1")
layer2 = tf.keras.layers.Dense(4, activation="relu", name="dense_2")
tensor_x = tf.constant([[1., 2., 3.]])
with tf.GradientTape(persistent=True) as tape:
    tensor_h = layer1(tensor_x)
    tensor_y = layer2(tensor_h)
    tensor_loss = tf.reduce_mean(tensor_y ** 2)
for layer in (layer1, layer2):
    grads = tape.gradient(tensor_loss, layer.trainable_variables)
    for var, grad in zip(layer.trainable_variables, grads):
        print(var.name, grad.shape)
