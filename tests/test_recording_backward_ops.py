"""Which ops of a backward pass a recording keeps: none when every gradient is fine, each once otherwise.

GradientTape.gradient does not show its backward ops to the recorder one by one when no tape records
them; the recorder runs the pass again when a gradient is NaN/Inf or all zero. These tests check what
the run then holds, against the ops the same pass shows while a tape records (each as it runs).
"""

import numpy as np

import tapeviz as tf

from recording_helpers import here


def backward_ops(run):
    return [op for op in run.ops.values() if op.backward]


def test_fine_gradients_keep_no_backward_op():
    w = tf.Variable(np.ones(3, np.float32))
    with tf.record() as rec:
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sqrt(w) * w)
            grad = tape.gradient(loss, w)
    assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0)
    run = rec.snapshot()
    assert backward_ops(run) == [] and len(run.calls) == 3
    assert [op.type for op in run.ops.values()].count("Sqrt") == 3


def test_a_nan_gradient_keeps_its_backward_pass_once_at_the_gradient_line():
    w = tf.Variable(np.zeros(3, np.float32))
    with tf.record() as rec:
        with tf.GradientTape(persistent=True) as tape:
            loss = tf.reduce_sum(tf.sqrt(w) * 2.0)
        grad = tape.gradient(loss, w); line = here()  # noqa: E702
        # The same pass again while a tape records (it watches nothing): every op is shown as it runs.
        with tf.GradientTape(persistent=True) as again:
            loss2 = tf.reduce_sum(tf.sqrt(w) * 2.0)
        with tf.GradientTape(watch_accessed_variables=False):
            again.gradient(loss2, w)
    assert np.isnan(grad.numpy()).all() or np.isinf(grad.numpy()).all()
    run = rec.snapshot()
    call = run.calls[0]
    first = [op for op in backward_ops(run) if op.seq < call.seq]
    assert first and all(op.location.line == line for op in first)
    second = [op for op in backward_ops(run) if op.seq > call.seq]
    assert sorted(op.type for op in first) == sorted(op.type for op in second)
    assert "SqrtGrad" in [op.type for op in first]
    result = call.results[0]
    assert result.diagnosis is not None and "SqrtGrad" in result.diagnosis.sentence


def test_gradient_inside_a_recording_tape_shows_its_ops_once():
    x = tf.Variable(4.0)
    with tf.record() as rec:
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = tf.sqrt(x)
            dy = inner.gradient(y, x)  # recorded by `outer`: every op is seen as it runs, none again
        outer.gradient(dy, x)
    run = rec.snapshot()
    first_call = run.calls[0]
    ops = [op for op in backward_ops(run) if op.seq < first_call.seq]
    assert ops and all(op.tapes for op in ops)
    assert len({(op.type, tuple(op.inputs)) for op in ops}) == len(ops)  # no op twice
