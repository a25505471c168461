"""Seed tutorial 4: Python control flow, and asking the wrong tape"""
import tapeviz as tf

tensor_x1 = tf.Variable(3.0)
tensor_x2 = tf.Variable(3.0)
tensor_flag = tf.constant(2.0)
with tf.GradientTape(persistent=True) as tape:
    tape.watch(tensor_x1)
    tape.watch(tensor_x2)
    tape.watch(tensor_flag)
    if tensor_flag % 2 == 0:
        tensor_res_1 = 4 * (tensor_x1 ** 2) + 3
    else:
        tensor_res_1 = tensor_x2 ** 3
print(tape.gradient(tensor_res_1, [tensor_x1, tensor_x2]))

with tf.GradientTape(persistent=True) as tape2:
    tape2.watch(tensor_x1)
    tape2.watch(tensor_x2)
    if tf.math.equal(tensor_res_1, 4 * (tensor_x1 ** 2) + 3).numpy().all():
        tensor_res_2 = tensor_x2 ** 3
    else:
        tensor_res_2 = 4 * (tensor_x1 ** 2) + 3
print(tape2.gradient(tensor_res_2, [tensor_x1, tensor_x2]))
print(tape.gradient(tensor_res_2, [tensor_x1, tensor_x2]))  # the wrong tape: both None
