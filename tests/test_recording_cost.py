"""What recording keeps and how far an explanation looks: bounded, whatever the length of the run.

(Speed itself is measured in benchmarks/bench_recording.py, never in a test.)
"""
import gc
import weakref

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection import store as columns
from tapeviz.inspection.recorder import VALUE_BUDGET_BYTES


def train(steps, params, data, labels, unused=None):
    w1, w2 = params
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(tf.nn.relu(data @ w1) @ w2 - labels))
        sources = [w1, w2] + ([unused] if unused is not None else [])
        grads = tape.gradient(loss, sources)
        w1.assign_sub(0.01 * grads[0])
        w2.assign_sub(0.01 * grads[1])


def model(rng, hidden=64):
    params = [tf.Variable(rng.standard_normal((32, hidden)).astype(np.float32) * 0.1),
              tf.Variable(rng.standard_normal((hidden, 10)).astype(np.float32) * 0.1)]
    return params, tf.constant(rng.standard_normal((16, 32)).astype(np.float32)), tf.constant(np.zeros((16, 10), np.float32))


def test_no_intermediate_array_outlives_its_summary():
    rng = np.random.default_rng(0)
    params, data, labels = model(rng, hidden=512)  # 16x512 activations: above the small-value size
    seen = []
    original = columns.TensorTable.add_pending

    def watching(self, values, *args):
        seen.extend(weakref.ref(value) for value in values if value.size > 1000)
        return original(self, values, *args)

    columns.TensorTable.add_pending = watching
    try:
        with tf.record() as rec:
            train(20, params, data, labels)
            rec.store.tensors.flush()
    finally:
        columns.TensorTable.add_pending = original
    gc.collect()
    assert len(seen) > 40
    alive = [ref for ref in seen if ref() is not None]
    # Only the variables' current values (and the data) may live on: no activation, no gradient.
    assert all(any(ref() is v._value_for_read() for v in params) for ref in alive), len(alive)
    run = rec.snapshot()
    big = [t for t in run.tensors.values() if t.kind == "intermediate" and t.summary["size"] > 1000]
    assert big and all(t.value is None and "min" in t.summary for t in big)
    assert rec._value_bytes <= VALUE_BUDGET_BYTES


def test_an_explanation_looks_at_the_ops_near_its_call_only():
    rng = np.random.default_rng(0)
    params, data, labels = model(rng)
    unused = tf.Variable(np.ones(3, np.float32), name="unused")
    made = []
    original = columns.Store.op

    def counting(self, op_id):
        made.append(op_id)
        return original(self, op_id)

    with tf.record() as rec:
        train(5, params, data, labels, unused)
        columns.Store.op = counting
        try:
            rec.explain_pending()
            early = len(made) / 5
            train(200, params, data, labels)
            train(5, params, data, labels, unused)
            made.clear()
            rec.explain_pending()
            late = len(made) / 5
        finally:
            columns.Store.op = original
    codes = {e.code for _, _, _, e in rec.snapshot().nones()}
    assert codes == {"SOURCE_UNUSED"}
    assert late <= early * 1.5 + 20, (early, late)  # not proportional to the 200 steps in between


def test_bulk_summaries_match_one_array_at_a_time():
    from tapeviz.inspection.model import summarize

    rng = np.random.default_rng(3)
    values = [rng.standard_normal((4, 5)).astype(np.float32), np.float32(2.5), np.array([], np.float32),
              np.array([1.0, np.nan, 3.0], np.float32), np.array([np.inf, -1.0]), np.arange(7, dtype=np.int32),
              np.array([True, False, True]), np.array([-np.inf, np.inf], np.float32), np.zeros((2, 0)),
              rng.standard_normal(3000), np.array([3e19, -4e19], np.float32)]   # squares overflow float32
    store = columns.Store()
    for index, value in enumerate(values):
        store.add_leaf(index + 1, np.asarray(value), columns.CONSTANT, -1)
    for index, value in enumerate(values):
        with np.errstate(all="ignore"):  # -inf + inf in the reference mean
            expected = summarize(value)
        found = store.tensor_summary(index + 1)
        assert found.keys() == expected.keys(), (value, found, expected)
        if value.size and value.dtype.kind in "fiub" and np.isfinite(value).all():   # the L2 norm, against numpy's own in float64
            assert found["norm"] == pytest.approx(np.linalg.norm(np.asarray(value, np.float64)), rel=1e-5)
        for key, wanted in expected.items():
            if isinstance(wanted, float) and np.isnan(wanted):
                assert np.isnan(found[key]), (value, key)
            elif key in ("mean", "norm"):
                assert found[key] == pytest.approx(wanted, rel=1e-5), (value, key)
            else:
                assert found[key] == wanted, (value, key, found[key], wanted)
