"""Keras 3 optimizers: five steps of each on one small least-squares problem match TensorFlow's numbers.

The expected losses and final weights were printed by TensorFlow 2.21 / Keras 3 (tensorflow-cpu)
running the same loop with the same initial weights; they are facts here, not a dependency.
"""
import warnings

import numpy as np
import pytest

import tapeviz as tf

optimizers = tf.keras.optimizers

X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
Y = np.array([[1., 0.], [0., 1.], [0.5, -0.5], [2., 1.]], np.float32)
W0 = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], np.float32)
B0 = np.array([0.05, -0.05], np.float32)

MAKERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd_momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: optimizers.Adam(0.1),
    "adam_amsgrad": lambda: optimizers.Adam(0.1, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.1),
    "rmsprop": lambda: optimizers.RMSprop(0.05),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.05, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.3),
    "adam_clipnorm": lambda: optimizers.Adam(0.1, clipnorm=0.5),
    "sgd_clipvalue": lambda: optimizers.SGD(0.1, clipvalue=0.2),
    "sgd_global_clipnorm": lambda: optimizers.SGD(0.1, global_clipnorm=0.3),
    "sgd_expdecay": lambda: optimizers.SGD(optimizers.schedules.ExponentialDecay(0.2, decay_steps=2, decay_rate=0.5)),
    "sgd_expdecay_staircase": lambda: optimizers.SGD(
        optimizers.schedules.ExponentialDecay(0.2, decay_steps=2, decay_rate=0.5, staircase=True)),
    "sgd_piecewise": lambda: optimizers.SGD(optimizers.schedules.PiecewiseConstantDecay([1, 3], [0.2, 0.1, 0.05])),
}

# name: (losses at steps 1..5, w after 5 steps), from TensorFlow.
TF_RESULTS = {
    "sgd": ([1.022624, 0.8943248, 0.7922094, 0.7109323, 0.6462398],
        [0.14174476265907288, -0.29868006706237793, 0.410385400056839, 0.32186204195022583, -0.3209739327430725, 0.5424041152000427]),
    "sgd_momentum": ([1.022624, 0.8943248, 0.7009913, 0.5209804, 0.4135394],
        [0.2037457972764969, -0.44653478264808655, 0.5756162405014038, 0.20490089058876038, -0.05251342058181763, 0.4563365876674652]),
    "sgd_nesterov": ([1.022624, 0.7913622, 0.5805312, 0.4450109, 0.3951836],
        [0.20741599798202515, -0.4596121907234192, 0.5896915197372437, 0.19493746757507324, -0.028032906353473663, 0.4494870603084564]),
    "adam": ([1.022624, 0.8034116, 0.6698864, 0.594875, 0.5435193],
        [0.20348700881004333, -0.5061513781547546, 0.6974812150001526, 0.12118110060691833, -0.049148134887218475, 0.36731237173080444]),
    "adam_amsgrad": ([1.022624, 0.8034116, 0.6698864, 0.594872, 0.5435144],
        [0.2034875750541687, -0.506125807762146, 0.6974647045135498, 0.12117348611354828, -0.04914756864309311, 0.36730504035949707]),
    "adamw": ([1.022624, 0.8033653, 0.6699002, 0.5949291, 0.5435516],
        [0.20307402312755585, -0.505253255367279, 0.6965746879577637, 0.120968297123909, -0.048504069447517395, 0.36683180928230286]),
    "rmsprop": ([1.022624, 0.7159589, 0.6110266, 0.5468999, 0.5032191],
        [0.027329634875059128, -0.3997649848461151, 0.6191914677619934, 0.22019878029823303, -0.11144114285707474, 0.4550236165523529]),
    "rmsprop_centered_momentum": ([1.022624, 0.7055671, 0.5531402, 0.457274, 0.4066367],
        [-0.09511765837669373, -0.3748151659965515, 0.6452684998512268, 0.24898764491081238, 0.03927066922187805, 0.48624444007873535]),
    "adagrad": ([1.022624, 0.598541, 0.4915209, 0.4438329, 0.4200143],
        [0.059647947549819946, -0.4155532717704773, 0.5943373441696167, 0.22221383452415466, -0.03513830900192261, 0.4683840572834015]),
    "adam_clipnorm": ([1.022624, 0.8034123, 0.6692115, 0.5931403, 0.538094],
        [0.18021245300769806, -0.49925652146339417, 0.7058348059654236, 0.13187114894390106, -0.038340240716934204, 0.38390862941741943]),
    "sgd_clipvalue": ([1.022624, 0.9734527, 0.9278389, 0.8855046, 0.8465325],
        [0.1387152224779129, -0.2936612069606781, 0.40000006556510925, 0.3210621476173401, -0.3999999463558197, 0.542611300945282]),
    "sgd_global_clipnorm": ([1.022624, 0.9881735, 0.9546936, 0.9221847, 0.8906463],
        [0.11356569826602936, -0.2316497564315796, 0.3354565501213074, 0.37490156292915344, -0.4426525831222534, 0.5814527869224548]),
    "sgd_expdecay": ([1.022624, 0.7806532, 0.6716812, 0.6149981, 0.5825618],
        [0.1461704671382904, -0.3092920184135437, 0.42223724722862244, 0.31347253918647766, -0.30169597268104553, 0.5362370610237122]),
    "sgd_expdecay_staircase": ([1.022624, 0.7806532, 0.6318131, 0.5832642, 0.5446194],
        [0.1512340009212494, -0.3216639459133148, 0.43602612614631653, 0.30371180176734924, -0.27918171882629395, 0.5290876030921936]),
    "sgd_piecewise": ([1.022624, 0.7806532, 0.6318131, 0.5832642, 0.5446194],
        [0.1512340009212494, -0.3216639459133148, 0.43602612614631653, 0.30371180176734924, -0.27918171882629395, 0.5290876030921936]),
}


def train(optimizer, steps=5):
    w, b = tf.Variable(W0, name="w"), tf.Variable(B0, name="b")
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((tf.matmul(tf.constant(X), w) + b - tf.constant(Y)) ** 2)
        grads = tape.gradient(loss, [w, b])
        optimizer.apply_gradients(zip(grads, [w, b]))
        losses.append(float(loss))
    return losses, w.numpy()


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_losses_and_weights_match_tensorflow_step_by_step(name):
    optimizer = MAKERS[name]()
    losses, w = train(optimizer)
    tf_losses, tf_w = TF_RESULTS[name]
    np.testing.assert_allclose(losses, tf_losses, rtol=3e-6)
    np.testing.assert_allclose(w.ravel(), tf_w, rtol=2e-6, atol=2e-7)
    assert int(optimizer.iterations.numpy()) == 5


def test_apply_takes_gradients_and_variables_as_keras_3_does():
    a, b = optimizers.Adam(0.1), optimizers.Adam(0.1)
    va, vb = tf.Variable([1.0, -2.0]), tf.Variable([1.0, -2.0])
    a.apply_gradients([(tf.constant([0.5, 0.25]), va)])
    b.apply([tf.constant([0.5, 0.25])], [vb])
    b.apply([tf.constant([0.5, 0.25])])  # built: the gradients alone, in build order
    a.apply_gradients([(tf.constant([0.5, 0.25]), va)])
    np.testing.assert_array_equal(va.numpy(), vb.numpy())
    assert int(b.iterations) == 2


def test_a_none_gradient_is_skipped_with_keras_warning():
    used, unused = tf.Variable(1.0, name="used"), tf.Variable(2.0, name="unused")
    optimizer = optimizers.SGD(0.5)
    with tf.GradientTape() as tape:
        loss = used * 3.0
    grads = tape.gradient(loss, [used, unused])
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['unused:0'\]"):
        optimizer.apply_gradients(zip(grads, [used, unused]))
    assert float(used) == pytest.approx(-0.5) and float(unused) == 2.0


def test_minimize_explains_a_none_gradient():
    used, unused = tf.Variable(1.0, name="used"), tf.Variable(2.0, name="unused", trainable=False)
    with pytest.warns(UserWarning, match="SOURCE_NOT_TRAINABLE|unused"):
        optimizers.SGD(0.5).minimize(lambda: used * 3.0 + tf.stop_gradient(unused), [used, unused])
    assert float(used) == pytest.approx(-0.5)


def test_all_none_gradients_is_an_error():
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        optimizers.Adam().apply_gradients([(None, tf.Variable(1.0))])


def test_minimize_with_a_tensor_loss_needs_its_tape():
    v = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        loss = v * v
    with pytest.raises(ValueError, match="`tape` is required"):
        optimizers.SGD(0.1).minimize(loss, [v])
    optimizers.SGD(0.1).minimize(loss, [v], tape=tape)
    assert float(v) == pytest.approx(3.0 - 0.1 * 6.0)


def test_optimizer_refuses_variables_it_was_not_built_with():
    optimizer = optimizers.Adam()
    optimizer.apply_gradients([(tf.constant(1.0), tf.Variable(1.0))])
    with pytest.raises(ValueError, match="Unknown variable"):
        optimizer.apply_gradients([(tf.constant(1.0), tf.Variable(1.0))])


def test_only_one_clipping_option_and_unknown_options_are_refused():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="`lr` is no longer supported"):
        optimizers.SGD(lr=0.1)


def test_learning_rate_is_a_float32_variable_and_can_be_set():
    optimizer = optimizers.Adam()
    assert optimizer.learning_rate.dtype == tf.float32
    assert float(optimizer.learning_rate) == pytest.approx(0.001)
    optimizer.learning_rate = 0.5
    assert float(optimizer.learning_rate) == 0.5
    assert optimizer.name == "adam" and optimizers.RMSprop().name == "rm_sprop" and optimizers.AdamW().name == "adam_w"


def test_schedules_follow_the_step():
    decay = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert float(decay(10)) == pytest.approx(0.05)
    piecewise = optimizers.schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])
    assert [float(piecewise(s)) for s in (0, 5, 6, 10, 11)] == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.1])


def test_updates_are_not_recorded_by_an_open_tape():
    v = tf.Variable(1.0)
    optimizer = optimizers.Adam(0.1)
    with tf.GradientTape() as tape:
        y = v * 2.0
        recorded = [op.type for op in tape._operations()]
        optimizer.apply_gradients([(tf.constant(1.0), v)])
    assert [op.type for op in tape._operations()] == recorded
    assert float(tape.gradient(y, v)) == 2.0


def test_get_by_name():
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get("adamm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.get(optimizers.serialize(optimizers.SGD(0.3, momentum=0.5)))


def test_values_read_before_an_update_keep_their_values():
    # The optimizer updates its private slots in place; anything read from them must not change.
    v = tf.Variable([1.0, 2.0])
    optimizer = optimizers.Adam(0.1)
    optimizer.apply_gradients([(tf.constant([0.5, -0.5]), v)])
    momentum = optimizer.slots(v)[0]
    read_momentum, read_v = momentum.value(), v.value()
    before_momentum, before_v = read_momentum.numpy().copy(), read_v.numpy().copy()
    optimizer.apply_gradients([(tf.constant([0.5, -0.5]), v)])
    np.testing.assert_array_equal(read_momentum.numpy(), before_momentum)
    np.testing.assert_array_equal(read_v.numpy(), before_v)
    assert not np.array_equal(momentum.numpy(), before_momentum) and not np.array_equal(v.numpy(), before_v)


def test_a_persistent_tape_keeps_the_values_it_recorded_across_updates():
    v = tf.Variable([1.0, 2.0])
    optimizer = optimizers.Adam(0.5)
    with tf.GradientTape(persistent=True) as tape:
        y = tf.reduce_sum(v * v)
    first = tape.gradient(y, v).numpy()
    optimizer.apply_gradients([(tf.constant(first), v)])
    assert not np.array_equal(v.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 4.0])  # the recorded v, not the new one
