"""Seed tutorial 1: one gradient per non-persistent tape; persistent tapes"""
import tapeviz as tf

tensor_x = tf.Variable(2.0)
with tf.GradientTape() as tape:
    tensor_y1 = tensor_x ** 2
    tensor_y2 = tensor_x ** 3
print(tape.gradient(tensor_y1, tensor_x))
try:
    tape.gradient(tensor_y2, tensor_x)
except RuntimeError as error:
    print("RuntimeError:", error)

with tf.GradientTape(persistent=True) as tape:
    tensor_y1 = tensor_x ** 2
    tensor_y2 = tensor_x ** 3
    tensor_y3 = 4 * tensor_x + 1
print(tape.gradient(tensor_y1, tensor_x))
print(tape.gradient(tensor_y2, tensor_x))
print(tape.gradient(tensor_y3, tensor_x))
