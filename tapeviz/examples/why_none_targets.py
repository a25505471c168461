"""Why None 2: targets the tape did not record"""
import tapeviz as tf

x = tf.Variable(2.0, name="x")
with tf.GradientTape(persistent=True) as tape:
    y = x * x
    with tape.stop_recording():
        hidden = x * 3.0
outside = y * 2.0  # computed after the `with` block
with tf.GradientTape() as other:
    elsewhere = x ** 3
print(tape.gradient(outside, x), tape.gradient(hidden, x), tape.gradient(elsewhere, x))

with tf.GradientTape() as tape:
    before = x * 5.0
    tape.reset()
    after = x * 7.0
print(tape.gradient(before, x))
