"""Why None 1: sources the tape never watched"""
import tapeviz as tf

constant = tf.constant(3.0)
frozen = tf.Variable(2.0, trainable=False)
variable = tf.Variable(1.0, name="v")
shifted = variable + 1.0  # a new tensor, no longer the variable: use variable.assign_add(1.0) instead
with tf.GradientTape(persistent=True) as tape:
    loss = constant * frozen * shifted * variable
print(tape.gradient(loss, [constant, frozen, shifted, variable]))

with tf.GradientTape(watch_accessed_variables=False) as quiet:
    y = variable * 2.0
print(quiet.gradient(y, variable))

count = tf.Variable(3, name="count")  # an int32 variable: gradients exist only for floats
with tf.GradientTape() as tape:
    y = count * count
print(tape.gradient(y, count))
