"""The seed tutorial (examples/seed_tutorial.py) prints what the TensorFlow tutorial printed.

Expected numbers are the tutorial's printed ones, as literals. Floats are compared with rtol=2e-6:
tapeviz's float32 kernels are numpy's, not Eigen's, and may differ from TensorFlow's in the last unit
of the last printed digit (allowed, and written down in the README). Each value is checked twice: the
tensor the example's functions return, and the number the script printed.
"""
import contextlib
import io
import os
import re
import runpy
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "seed_tutorial.py"
RTOL = 2e-6

NON_PERSISTENT_MESSAGE = ("A non-persistent GradientTape can only be used to compute one set of gradients "
                          "(or jacobians)")

# The tutorial's printed numbers ----------------------------------------------------------------
Y_1 = [[56.246506, 14.48735, 55.163166]]
LOSS_1 = 2138.8425
DY_DX = [[7.903452, -5.240513, 22.839474, 14.239044]]
DLOSS_DY_1 = [[37.497673, 9.658234, 36.775444]]
DLOSS_DX_1 = [[-154.50319, 31.068237, 924.07367, 378.47495]]
Y_5 = [[63.46084, 25.093401, 77.08424]]
LOSS_5 = 3532.9792
DLOSS_DY_5 = [[42.307224, 16.728935, 51.389496]]
DLOSS_DX_5 = [[-28.813324, 42.9319, 1090.8401, 504.20065]]
Y_INT = [[-5, 103, -64]]
LOSS_INT = 4910

DLOSS_DW = [[37.497673, 9.658234, 36.775444],
            [74.995346, 19.316467, 73.55089],
            [112.49302, 28.9747, 110.32633],
            [149.99069, 38.632935, 147.10178]]
DLOSS_DB = [37.497673, 9.658234, 36.775444]
DYDLOSS_DX = [[-146.5997, 25.82772, 946.9131, 392.71396]]

# (watch, case) -> what the tutorial printed for y, loss, dy_dx, dloss_dy, dloss_dx (None: "None").
FLOAT_1 = dict(y=Y_1, loss=LOSS_1, dy_dx=DY_DX, dloss_dy=DLOSS_DY_1, dloss_dx=DLOSS_DX_1)
INT_2 = dict(y=Y_INT, loss=LOSS_INT, dy_dx=None, dloss_dy=None, dloss_dx=None)
EXPECTED_CASES = {
    (False, 1): FLOAT_1,
    (False, 2): INT_2,
    (False, 3): dict(FLOAT_1, dy_dx=None, dloss_dx=None),
    (False, 4): dict(FLOAT_1, dy_dx=None, dloss_dx=None),
    (False, 5): dict(y=Y_5, loss=LOSS_5, dy_dx=None, dloss_dy=DLOSS_DY_5, dloss_dx=None),
    (True, 1): FLOAT_1,
    (True, 2): INT_2,
    (True, 3): FLOAT_1,
    (True, 4): FLOAT_1,
    (True, 5): dict(y=Y_5, loss=LOSS_5, dy_dx=DY_DX, dloss_dy=DLOSS_DY_5, dloss_dx=DLOSS_DX_5),
}
EXPECTED_WATCHED = {
    1: ['w:0', 'b:0', 'x:0'],
    2: ['w:0', 'b:0', 'x:0'],
    3: ['w:0', 'b:0', 'Variable:0'],   # tensor_x is not named "x"
    4: ['w:0', 'b:0'],
    5: ['w:0', 'b:0'],
}
SHAPES = {"y": (1, 3), "loss": (), "dy_dx": (1, 4), "dloss_dy": (1, 3), "dloss_dx": (1, 4)}

W_REPR = """<tapeviz.Variable 'w:0' shape=(4, 3) dtype=float32, numpy=
array([[-13.394766 ,  16.05925  ,   5.238968 ],
       [ -2.6181564,  -8.322439 ,   5.700083 ],
       [ 19.031418 ,  -2.5960197,   6.4040756],
       [  4.195833 ,   5.4652596,   4.5779514]], dtype=float32)>"""


# Running the example ----------------------------------------------------------------------------
def load_example():
    """The example's functions, without running main()."""
    return runpy.run_path(str(EXAMPLE), run_name="seed_tutorial")


def run_main(namespace):
    out = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # case 2 watches an int32 tensor, which warns (as TF does)
        with contextlib.redirect_stdout(out):
            results = namespace["main"]()
    return results, out.getvalue()


@pytest.fixture(scope="module")
def tutorial():
    namespace = load_example()
    results, stdout = run_main(namespace)
    return types.SimpleNamespace(ns=namespace, results=results, stdout=stdout, lines=stdout.splitlines())


# Reading what was printed -----------------------------------------------------------------------
def parse_tensor(text):
    """(values, shape, dtype) of a printed ``tapeviz.Tensor(...)``, or None for ``None``."""
    text = text.strip()
    if text == "None":
        return None
    match = re.fullmatch(r"tapeviz\.Tensor\((.*), shape=\(([\d, ]*)\), dtype=(\w+)\)", text, re.S)
    assert match, f"not a printed tapeviz.Tensor: {text!r}"
    body, shape, dtype = match.groups()
    shape = tuple(int(d) for d in shape.replace(",", " ").split())
    values = np.array(body.replace("[", " ").replace("]", " ").split(), dtype=np.float64).reshape(shape)
    return values, shape, dtype


def printed_case(stdout, watch, case):
    """The ``[+] name: value`` lines the script printed for one case of one experiment."""
    heading = "[experiment] with tape.watch(tensor_x)" if watch else "[experiment] without tape.watch(tensor_x)"
    lines = stdout.splitlines()
    assert heading in lines, f"missing heading {heading!r}"
    start = lines.index(heading)
    start = lines.index(f"Case {case}:", start) + 1
    printed = {}
    for line in lines[start:]:
        match = re.match(r"\[\+\] ([\w ]+?): (.*)$", line)
        if not match:
            break
        printed[match.group(1)] = match.group(2)
    return printed


def line_after(lines, prefix):
    """The rest of the first printed line that starts with ``prefix``."""
    for line in lines:
        if line.startswith(prefix):
            return line[len(prefix):]
    raise AssertionError(f"no printed line starts with {prefix!r}")


def block_after(stdout, prefix):
    """A printed value that may span lines: from ``prefix`` up to the closing ``)`` of the tensor."""
    start = stdout.index(prefix) + len(prefix)
    end = stdout.index("dtype=", start)
    end = stdout.index(")", end) + 1
    return stdout[start:end]


def assert_tensor(actual, expected, dtype="float32"):
    assert actual is not None, "expected a tensor, got None"
    assert actual.dtype.name == dtype
    assert tuple(actual.shape) == np.shape(expected)
    if dtype.startswith("int"):
        np.testing.assert_array_equal(actual.numpy(), expected)
    else:
        np.testing.assert_allclose(actual.numpy(), expected, rtol=RTOL)


def assert_printed(text, expected, dtype="float32"):
    if expected is None:
        assert text.strip() == "None"
        return
    values, shape, printed_dtype = parse_tensor(text)
    assert printed_dtype == dtype
    assert shape == np.shape(expected)
    if dtype.startswith("int"):
        np.testing.assert_array_equal(values, expected)
    else:
        np.testing.assert_allclose(values, expected, rtol=RTOL)


# tf.GradientTape --------------------------------------------------------------------------------
def test_first_gradient_prints_in_tensorflow_layout(tutorial):
    assert tutorial.lines[0] == "tapeviz.Tensor(4.0, shape=(), dtype=float32)"
    assert_tensor(tutorial.results["basics"]["dy1_dx"], 4.0)


def test_second_gradient_on_non_persistent_tape_raises_runtime_error(tutorial):
    assert tutorial.lines[1] == f"RuntimeError: {NON_PERSISTENT_MESSAGE}"
    error = tutorial.results["basics"]["error"]
    assert isinstance(error, RuntimeError)
    assert str(error) == NON_PERSISTENT_MESSAGE


def test_persistent_tape_gives_all_three_gradients(tutorial):
    assert tutorial.lines[2:5] == ["tapeviz.Tensor(4.0, shape=(), dtype=float32)",
                                   "tapeviz.Tensor(12.0, shape=(), dtype=float32)",
                                   "tapeviz.Tensor(4.0, shape=(), dtype=float32)"]
    for grad, expected in zip(tutorial.results["basics"]["persistent"], [4.0, 12.0, 4.0]):
        assert_tensor(grad, expected)


def test_scalar_gradient_str_is_tapeviz_tensor():
    import tapeviz as tf

    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y1 = x**2
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print(tape.gradient(y1, x))
    assert out.getvalue() == "tapeviz.Tensor(4.0, shape=(), dtype=float32)\n"


# Conditions to use tf.GradientTape.gradient() ---------------------------------------------------
def test_w_is_the_tutorials_printed_w_in_variable_layout(tutorial):
    assert W_REPR in tutorial.stdout
    assert repr(tutorial.results["w"]) == W_REPR
    assert tutorial.results["w"].name == "w:0"
    tensor_b = tutorial.results["b"]
    assert (tensor_b.name, tensor_b.dtype.name, tuple(tensor_b.shape)) == ("b:0", "float32", (3,))
    np.testing.assert_array_equal(tensor_b.numpy(), [1.0, 1.0, 1.0])


def test_random_uniform_runs_after_set_seed(tutorial):
    import tapeviz as tf

    tf.random.set_seed(1)
    first = tf.random.uniform((4, 3), minval=-20, maxval=20, dtype=tf.float32)
    tf.random.set_seed(1)
    second = tf.random.uniform((4, 3), minval=-20, maxval=20, dtype=tf.float32)
    assert first.dtype == tf.float32 and tuple(first.shape) == (4, 3)
    assert np.all((first.numpy() >= -20) & (first.numpy() < 20))
    np.testing.assert_array_equal(first.numpy(), second.numpy())   # reproducible after set_seed


@pytest.mark.parametrize("watch, case", sorted(EXPECTED_CASES))
def test_case_values(tutorial, watch, case):
    expected = EXPECTED_CASES[(watch, case)]
    got = tutorial.results["with_watch" if watch else "without_watch"][case]
    printed = printed_case(tutorial.stdout, watch, case)
    dtype = "int32" if case == 2 else "float32"
    for name in ("y", "loss", "dy_dx", "dloss_dy", "dloss_dx"):
        key = f"tensor_{name}"
        assert key in printed, f"case {case}: {key} was not printed"
        if expected[name] is None:
            assert got[name] is None, f"case {case}, watch={watch}: {name} should be None, got {got[name]}"
        else:
            assert_tensor(got[name], expected[name], dtype)
            assert tuple(got[name].shape) == SHAPES[name]
        assert_printed(printed[key], expected[name], dtype)


def test_case_2_prints_int32_exactly(tutorial):
    for watch in (False, True):
        printed = printed_case(tutorial.stdout, watch, 2)
        assert printed["tensor_y"] == " tapeviz.Tensor([[ -5 103 -64]], shape=(1, 3), dtype=int32)"
        assert printed["tensor_loss"] == " tapeviz.Tensor(4910, shape=(), dtype=int32)"
        for name in ("tensor_dy_dx", "tensor_dloss_dy", "tensor_dloss_dx"):
            assert printed[name] == " None"


def test_case_2_uses_int32_w_and_b_named_w_and_b(tutorial):
    got = tutorial.results["with_watch"][2]
    assert got["w"].dtype.name == "int32" and got["b"].dtype.name == "int32"
    assert (got["w"].name, got["b"].name, got["x"].name) == ("w:0", "b:0", "x:0")


@pytest.mark.parametrize("case", sorted(EXPECTED_WATCHED))
def test_watched_variables_per_case(tutorial, case):
    assert tutorial.results["with_watch"][case]["watched"] == EXPECTED_WATCHED[case]
    printed = printed_case(tutorial.stdout, True, case)
    assert printed["watched variables"] == " " + str(EXPECTED_WATCHED[case])


# Source as list, dictionary; target as dictionary -----------------------------------------------
def test_list_sources(tutorial):
    got = tutorial.results["sources"]
    assert_tensor(got["dloss_dw"], DLOSS_DW)
    assert_tensor(got["dloss_db"], DLOSS_DB)
    assert_printed(block_after(tutorial.stdout, "[+] tensor_dloss_dw:  "), DLOSS_DW)
    assert_printed(line_after(tutorial.lines, "[+] tensor_dloss_db:  "), DLOSS_DB)


def test_list_source_prints_matrix_on_its_own_lines(tutorial):
    text = block_after(tutorial.stdout, "[+] tensor_dloss_dw:  ")
    assert text.startswith("tapeviz.Tensor(\n[[ 37.4976")
    assert text.endswith("]], shape=(4, 3), dtype=float32)")
    assert len(text.splitlines()) == 5


def test_dict_sources(tutorial):
    got = tutorial.results["sources"]["dloss_dwdb_dic"]
    assert isinstance(got, dict) and set(got) == {"tensor_w", "tensor_b"}
    assert_tensor(got["tensor_w"], DLOSS_DW)
    assert_tensor(got["tensor_b"], DLOSS_DB)
    assert_printed(block_after(tutorial.stdout, "[+] tensor_dloss_dw_dic:  "), DLOSS_DW)
    assert_printed(line_after(tutorial.lines, "[+] tensor_dloss_db_dic:  "), DLOSS_DB)


def test_dict_target_gives_gradient_of_the_sum(tutorial):
    assert_tensor(tutorial.results["sources"]["dydloss_dx"], DYDLOSS_DX)
    assert_printed(line_after(tutorial.lines, "[+] tensor_dydloss_dx:  "), DYDLOSS_DX)
    index = next(i for i, line in enumerate(tutorial.lines) if line.startswith("[+] tensor_dydloss_dx:  "))
    assert tutorial.lines[index + 1] == "['w:0', 'b:0', 'x:0']"


def test_printed_shapes(tutorial):
    shapes = ["(1, 4)", "(1, 4)", "(1, 3)", "(1, 3)", "(4, 3)", "(4, 3)", "(3,)", "(3,)"]
    index = next(i for i, line in enumerate(tutorial.lines) if line.startswith("[+] tensor_dydloss_dx:  "))
    assert tutorial.lines[index + 2:index + 10] == shapes
    got = tutorial.results["sources"]
    assert tuple(got["dloss_dw"].shape) == (4, 3) and tuple(got["dloss_db"].shape) == (3,)


# Checking which operations are stored for the backward propagation -------------------------------
DENSE = [("dense_1/kernel:0", (3, 2)), ("dense_1/bias:0", (2,)),
         ("dense_2/kernel:0", (2, 4)), ("dense_2/bias:0", (4,))]


def test_dense_variables_names_shapes_and_zero_biases(tutorial):
    dense = tutorial.results["dense"]
    variables = list(dense["layer1"].trainable_variables) + list(dense["layer2"].trainable_variables)
    assert [(v.name, tuple(v.shape)) for v in variables] == DENSE
    assert all(v.dtype.name == "float32" for v in variables)
    np.testing.assert_array_equal(variables[1].numpy(), np.zeros(2, np.float32))
    np.testing.assert_array_equal(variables[3].numpy(), np.zeros(4, np.float32))
    grads = list(dense["grads1"]) + list(dense["grads2"])
    assert [tuple(g.shape) for g in grads] == [shape for _, shape in DENSE]
    assert all(g.dtype.name == "float32" for g in grads)


def test_dense_prints_names_and_gradient_shapes(tutorial):
    expected = ["Dense 1:",
                "[+] variable name, shape: dense_1/kernel:0, (3, 2)",
                "[+] variable name, shape: dense_1/bias:0, (2,)",
                "Dense 2:",
                "[+] variable name, shape: dense_2/kernel:0, (2, 4)",
                "[+] variable name, shape: dense_2/bias:0, (4,)"]
    index = tutorial.lines.index("Dense 1:")
    assert tutorial.lines[index:index + 6] == expected


def test_dense_trainable_variables_print_as_variable_list(tutorial):
    assert "[+] The trainable vairables of layer1:  [<tapeviz.Variable 'dense_1/kernel:0' shape=(3, 2) " \
           "dtype=float32, numpy=\narray([[" in tutorial.stdout
    assert ", <tapeviz.Variable 'dense_1/bias:0' shape=(2,) dtype=float32, numpy=array([0., 0.], " \
           "dtype=float32)>]\n" in tutorial.stdout
    assert "[+] The trainable vairables of layer2:  [<tapeviz.Variable 'dense_2/kernel:0' shape=(2, 4) " \
           "dtype=float32, numpy=\narray([[" in tutorial.stdout
    assert ", <tapeviz.Variable 'dense_2/bias:0' shape=(4,) dtype=float32, numpy=array([0., 0., 0., 0.], " \
           "dtype=float32)>]\n" in tutorial.stdout


# Control flow -----------------------------------------------------------------------------------
def test_control_flow_first_experiment(tutorial):
    got = tutorial.results["control_flow"]
    assert_tensor(got["dres1_dx1"], 24.0)
    assert got["dres1_dx2"] is None
    assert "[+] tensor_dres1_dx1:  tapeviz.Tensor(24.0, shape=(), dtype=float32)" in tutorial.lines
    assert "[+] tensor_dres1_dx2 None" in tutorial.lines


def test_control_flow_second_experiment(tutorial):
    got = tutorial.results["control_flow"]
    assert got["dres2_dx1"] is None
    assert_tensor(got["dres2_dx2"], 27.0)
    assert "[+] tensor_dres2_dx1:  None" in tutorial.lines
    assert "[+] tensor_dres2_dx2 tapeviz.Tensor(27.0, shape=(), dtype=float32)" in tutorial.lines


def test_control_flow_wrong_tape_gives_none_twice(tutorial):
    got = tutorial.results["control_flow"]
    assert got["dres2_dx1_tmp"] is None and got["dres2_dx2_tmp"] is None
    assert "[+] tensor_dres2_dx1_tmp:  None" in tutorial.lines
    assert "[+] tensor_dres2_dx2_tmp:  None" in tutorial.lines


# Plot a function and its gradient ---------------------------------------------------------------
def _plotted_x(tutorial, name):
    x = tutorial.results["plot"][name]
    assert x.dtype.name == "float32" and tuple(x.shape) == (151,)
    np.testing.assert_allclose(x.numpy(), np.linspace(-15.0, 15.0, 151), rtol=0, atol=1e-5)
    return x.numpy().astype(np.float64)


def test_plot_res1_and_its_gradient(tutorial):
    x = _plotted_x(tutorial, "x1")
    plot = tutorial.results["plot"]
    assert_tensor(plot["res_1"], 4 * x**2 + 3)
    assert_tensor(plot["dres1_dx1"], 8 * x)


def test_plot_res2_and_its_gradient(tutorial):
    x = _plotted_x(tutorial, "x2")
    plot = tutorial.results["plot"]
    assert_tensor(plot["res_2"], x**3)
    assert_tensor(plot["dres2_dx2"], 3 * x**2)


def test_plot_section_prints_nothing(tutorial):
    assert tutorial.lines[-1] == "[+] tensor_dres2_dx2_tmp:  None"


def test_plots_receive_the_arrays(monkeypatch):
    """With matplotlib importable, the four plt.plot calls get x and the functions as arrays."""
    calls = []
    pyplot = types.ModuleType("matplotlib.pyplot")
    pyplot.plot = lambda x, y, label=None: calls.append((np.asarray(x), np.asarray(y), label))
    pyplot.legend = pyplot.figure = pyplot.close = lambda *args, **kwargs: None
    matplotlib = types.ModuleType("matplotlib")
    matplotlib.use = lambda backend: calls.append(backend)
    matplotlib.pyplot = pyplot
    monkeypatch.setitem(sys.modules, "matplotlib", matplotlib)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", pyplot)
    namespace = load_example()
    with contextlib.redirect_stdout(io.StringIO()):
        plot = namespace["plot_function_and_gradient"]()
    assert plot["plotted"] is True
    assert calls[0] == "Agg"
    x = np.linspace(-15.0, 15.0, 151)
    labels = [label for _, _, label in calls[1:]]
    assert labels == ["res1", "dres1", "res2", "dres2"]
    for (px, py, label), expected in zip(calls[1:], [4 * x**2 + 3, 8 * x, x**3, 3 * x**2]):
        np.testing.assert_allclose(px, x, atol=1e-5)
        np.testing.assert_allclose(py, expected, rtol=1e-5, atol=1e-4, err_msg=label)


# The script -------------------------------------------------------------------------------------
def test_script_runs_headless_and_prints_the_same(tutorial):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND", "TAPEVIZ_RECORD")}
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    # tf.random.set_seed(1) makes the Dense kernels reproducible too, so the whole output matches.
    assert done.stdout == tutorial.stdout
