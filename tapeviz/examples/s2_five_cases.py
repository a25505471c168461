"""Seed tutorial 2: the five kinds of tensor_x, without tape.watch (four give None)"""
import numpy as np

import tapeviz as tf

tensor_w = tf.Variable(np.array([[-13.394766, 16.05925, 5.238968], [-2.6181564, -8.322439, 5.700083],
                                 [19.031418, -2.5960197, 6.4040756], [4.195833, 5.4652596, 4.5779514]],
                                dtype=np.float32), name="w")
tensor_b = tf.Variable(tf.ones(3, dtype=tf.float32), name="b")
cases = {
    "case 1: float Variable": lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, name="x"),
    "case 3: trainable=False": lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, trainable=False),
    "case 4: constant": lambda: tf.constant([[1, 2, 3, 4]], dtype=tf.float32),
    "case 5: Variable + 1.0": lambda: tf.Variable([[1, 2, 3, 4]], dtype=tf.float32, name="x") + 1.0,
}
for title, make_x in cases.items():
    tensor_x = make_x()
    with tf.GradientTape(persistent=True) as tape:
        tensor_y = tensor_x @ tensor_w + tensor_b
        tensor_loss = tf.reduce_mean(tensor_y ** 2)
    print(title)
    print("[+] tensor_dy_dx: ", tape.gradient(tensor_y, tensor_x))
    print("[+] tensor_dloss_dy: ", tape.gradient(tensor_loss, tensor_y))
    print("[+] tensor_dloss_dx: ", tape.gradient(tensor_loss, tensor_x))

# Case 2: integers all the way (w and b converted to int32 too).
tensor_w = tf.Variable([[-13, 10, -19], [-2, 19, -8], [5, 10, -6], [-1, 6, -3]], name="w")
tensor_b = tf.Variable(tf.ones(3, dtype=tf.int32), name="b")
tensor_x = tf.Variable([[1, 2, 3, 4]], dtype=tf.int32, name="x")
with tf.GradientTape(persistent=True) as tape:
    tensor_y = tensor_x @ tensor_w + tensor_b
    tensor_loss = tf.reduce_mean(tensor_y ** 2)
print("case 2: int32")
print("[+] tensor_dy_dx: ", tape.gradient(tensor_y, tensor_x))
print("[+] tensor_dloss_dx: ", tape.gradient(tensor_loss, tensor_x))
