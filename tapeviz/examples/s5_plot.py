"""Seed tutorial 5: a function and its derivative over a linspace (see the Plots pane)"""
import tapeviz as tf

tensor_x1 = tf.linspace(-15.0, 15.0, 150 + 1)
tensor_x2 = tf.linspace(-15.0, 15.0, 150 + 1)
with tf.GradientTape(persistent=True) as tape:
    tape.watch(tensor_x1)
    tape.watch(tensor_x2)
    tensor_res_1 = 4 * (tensor_x1 ** 2) + 3
    tensor_res_2 = tensor_x2 ** 3
tensor_dres1_dx1 = tape.gradient(tensor_res_1, tensor_x1)
tensor_dres2_dx2 = tape.gradient(tensor_res_2, tensor_x2)
print(tensor_dres1_dx1[:3], tensor_dres2_dx2[:3])
