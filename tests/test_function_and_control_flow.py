"""tf.function (eager), tf.config, tf.cond, tf.while_loop, tf.print and tf.is_tensor.

tf.print's expected text is what TensorFlow 2.21 printed for the same tensors.
"""
import io
import sys

import numpy as np
import pytest

import tapeviz as tf


def test_function_with_and_without_arguments_runs_eagerly_and_tapes_record_through_it():
    @tf.function
    def square(x):
        return x * x

    @tf.function(jit_compile=True, reduce_retracing=True)
    def cube(x):
        return x * x * x

    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        y, z = square(x), cube(x)
    assert float(tape.gradient(y, x)) == 6.0 and float(tape.gradient(z, x)) == 27.0
    assert square.__name__ == "square" and square.python_function(2.0) == 4.0


def test_python_side_effects_run_on_every_call_because_nothing_is_traced():
    calls = []

    @tf.function
    def f(x):
        calls.append(1)
        return x + 1

    f(tf.constant(1.0))
    f(tf.constant(2.0))
    assert len(calls) == 2


def test_function_as_a_method_binds_its_instance():
    class Model:
        scale = 3.0

        @tf.function
        def __call__(self, x):
            return x * self.scale

    assert float(Model()(tf.constant(2.0))) == 6.0


def test_input_signature_is_checked_as_tensorflow_checks_it():
    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.float32)])
    def f(x):
        return x + 1

    np.testing.assert_array_equal(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 3.0])
    with pytest.raises(TypeError, match="Binding inputs to tf.function failed"):
        f(tf.constant([[1.0]]))
    with pytest.raises(TypeError, match="Binding inputs to tf.function failed"):
        f(tf.constant([1, 2]))


def test_run_functions_eagerly_is_accepted_and_remembered():
    tf.config.run_functions_eagerly(True)
    try:
        assert tf.config.functions_run_eagerly() is True
    finally:
        tf.config.run_functions_eagerly(False)
    assert tf.config.functions_run_eagerly() is False


def test_cond_runs_only_the_branch_taken_and_gradients_follow_it():
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y = tf.cond(x > 1.0, lambda: x * x, lambda: x * 10.0)
    assert float(y) == 4.0 and float(tape.gradient(y, x)) == 4.0
    assert tf.cond(tf.constant(False), lambda: 1, lambda: 2) == 2
    with pytest.raises(ValueError, match="scalar boolean"):
        tf.cond(tf.constant([True, False]), lambda: 1, lambda: 2)


def test_while_loop_returns_the_body_structure_as_tensors_and_is_differentiable():
    i, s = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * 2.0), (0, 1.0))
    assert (int(i), float(s)) == (3, 8.0) and i.dtype == tf.int32
    (n,) = tf.while_loop(lambda i: i < 10, lambda i: (i + 1,), [0], maximum_iterations=4)
    assert int(n) == 4
    x = tf.Variable(1.5)
    with tf.GradientTape() as tape:
        _, y = tf.while_loop(lambda k, y: k < 3, lambda k, y: (k + 1, y * x), [tf.constant(0), tf.constant(1.0)])
    assert float(tape.gradient(y, x)) == pytest.approx(3 * 1.5 ** 2)
    with pytest.raises(ValueError, match="'loop_vars' must be provided"):
        tf.while_loop(lambda i: i < 3, lambda i: i + 1, [])


def test_is_tensor():
    assert tf.is_tensor(tf.constant(1)) and tf.is_tensor(tf.Variable(1.0))
    assert not tf.is_tensor(np.ones(2)) and not tf.is_tensor(1.0)


@pytest.mark.parametrize("args, kwargs, expected", [
    ((tf.constant([1., 2., 3.5]), "text", 3), {}, "[1 2 3.5] text 3\n"),
    ((tf.range(2000),), {}, "[0 1 2 ... 1997 1998 1999]\n"),
    ((tf.constant([0.1, 1e-8, 123456.789]),), {}, "[0.1 1e-08 123456.789]\n"),
    ((tf.constant([1.0, 2.0]), tf.constant(np.float64(0.1)), tf.constant(np.float32(1 / 3)), tf.constant(-0.5)), {},
     "[1 2] 0.1 0.333333343 -0.5\n"),
    (("a", "b"), {"sep": ",", "end": "!\n"}, "a,b!\n"),
    (({"a": tf.constant(1.0)}, [tf.constant(2)]), {}, "{'a': 1} [2]\n"),
    ((tf.constant(True), tf.Variable(1.5)), {}, "1 1.5\n"),
    ((tf.reshape(tf.range(64), (8, 8)),), {},
     "[[0 1 2 ... 5 6 7]\n [8 9 10 ... 13 14 15]\n [16 17 18 ... 21 22 23]\n ...\n [40 41 42 ... 45 46 47]\n"
     " [48 49 50 ... 53 54 55]\n [56 57 58 ... 61 62 63]]\n"),
    ((tf.zeros((2, 2, 2)),), {}, "[[[0 0]\n  [0 0]]\n\n [[0 0]\n  [0 0]]]\n"),
])
def test_print_formats_as_tensorflow(args, kwargs, expected):
    stream = io.StringIO()
    tf.print(*args, output_stream=stream, **kwargs)
    assert stream.getvalue() == expected


def test_print_goes_to_stderr_by_default(capsys):
    tf.print(tf.constant([1, 2]))
    captured = capsys.readouterr()
    assert captured.err == "[1 2]\n" and captured.out == ""
    tf.print("to stdout", output_stream=sys.stdout)
    assert capsys.readouterr().out == "to stdout\n"
