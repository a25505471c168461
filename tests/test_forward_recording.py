"""Forward mode under recording: accumulators, the tangents their ops pushed, and jvp calls, in the
recorded run, in tape files and in ``tapeviz show``.

The values and the None cases are TensorFlow 2.21's, observed with tf.autodiff.ForwardAccumulator:
``jvp`` of a target made from no primal, of an integer target, or of a target made before the
accumulator's block or after it ended is None (zeros under UnconnectedGradients.ZERO, in the
target's dtype); forward over backward gives H v; an accumulator of an inner accumulator's jvp
gives the second directional derivative.
"""
import json
import os
import sys

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.core import context
from tapeviz.inspection import tapefile
from tapeviz.inspection.model import jvp_reason
from tapeviz.inspection.report import json_summary, text_summary
from tapeviz.inspection.tapefile import load, save
from tapeviz.inspection.validate import InvalidRun, check_run

sys.path.insert(0, os.path.dirname(__file__))
from recording_helpers import here, recorder_must_not_fail  # noqa: E402,F401


def _hvp_run():
    """Forward over backward on sum(x**3), plus the three None cases TF gives."""
    x, v, c = tf.constant([1.0, 2.0]), tf.constant([1.0, 0.0]), tf.constant([3.0, 4.0])
    with tf.record() as rec:
        before = x * 5.0
        with tf.autodiff.ForwardAccumulator(x, v) as acc:
            created_line = here() - 1
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(x ** 3)
            g = tape.gradient(y, x)
            unconnected = c * 2.0
            as_int = tf.cast(x, tf.int32)
        after = x * 3.0
        hvp = acc.jvp(g)
        jvp_line = here() - 1
        nones = acc.jvp([unconnected, as_int, after, before])
        zeros = acc.jvp(unconnected, unconnected_gradients="zero")
    return rec.snapshot(), dict(x=x, v=v, y=y, g=g, hvp=hvp, nones=nones, zeros=zeros, unconnected=unconnected,
                                as_int=as_int, after=after, before=before, created_line=created_line,
                                jvp_line=jvp_line)


@pytest.fixture(scope="module")
def hvp():
    return _hvp_run()


def test_an_accumulator_is_recorded_with_its_primals_tangents_and_ops(hvp):
    run, seen = hvp
    (accumulator,) = run.accumulators.values()
    assert accumulator.primals == [seen["x"]._id]
    assert accumulator.location.line == seen["created_line"] and accumulator.location.file == __file__
    assert len(accumulator.spans) == 1 and accumulator.spans[0][1] is not None
    primal_tangent = accumulator.tangents[seen["x"]._id]
    np.testing.assert_array_equal(primal_tangent.value, [1.0, 0.0])
    assert primal_tangent.summary["min"] == 0.0 and primal_tangent.summary["max"] == 1.0
    # The ops it pushed tangents through: the forward pass (Pow, Sum) and the gradient's ops on x.
    types = [run.ops[i].type for i in accumulator.ops]
    assert types[:2] == ["Pow", "Sum"] and "Mul" in types
    # d/dv of y = sum(x**3) at x = [1, 2], v = [1, 0]: 3 x0^2 = 3 (TF: 3.0).
    assert accumulator.tangents[seen["y"]._id].summary["min"] == pytest.approx(3.0)
    # Accumulators are not tapes: the run has the one GradientTape, and no op names another tape.
    assert list(run.tapes) == [1]
    assert all(set(op.tapes) <= {1} and set(op.recording_tapes) <= {1} for op in run.ops.values())


def test_jvp_calls_are_recorded_with_summaries_and_reasons(hvp):
    run, seen = hvp
    first, nones, zeros = run.jvps
    assert first.location.line == seen["jvp_line"] and first.accumulator == 1
    (result,) = first.results
    assert not result.is_none and result.tangent == seen["hvp"]._id
    np.testing.assert_array_equal(result.value, [6.0, 0.0])   # H v (TF: [6. 0.])
    assert result.summary["max"] == 6.0 and result.reason == ""
    assert run.names[seen["g"]._id] == "g"   # named from the jvp call's line
    assert [r.is_none for r in nones.results] == [True] * 4
    assert [r.reason for r in nones.results] == ["NOT_CONNECTED", "NOT_FLOATING", "OUTSIDE_ACCUMULATOR",
                                                 "OUTSIDE_ACCUMULATOR"]
    (zero,) = zeros.results
    assert not zero.is_none and zero.reason == "NOT_CONNECTED" and zeros.options == {"unconnected_gradients": "ZERO"}
    assert zero.summary["min"] == zero.summary["max"] == 0.0
    sentence, fix = jvp_reason(run, nones, nones.results[1])
    assert "int32" in sentence and "floating" in fix


def test_the_run_survives_a_tape_file_round_trip(hvp, tmp_path):
    run, _ = hvp
    loaded = load(save(run, tmp_path / "forward.tapeviz"))   # load checks the whole run (check_run)
    (before,), (after,) = run.accumulators.values(), loaded.accumulators.values()
    assert (after.id, after.primals, after.ops, after.spans, str(after.location)) == \
           (before.id, before.primals, before.ops, before.spans, str(before.location))
    assert after.tangents.keys() == before.tangents.keys()
    for tensor_id, tangent in before.tangents.items():
        other = after.tangents[tensor_id]
        assert (other.tangent, other.summary) == (tangent.tangent, tangent.summary)
        if tangent.value is not None:
            np.testing.assert_array_equal(other.value, tangent.value)
    assert [(c.id, c.seq, c.accumulator, c.targets, c.options, str(c.location)) for c in loaded.jvps] == \
           [(c.id, c.seq, c.accumulator, c.targets, c.options, str(c.location)) for c in run.jvps]
    assert [[(r.target, r.is_none, r.summary, r.tangent, r.reason) for r in c.results] for c in loaded.jvps] == \
           [[(r.target, r.is_none, r.summary, r.tangent, r.reason) for r in c.results] for c in run.jvps]
    np.testing.assert_array_equal(loaded.jvps[0].results[0].value, [6.0, 0.0])


def test_a_file_without_the_forward_tables_loads_with_none(tmp_path):
    """Version 3 files written before forward mode was recorded have no accumulators or jvps tables."""
    with tf.record() as rec:
        x = tf.Variable(2.0)
        with tf.GradientTape() as tape:
            y = x * x
        tape.gradient(y, x)
    path = save(rec.snapshot(), tmp_path / "plain.tapeviz")
    older = tmp_path / "older.tapeviz"
    with tapefile.zipfile.ZipFile(path) as source, tapefile.zipfile.ZipFile(older, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith(("accumulators/", "jvps/")):
                continue
            if item.filename == "index.json":
                index = json.loads(data)
                for name in ("accumulators", "jvps"):
                    index["chunks"].pop(name)
                data = json.dumps(index).encode()
            target.writestr(item, data)
    loaded = load(older)
    assert loaded.accumulators == {} and loaded.jvps == [] and len(loaded.tapes) == 1


@pytest.mark.parametrize("damage, message", [
    (lambda run: run.jvps[0].__setattr__("accumulator", 7), "accumulator 7 is not an accumulator"),
    (lambda run: run.jvps[1].results[0].__setattr__("reason", "BECAUSE"), "reason 'BECAUSE'"),
    (lambda run: run.accumulators[1].__setattr__("primals", [10 ** 9]), "primals mentions 1000000000"),
    (lambda run: run.accumulators[1].__setattr__("ops", ["1"]), "ops mentions '1'"),
    (lambda run: next(iter(run.accumulators[1].tangents.values())).__setattr__("summary", {"min": 1}),
     "tangent summary"),
])
def test_a_damaged_forward_record_is_refused(damage, message, hvp, tmp_path):
    run = load(save(hvp[0], tmp_path / "forward.tapeviz"))
    check_run(run)
    damage(run)
    with pytest.raises(InvalidRun, match=message):
        check_run(run)


def test_a_damaged_forward_table_in_a_file_names_the_row(hvp, tmp_path):
    run, _ = hvp
    path = save(run, tmp_path / "forward.tapeviz")
    damaged = tmp_path / "damaged.tapeviz"
    with tapefile.zipfile.ZipFile(path) as source, tapefile.zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "jvps/0.json":
                rows = json.loads(data)
                rows[1][5][0] = ["not", "a", "result"]
                data = json.dumps(rows).encode()
            target.writestr(item, data)
    with pytest.raises(tapefile.TapeFileError, match="jvp row 1.*is not \\[target"):
        load(damaged)


def test_nested_accumulators_and_a_variable_primal_as_tensorflow(tmp_path):
    x = tf.constant([1.0, 2.0])
    w = tf.Variable([1.0, 2.0], name="w")
    with tf.record() as rec:
        with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 1.0])) as outer:
            with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 0.0])) as inner:
                y = tf.reduce_sum(x ** 3)
            first = inner.jvp(y)
        second = outer.jvp(first)
        with tf.autodiff.ForwardAccumulator(w, tf.constant([0.5, 0.5])) as by_variable:
            z = tf.reduce_sum(w * w)
        by_variable.jvp(z)
    run = rec.snapshot()
    assert float(first) == 3.0 and float(second) == 6.0   # TF 2.21: 3.0, then 6.0
    assert sorted(run.accumulators) == [1, 2, 3]
    assert [(c.accumulator, c.results[0].summary["min"]) for c in run.jvps] == [(2, 3.0), (1, 6.0), (3, 3.0)]
    assert run.accumulators[3].primals == [w._id] and run.tensors[w._id].name == "w:0"
    # The outer accumulator pushed tangents through the inner one's tangent ops too.
    assert set(run.accumulators[1].ops) > set(run.accumulators[2].ops)
    assert load(save(run, tmp_path / "nested.tapeviz")).accumulators.keys() == {1, 2, 3}


def test_recording_forward_mode_keeps_no_array_beyond_the_budget():
    """A long forward-mode run: tangent summaries for every op, values only within the small-value budget."""
    from tapeviz.inspection import recorder as recorder_module

    x = tf.constant(np.linspace(-1, 1, 50, dtype=np.float32))
    with tf.record() as rec:
        rec._value_bytes = recorder_module.VALUE_BUDGET_BYTES   # the budget is spent
        with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
            y = x
            for _ in range(200):
                y = tf.sin(y) * 0.9
        np.testing.assert_allclose(acc.jvp(y).numpy(), acc.jvp(y).numpy())
    run = rec.snapshot()
    (accumulator,) = run.accumulators.values()
    assert len(accumulator.tangents) == 401 and len(accumulator.ops) == 400
    assert all(t.value is None and "min" in t.summary for t in list(accumulator.tangents.values())[1:])


def test_no_recorder_no_notification(monkeypatch):
    """Without a recorder the core tells no one (the per-op path tests one empty list)."""
    called = []
    monkeypatch.setattr(context, "notify", lambda *args: called.append(args))
    x = tf.constant(1.0)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as acc:
        y = tf.sin(x)
    assert acc.jvp(y) is not None and called == [] and context.observers == []


def test_show_lists_accumulators_and_jvp_calls(hvp):
    run, seen = hvp
    lines = text_summary(run)
    assert lines[0].endswith("1 forward accumulators, 3 jvp calls")
    text = "\n".join(lines)
    assert f"accumulator 1 (created at " in text and "1 primals, 4 ops pushed tangents" in text
    assert "jvp call 1 on accumulator 1" in text and "= float32[2] min 0 max 6" in text
    assert "[NOT_FLOATING]" in text and "[OUTSIDE_ACCUMULATOR]" in text
    document = json_summary(run)
    json.dumps(document)
    (accumulator,) = document["accumulators"]
    assert accumulator["primal_ids"] == [seen["x"]._id] and accumulator["ops"] == len(run.accumulators[1].ops)
    assert [r["reason"] for r in document["jvps"][1]["results"]] == ["NOT_CONNECTED", "NOT_FLOATING",
                                                                     "OUTSIDE_ACCUMULATOR", "OUTSIDE_ACCUMULATOR"]
    assert document["jvps"][0]["results"][0]["value"].startswith("float32[2] min 0 max 6")


def test_tapeviz_run_and_show_list_the_forward_mode_of_the_example(tmp_path):
    """The CLI end to end on the bundled example: `run -o`, then `show` and `show --json`."""
    import subprocess

    example = os.path.join(os.path.dirname(tf.__file__), "examples", "forward_mode.py")
    out = tmp_path / "forward.tapeviz"

    def tapeviz(*args):
        done = subprocess.run([sys.executable, "-m", "tapeviz", *args], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert done.returncode == 0, done.stderr
        return done.stdout

    printed = tapeviz("run", example, "-o", str(out))
    assert "H v: tapeviz.Tensor([2.5941598 0.        0.       ]" in printed   # TF 2.21 prints the same numbers
    assert "2 forward accumulators, 3 jvp calls" in printed
    shown = tapeviz("show", str(out))
    assert "accumulator 1 (created at " in shown and "primals: Variable 'w1:0'" in shown
    assert "jvp call 2 on accumulator 1" in shown and "why: [NOT_FLOATING]" in shown
    document = json.loads(tapeviz("show", str(out), "--json"))
    assert [a["primals"] for a in document["accumulators"]] == [["Variable 'w1:0'"], ["`p` (a float32 constant of shape (3,))"]]
    assert [[r["is_none"] for r in c["results"]] for c in document["jvps"]] == [[False], [True], [False]]
    assert document["jvps"][1]["results"][0]["reason"] == "NOT_FLOATING"
    assert len(json.dumps(document["accumulators"] + document["jvps"])) < 3000   # small: counts and summaries
    nones = json.loads(tapeviz("explain", str(out), "--json"))
    assert [n["reason"] for n in nones["jvp_nones"]] == ["NOT_FLOATING"]


def test_tangent_ops_are_kept_only_where_something_records_them():
    """A forward-mode chain keeps its own ops, not the ops that computed the tangents (nothing shows them);
    a tape opened around the accumulator records the tangent ops, and then they are kept (backward over
    forward needs them)."""
    x = tf.constant([0.5, 1.0])
    tangent = tf.ones_like(x)  # made before recording: OnesLike is an op the recorder would show
    with tf.record() as rec:
        with tf.autodiff.ForwardAccumulator(x, tangent) as acc:
            y = tf.sin(tf.exp(x))
        acc.jvp(y)
    run = rec.snapshot()
    assert [op.type for op in run.ops.values()] == ["Exp", "Sin"]
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            tape.watch(x)
            with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
                y = tf.sin(tf.exp(x))
            jvp = acc.jvp(y)
        grad = tape.gradient(jvp, x)
    run = rec.snapshot()
    (tape_info,) = run.tapes.values()
    assert len(tape_info.ops) > 2 and jvp._id in {o for i in tape_info.ops for o in run.ops[i].outputs}
    # d/dx of cos(e^x) e^x = e^x (cos(e^x) - e^x sin(e^x)), elementwise (the tangent is all ones)
    e = np.exp([0.5, 1.0])
    np.testing.assert_allclose(grad.numpy(), e * (np.cos(e) - e * np.sin(e)), rtol=1e-5)
    assert run.calls[0].results[0].summary["min"] == pytest.approx(float(np.min(grad.numpy())))


def test_a_rule_that_raises_in_forward_mode_leaves_recording_as_it_was():
    @tf.custom_gradient
    def broken(v):
        def grad(upstream):
            raise ValueError("no gradient here")
        return v * 2.0, grad

    x = tf.constant([1.0, 2.0])
    with tf.record() as rec:
        before = rec.op_executed   # the recorder's own (the compiled one where it is built)
        with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)):
            with pytest.raises(ValueError, match="no gradient here"):
                broken(x)
        after = tf.exp(x)
        assert rec.op_executed == before   # the tangent filter is gone with the accumulator
    from tapeviz.inspection.forward_recorder import _tangent_depth
    assert _tangent_depth.value == 0
    assert "Exp" in [op.type for op in rec.snapshot().ops.values()] and after is not None


def test_an_op_is_recorded_before_the_ops_that_computed_its_tangents():
    """Backward over forward: the tape records the tangent ops; a replay of the recorded ops in order (as
    the inspector's backward pass does) gives the core's gradient only if each op comes before the tangent
    ops that read its outputs."""
    from tapeviz.gui.replay import replay_backward

    x = tf.constant([0.5, 1.0])
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            tape.watch(x)
            with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
                y = tf.sin(tf.exp(x))
            jvp = acc.jvp(y)
        grad = tape.gradient(jvp, x)
    run = rec.snapshot()
    made = {}
    for op_id in run.tapes[1].ops:
        op = run.ops[op_id]
        assert all(made.get(i, 0) < op_id for i in op.inputs)   # every input made by an earlier op
        made.update((o, op_id) for o in op.outputs)
    call = run.calls[0]
    replayed = replay_backward(run, call, call.targets[0])
    np.testing.assert_allclose(replayed.grads[x._id], grad.numpy(), rtol=1e-6)


def test_nested_accumulators_give_the_same_numbers_recorded_or_not():
    """Three accumulators on x**4 at x = 2: d3/dx3 = 24 x = 48 (TF 2.21 gives 48.0), with and without a recorder."""
    def third():
        x = tf.constant(2.0)
        with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as a0:
            with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as a1:
                with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as a2:
                    y = x ** 4
                d1 = a2.jvp(y)
            d2 = a1.jvp(d1)
        return float(a0.jvp(d2)), float(d2), float(d1)

    plain = third()
    with tf.record():
        recorded = third()
    assert plain == recorded == (48.0, 48.0, 32.0)


def test_tangents_due_when_an_observer_raised_are_pushed_before_the_next_op():
    """An observer that raises on an op leaves that op's tangents due; the next op or jvp pushes them."""
    class Failing:
        def __init__(self):
            self.failed = False

        def op_executed(self, op_type, *args):
            if op_type == "Exp" and not self.failed:
                self.failed = True
                raise RuntimeError("observer broke")

        def __getattr__(self, name):
            return lambda *args: None

    x = tf.constant(1.0)
    observer = Failing()
    context.observers.append(observer)
    try:
        with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as acc:
            with pytest.raises(RuntimeError, match="observer broke"):
                tf.exp(x)
            e = tf.exp(x)              # the first Exp's tangents are pushed first, then this one's
            y = tf.sin(e)
        assert float(acc.jvp(y)) == pytest.approx(np.cos(np.e) * np.e, rel=1e-6)
    finally:
        context.observers.remove(observer)
    from tapeviz.core.context import state
    assert state.tangents_due == []
