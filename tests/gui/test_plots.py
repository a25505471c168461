"""Plots of gradients: the pure data and derivative functions, then the two widgets (offscreen)."""

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.gui.plots import FunctionExplorer, GradientPlot, compute_derivatives, gradient_plot_data

F32 = dict(rtol=1e-5, atol=1e-4)



def record_plot_section():
    """The tutorial's plot section: res1 = 4*x1**2 + 3 over a linspace, and a second, unwatched source."""
    with tf.record() as rec:
        x1 = tf.linspace(-15.0, 15.0, 151)
        x2 = tf.linspace(-15.0, 15.0, 151)
        with tf.GradientTape() as tape:
            tape.watch(x1)
            res1 = 4*(x1**2)+3
        tape.gradient(res1, [x1, x2])
    run = rec.snapshot()
    return run, run.calls[-1]


# Pure functions -------------------------------------------------------------------------------------
def test_derivatives_of_a_cube():
    x, f, df, d2f = compute_derivatives("x**3", -2, 2, 41)
    np.testing.assert_allclose(x, np.linspace(-2, 2, 41), **F32)
    np.testing.assert_allclose(f, x**3, **F32)
    np.testing.assert_allclose(df, 3 * x**2, **F32)
    np.testing.assert_allclose(d2f, 6 * x, **F32)


def test_derivatives_of_sine():
    x, f, df, d2f = compute_derivatives("sin(x)", -3, 3, 61)
    np.testing.assert_allclose(f, np.sin(x), **F32)
    np.testing.assert_allclose(df, np.cos(x), **F32)
    np.testing.assert_allclose(d2f, -np.sin(x), **F32)


def test_constant_has_zero_derivatives():
    x, f, df, d2f = compute_derivatives("2 * pi", 0, 1, 5)
    np.testing.assert_allclose(f, np.full(5, 2 * np.pi), **F32)
    assert not df.any() and not d2f.any()


@pytest.mark.parametrize("expression, words", [
    ("sin(x", "Syntax error"),
    ("foo(x) + 1", "'foo'"),
    ("x + y", "Unknown name 'y'"),
    ("x.__class__", "not allowed"),
    ("__import__('os')", "'__import__'"),
    ("", "empty"),
    ("sin", "is a function"),
    ("x**-1", "not finite"),
    ("9**9**9**9", "too large"),
])
def test_bad_expressions_raise_value_errors_in_words(expression, words):
    with pytest.raises(ValueError) as raised:
        compute_derivatives(expression, -2, 2, 41)
    assert words in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_bad_range_is_a_value_error():
    with pytest.raises(ValueError, match="range"):
        compute_derivatives("x", 2, -2, 41)


def test_gradient_plot_data_of_the_tutorial_plot_section():
    run, call = record_plot_section()
    series = gradient_plot_data(run, call)
    assert [s.label for s in series] == ["res1", "d res1/d x1"]
    function, derivative = series
    x = np.linspace(-15.0, 15.0, 151)
    np.testing.assert_allclose(function.x, x, **F32)
    np.testing.assert_allclose(function.y, 4 * x**2 + 3, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(derivative.x, x, **F32)
    np.testing.assert_allclose(derivative.y, 8 * x, rtol=1e-5, atol=1e-3)
    assert (function.role, derivative.role) == ("function", "derivative")
    [skipped] = series.skipped
    assert skipped.source == call.sources[1]
    assert skipped.reason == "gradient is None"
    assert skipped.label == "d res1/d x2"
    assert "tapes watch tensors only when told to" in skipped.detail  # the recorded explanation


def test_gradient_plot_data_skips_sources_that_are_not_one_axis():
    with tf.record() as rec:
        w = tf.Variable([[1.0, 2.0], [3.0, 4.0]], name="w")
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w * w)
        tape.gradient(loss, w)
    run = rec.snapshot()
    series = gradient_plot_data(run, run.calls[-1])
    assert list(series) == []
    assert "shape (2, 2)" in series.skipped[0].reason


# Widgets ------------------------------------------------------------------------------------------
def test_gradient_plot_draws_function_and_gradient(qtbot, tmp_path):
    run, call = record_plot_section()
    plot = GradientPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 450)
    plot.show_call(run, call)
    curves = plot.curves()
    assert len(curves) == 2
    x = np.linspace(-15.0, 15.0, 151)
    xs, ys = curves[0].getData()
    np.testing.assert_allclose(ys, 4 * x**2 + 3, rtol=1e-5, atol=1e-3)
    xs, ys = curves[1].getData()
    np.testing.assert_allclose(ys, 8 * x, rtol=1e-5, atol=1e-3)
    assert curves[0].opts["pen"].color() != curves[1].opts["pen"].color()
    assert all(c.opts["pen"].widthF() >= 2 for c in curves)
    assert "gradient is None" in plot.notes.text()
    assert plot.plot.stack.currentWidget() is plot.plot.plot_widget

    plot.plot.show_readout(1.03)
    text = plot.plot.readout.text()
    assert "x</b> = 1" in text and "res1 = 7" in text and "d res1/d x1 = 8" in text

    path = tmp_path / "gradient.png"
    plot.export_png(path)
    assert path.stat().st_size > 1000


def test_gradient_plot_says_when_nothing_is_plottable(qtbot):
    with tf.record() as rec:
        x = tf.constant(3.0)
        with tf.GradientTape() as tape:
            y = x * x
        tape.gradient(y, x)
    run = rec.snapshot()
    plot = GradientPlot()
    qtbot.addWidget(plot)
    plot.show_call(run, run.calls[-1])
    assert plot.curves() == []
    assert plot.plot.stack.currentWidget() is plot.plot.message
    assert "Nothing to plot" in plot.plot.message.text()
    assert "gradient is None" in plot.plot.message.text()


def test_function_explorer_computes_in_the_background(qtbot, tmp_path):
    explorer = FunctionExplorer(expression="x**3", start=-2, stop=2, num=41)
    qtbot.addWidget(explorer)
    explorer.resize(800, 500)
    with qtbot.waitSignal(explorer.computed, timeout=10000):
        explorer.plot_button.click()
        assert explorer.busy()  # the click returned before the work was done
    qtbot.waitUntil(lambda: len(explorer.curves()) == 3 and explorer.curves()[2].getData()[1] is not None)
    (x, f), (_, df), (_, d2f) = (c.getData() for c in explorer.curves())
    np.testing.assert_allclose(f, x**3, **F32)
    np.testing.assert_allclose(df, 3 * x**2, **F32)
    np.testing.assert_allclose(d2f, 6 * x, **F32)
    assert "41 points" in explorer.status.text()

    path = tmp_path / "explorer.png"
    explorer.export_png(path)
    assert path.stat().st_size > 1000


def test_function_explorer_reports_a_bad_expression(qtbot):
    explorer = FunctionExplorer(expression="sin(x) +* 2")
    qtbot.addWidget(explorer)
    with qtbot.waitSignal(explorer.computed, timeout=10000):
        qtbot.keyClick(explorer.expression, "\r")   # Enter plots too
    assert "Syntax error" in explorer.status.text()
    explorer.expression.setText("sin(z)")
    with qtbot.waitSignal(explorer.computed, timeout=10000):
        explorer.plot_button.click()
    assert "Unknown name 'z'" in explorer.status.text()
    assert explorer.curves() == []
    assert "Unknown name 'z'" in explorer.plot.message.text()   # said where the plot would be, too


def test_only_the_newest_request_is_drawn(qtbot):
    explorer = FunctionExplorer(expression="x**2", start=-1, stop=1, num=11)
    qtbot.addWidget(explorer)
    explorer.plot_button.click()
    explorer.expression.setText("x**3")
    explorer.plot_button.click()
    qtbot.waitUntil(lambda: not explorer.busy(), timeout=10000)
    x, f = explorer.curves()[0].getData()
    np.testing.assert_allclose(f, x**3, **F32)


def record_scoped_training(steps=6):
    """Four scoped variables, two too large for their gradient's value to be kept (only statistics)."""
    rng = np.random.default_rng(1)
    with tf.record() as rec:
        x = tf.constant(rng.normal(size=(8, 784)).astype(np.float32))
        params = [tf.Variable(rng.normal(size=(784, 32)).astype(np.float32) * 0.05, name="sequential/dense/kernel"),
                  tf.Variable(np.zeros(32, np.float32), name="sequential/dense/bias"),
                  tf.Variable(rng.normal(size=(32, 40)).astype(np.float32) * 0.1, name="sequential/dense_1/kernel"),
                  tf.Variable(np.zeros(40, np.float32), name="sequential/dense_1/bias")]
        for _ in range(steps):
            with tf.GradientTape() as tape:
                hidden = tf.nn.relu(x @ params[0] + params[1])
                loss = tf.reduce_mean((hidden @ params[2] + params[3]) ** 2)
            grads = tape.gradient(loss, params)
            for param, grad in zip(params, grads):
                param.assign_sub(0.1 * grad)
    return rec.snapshot()


def test_the_steps_view_names_every_variable_beside_the_plot(qtbot):
    from tapeviz.gui.plots import StepsPlot
    run = record_scoped_training()
    kept = [r.value is not None for r in run.calls[-1].results]
    assert not all(kept)                      # the case where norms alone would drop variables
    plot = StepsPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 200)
    plot.show_steps(run, list(run.tapes), "train.py:9")
    legend = plot.norms.side_legend
    assert legend.texts() == ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]
    assert len(plot.norms.curves()) == 4
    assert [label.toolTip() for label in legend.labels][0] == "sequential/dense/kernel"
    assert not plot.norms.legend.isVisible() or not plot.norms.legend.items   # nothing drawn over the curves


def test_every_variable_plots_its_gradient_norm_per_step_even_where_only_statistics_were_kept():
    from tapeviz.gui.plot_data import gradient_sizes
    run = record_scoped_training(steps=5)
    last = run.calls[-1]
    assert any(r.value is None for r in last.results) and any(r.value is not None for r in last.results)
    measure, sizes = gradient_sizes(run, list(run.tapes))
    assert measure == "gradient norm" and len(sizes) == 4
    for result in last.results:
        name = run.tensors[result.source].name.split(":")[0]
        if result.value is not None:
            assert sizes[name][-1] == pytest.approx(np.linalg.norm(result.value.astype(np.float64)), rel=1e-6)
        else:   # a kernel kept as statistics (the store's norm is checked against numpy's elsewhere)
            summary, norm = result.summary, sizes[name][-1]
            largest = max(abs(summary["min"]), abs(summary["max"]))
            assert norm == summary["norm"] and largest <= norm <= largest * np.sqrt(summary["size"])
            assert norm >= abs(summary["mean"]) * np.sqrt(summary["size"]) * (1 - 1e-6)   # Cauchy-Schwarz
    assert all(np.isfinite(values).all() for values in sizes.values())


def test_the_largest_value_is_plotted_for_every_variable_when_a_file_kept_no_norms():
    from tapeviz.gui.plot_data import gradient_sizes
    run = record_scoped_training(steps=5)
    for call in run.calls:                 # as a file saved before the norm was kept reads back
        for result in call.results:
            result.summary.pop("norm", None)
    measure, sizes = gradient_sizes(run, list(run.tapes))
    assert measure == "largest |gradient|" and len(sizes) == 4
    last = run.calls[-1]
    for result in last.results:
        name = run.tensors[result.source].name.split(":")[0]
        expected = max(abs(result.summary["min"]), abs(result.summary["max"]))
        assert sizes[name][-1] == pytest.approx(expected)
        if result.value is not None:       # where the value was kept, it agrees with the statistics
            assert expected == pytest.approx(np.abs(result.value).max())


@pytest.mark.parametrize("low, high, pixels", [(-2.0, -0.5, 70), (-6.0, 1.0, 70), (-6.0, 1.0, 400), (-1.3, -1.1, 60)])
def test_log_axis_labels_are_never_closer_than_a_line_of_text(low, high, pixels):
    from tapeviz.gui.plot_data import log_ticks
    values = [v for _, level in log_ticks(low, high, pixels) for v in level]
    assert values and all(low <= v <= high for v in values)
    gaps = np.diff(sorted(values)) / (high - low) * pixels
    assert (gaps >= 20).all()   # a 9-point label is about 14 pixels tall


def test_curves_beyond_the_palette_are_drawn_in_another_line_style(qtbot):
    from tapeviz.gui.plots import CurvePlot
    plot = CurvePlot(log_y=True, legend_outside=True)
    qtbot.addWidget(plot)
    x = np.arange(1.0, 6.0)
    count = len(plot.colours()) + 1
    plot.set_series([(f"v{i}", x, x * (i + 1), "derivative") for i in range(count)])
    pens = [(item.opts["pen"].color().name(), item.opts["pen"].style()) for item in plot.curves()]
    assert len(set(pens)) == count                       # no two curves look alike
    assert len(plot.side_legend.texts()) == count
