"""The run-wide problem list, without Qt: None, NaN/Inf and blocked gradients, grouped across tapes."""
import numpy as np

import tapeviz as tf
from tapeviz.gui.loader import index_run
from tapeviz.gui.problems import run_problems


def record_problem_run(steps=5):
    with tf.record() as rec:
        w = tf.Variable(np.array([1.0, -2.0]), name="w")
        for _ in range(steps):                       # the same None at every step of a loop
            c = tf.constant(3.0)
            with tf.GradientTape() as tape:
                loss = c * 2.0
            tape.gradient(loss, c)
        z = tf.Variable(0.0, name="z")
        with tf.GradientTape() as tape:
            root = tf.sqrt(z)
        tape.gradient(root, z)                       # 1/(2 sqrt(0)) = inf
        with tf.GradientTape() as tape:
            off = tf.reduce_sum(tf.nn.relu(w - 5.0))
        tape.gradient(off, w)                        # relu off everywhere: exactly zero
    return rec.snapshot()


def test_every_kind_is_found_and_a_loop_repeats_one_group():
    run = record_problem_run()
    problems, groups = run_problems(run)
    assert sorted({p.kind for p in problems}) == ["NaN/Inf", "None", "blocked"]
    assert [g.kind for g in groups] == ["None", "NaN/Inf", "blocked"]   # the worst first
    none_group = groups[0]
    assert len(none_group.members) == 5 and "x5" in none_group.title
    assert len({p.call.tape for p in none_group.members}) == 5          # across tapes
    assert "z" in groups[1].title and "w" in groups[2].title


def test_the_index_counts_problems_per_tape():
    run = record_problem_run(steps=3)
    index = index_run(run)
    assert sum(index.problems_per_tape.values()) == len(index.problems) == 5
    assert all(count == 1 for count in index.problems_per_tape.values())
    assert index.calls_per_tape == {tape_id: 1 for tape_id in run.tapes}
    assert index.watched_per_tape == {tape_id: len(run.watched(tape_id)) for tape_id in run.tapes}


def test_a_healthy_run_has_no_problems():
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = x * x
        tape.gradient(y, x)
    assert run_problems(rec.snapshot()) == ([], [])


def test_nan_and_zero_problems_show_their_diagnosis():
    """The inspector names the op, its line and the fix for NaN/Inf and blocked gradients, as
    `tapeviz explain` does, not generic advice."""
    from tapeviz.gui.panels import problem_html

    run = record_problem_run(steps=1)
    problems, _ = run_problems(run)
    nan = next(p for p in problems if p.kind == "NaN/Inf")
    blocked = next(p for p in problems if p.kind == "blocked")
    assert nan.text.endswith("NONFINITE_SQRT_AT_ZERO") and blocked.text.endswith("ZERO_RELU_INACTIVE")
    page = problem_html(run, nan)
    assert "[NONFINITE_SQRT_AT_ZERO]" in page and "Fix:" in page and "sqrt at 0" in page
    assert "ReLU" in problem_html(run, blocked) and "leaky_relu" in problem_html(run, blocked)
