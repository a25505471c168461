"""Recording in batches: ops, events and gradient calls are kept as raw tuples and turned into columns
in bulk. Whatever the batch boundaries, the run must be the same one, and a live view must see every
op recorded so far."""
import itertools
import pathlib
import os
import threading

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.core import tensor as tensor_module
from tapeviz.inspection import recorder as recorder_module
from tapeviz.inspection import store as columns

from recording_helpers import here, recorder_must_not_fail  # noqa: F401  (autouse fixture)


def _location(location):
    return None if location is None else (location.file, location.line, location.function)


def _value(value):
    if value is None:
        return None
    array = np.asarray(value)
    return (array.shape, str(array.dtype), array.tobytes())


def _explanation(explanation):
    if explanation is None:
        return None
    return (explanation.code, explanation.sentence, explanation.fix, explanation.kind,
            [(item.get("op"), item.get("tensor"), item.get("what"), _location(item.get("location")))
             for item in explanation.evidence])


def canonical(run):
    """Everything a snapshot holds, as plain comparable data."""
    return {
        "ops": [(o.id, o.seq, o.type, o.inputs, o.outputs, o.attrs, o.rule, o.rule_source, o.tapes,
                 o.recording_tapes, o.paused_tapes, _location(o.location), o.backward) for o in run.ops.values()],
        "tensors": [(t.id, t.kind, tuple(t.shape), t.dtype, t.name, t.trainable, t.producer,
                     sorted((k, repr(v)) for k, v in t.summary.items()), _location(t.first_seen), t.read_of,
                     _value(t.value)) for t in run.tensors.values()],
        "events": [(e.seq, e.kind, e.tape, e.tensor, _location(e.location), e.detail) for e in run.events],
        "tapes": [(t.id, t.persistent, t.watch_accessed_variables, _location(t.location), t.parent, t.ops, t.spans,
                   t.resets) for t in run.tapes.values()],
        "calls": [(c.id, c.seq, c.tape, c.kind, c.targets, c.sources, c.options, _location(c.location),
                   [(r.source, r.is_none, _value(r.value), sorted((k, repr(v)) for k, v in r.summary.items()),
                     {k: _explanation(v) for k, v in r.explanations.items()}, r.tensor, _explanation(r.diagnosis))
                    for r in c.results]) for c in run.calls],
        "names": dict(run.names),
    }


def program(early):
    """A training loop with the cases the recorder treats apart: variables made before recording, a
    variable left out of the loss, stop_recording, reset, persistent and nested tapes, a jacobian, a
    custom gradient, a multi-output op, an integer op, a NaN gradient and an all-zero one."""
    rng = np.random.default_rng(7)
    data = tf.constant(rng.standard_normal((8, 5)).astype(np.float32))
    w = tf.Variable(rng.standard_normal((5, 3)).astype(np.float32), name="w")
    b = tf.Variable(np.zeros(3, np.float32), name="b")
    unused = tf.Variable(1.0, name="unused")
    temperature = tf.Variable(2.0, name="temperature")
    for _ in range(6):
        with tf.GradientTape() as tape:
            logits = tf.nn.relu(data @ w + b) / temperature
            with tape.stop_recording():
                tf.reduce_sum(logits * 0.0)
            loss = tf.reduce_mean(logits ** 2)
        grads = tape.gradient(loss, [w, b, unused, early])
        w.assign_sub(0.1 * grads[0])
        b.assign_sub(0.1 * grads[1])
        float(loss)
    x = tf.constant([0.0, 1.0, 4.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        first = tf.reduce_sum(x * early)
        tape.reset()
        tape.watch(x)
        root = tf.reduce_sum(tf.sqrt(x))  # d/dx sqrt at 0: inf
        parts = tf.split(x * 2.0, 3)
        blocked = tf.reduce_sum(tf.nn.relu(-x - 1.0))  # all units inactive: a zero gradient
        counts = tf.cast(tf.constant([1, 2, 3]) + 1, tf.float32) * x
    tape.gradient(first, x)
    tape.gradient(root, x)
    tape.gradient(tf.add_n(parts), [x, early])
    tape.gradient(blocked, x)
    tape.gradient(counts, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            cube = tf.reduce_sum(x ** 3)
        slope = inner.gradient(cube, x)
    outer.jacobian(slope, x)

    @tf.custom_gradient
    def halved(value):
        return value * 1.0, lambda upstream: upstream * 0.5

    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(halved(x))
    tape.gradient(total, x)
    early.assign([5.0, 6.0, 7.0])


def record_with_batch(monkeypatch, batch):
    monkeypatch.setattr(recorder_module, "RECORD_BATCH", batch)
    # Tensor ids from the same number in every run, so that two runs of the program can be compared.
    monkeypatch.setattr(tensor_module, "_next_id", itertools.count(10 ** 9).__next__)
    early = tf.Variable([1.0, 2.0, 3.0], name="early")  # made before recording: first met as an op's input
    tf.random.set_seed(0)
    with tf.record() as recorder:
        with np.errstate(all="ignore"):
            program(early)
    return canonical(recorder.snapshot())


def test_the_run_is_the_same_whatever_the_batch_boundaries(monkeypatch):
    record_with_batch(monkeypatch, 3)  # first use: plugins and caches make tensors of their own
    one_at_a_time = record_with_batch(monkeypatch, 1)
    assert one_at_a_time == record_with_batch(monkeypatch, 7)
    assert one_at_a_time == record_with_batch(monkeypatch, recorder_module.RECORD_BATCH)
    # The run is the one the program made, not an empty or truncated one.
    kinds = {kind for _, kind, *_ in one_at_a_time["tensors"]}
    assert kinds == {"intermediate", "constant", "variable"}
    codes = {e[0] for call in one_at_a_time["calls"] for r in call[8] for e in list(r[4].values()) + [r[6]] if e}
    assert {"SOURCE_UNUSED"} <= codes and len(codes) >= 3, codes


class _NoReadShortcut(recorder_module._BackwardSeen):
    """A variable read's ReadVariableOp always finds its line by walking the frames itself."""
    reader = property(lambda self: None, lambda self, frame: None)


def test_a_read_op_takes_its_line_from_the_watched_access_and_the_run_is_the_same(monkeypatch):
    record_with_batch(monkeypatch, 3)  # first use: plugins and caches
    shortcut = record_with_batch(monkeypatch, 5)
    monkeypatch.setattr(recorder_module, "_backward_seen", _NoReadShortcut())
    assert record_with_batch(monkeypatch, 5) == shortcut
    reads = [op for op in shortcut["ops"] if op[2] == "ReadVariableOp"]
    assert len(reads) >= 12  # w and b, six steps


@pytest.mark.parametrize("shortcut", [True, False])
def test_every_read_op_is_on_the_line_that_read_the_variable(monkeypatch, shortcut):
    if not shortcut:
        monkeypatch.setattr(recorder_module, "_backward_seen", _NoReadShortcut())
    w = tf.Variable([1.0, 2.0], name="w")

    @tf.custom_gradient
    def scaled(value):
        inside = w * 1.0; inside_line = here()  # noqa: E702  (a read inside a custom gradient's function)
        lines.append(inside_line)
        return value * inside, lambda upstream, variables=None: (upstream * inside, [upstream * value])

    lines = []
    with tf.record() as recorder:
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = w * 2.0; lines.append(here())  # noqa: E702  (one read, two tapes watching)
            inner.gradient(y, w)
            z = tf.reduce_sum(scaled(tf.constant([3.0, 4.0]))); lines.append(here())  # noqa: E702
        outer.gradient(z, w)
        with tf.GradientTape(watch_accessed_variables=False) as unwatched:
            v = w + 1.0; lines.append(here())  # noqa: E702  (read, not watched: no access event)
    run = recorder.snapshot()
    read_lines = [op.location.line for op in run.ops.values() if op.type == "ReadVariableOp"]
    # y's line; the custom gradient's inside line and its call's line (it reads its variables again); v's line
    assert read_lines == lines
    accessed = [e for e in run.events if e.kind == "accessed variable"]
    assert [e.location.line for e in accessed][:2] == [lines[0], lines[0]]  # both tapes, the read's line
    reads_by_seq = {op.seq: op for op in run.ops.values() if op.type == "ReadVariableOp"}
    for event in accessed:  # each access is followed by its read op, on the same line
        following = [op for seq, op in reads_by_seq.items() if seq > event.seq]
        assert following and min(following, key=lambda op: op.seq).location.line == event.location.line


def test_a_new_tensor_gets_its_row_just_before_the_outputs_of_the_op_that_first_reads_it():
    x = tf.Variable(3.0, name="x")
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            scale = tf.constant(2.0)
            line = here() + 1
            y = x * scale
        tape.gradient(y, x)
        run = recorder.snapshot()
    ids = list(run.tensors)
    read = next(op for op in run.ops.values() if op.type == "ReadVariableOp")
    multiply = next(op for op in run.ops.values() if op.type == "Mul")
    # The variable (a leaf met as the read's input) comes before the read; the constant before the product.
    assert ids.index(x._id) < ids.index(read.outputs[0]) < ids.index(scale._id) < ids.index(multiply.outputs[0])
    assert run.tensors[scale._id].kind == "constant" and run.tensors[scale._id].first_seen.line == line
    assert run.tensors[x._id].kind == "variable" and run.tensors[x._id].name == "x:0"
    assert run.tensors[read.outputs[0]].read_of is None or run.tensors[read.outputs[0]].read_of == x._id
    assert run.tapes[1].ops == [read.id, multiply.id]


def test_a_live_view_sees_the_ops_not_yet_turned_into_columns(monkeypatch):
    monkeypatch.setattr(recorder_module, "RECORD_BATCH", 10_000)
    with tf.record() as recorder:
        x = tf.constant(2.0)
        y = x * 3.0
        assert len(recorder.store.seq) == 0  # still a raw record
        assert [op.type for op in recorder.run.ops.values()] == ["Mul"]
        assert recorder.run.tensors[y._id].summary["min"] == 6.0


def test_ops_of_two_threads_are_numbered_in_the_order_they_ran():
    def work(scale):
        x = tf.constant(np.float32(scale))
        for _ in range(200):
            x = x * 1.0 + 0.0

    with tf.record() as recorder:
        threads = [threading.Thread(target=work, args=(s,)) for s in (1.0, 2.0)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        run = recorder.snapshot()
    seqs = [op.seq for op in run.ops.values()]
    assert len(seqs) == 800 and seqs == sorted(seqs)
    for op in run.ops.values():  # every input is an earlier op's output or a constant row
        for tensor_id in op.inputs:
            producer = run.tensors[tensor_id].producer
            assert producer is None or producer < op.id


@pytest.mark.parametrize("value", [
    np.arange(12, dtype=np.float32).reshape(3, 4).T,           # not C-contiguous
    np.arange(6, dtype=">f8"),                                # not the machine's byte order
    np.array([[True, False], [False, False]]),
    np.arange(10, dtype=np.int16)[::3],
    np.float32(-2.5),
])
def test_bulk_summaries_of_unusual_layouts_match_numpy(value):
    store = columns.Store()
    store.add_leaf(1, np.asarray(value), columns.CONSTANT, -1)
    store.add_leaf(2, np.ones(5, dtype=np.asarray(value).dtype), columns.CONSTANT, -1)  # flushed together
    low, high, mean, bad = store.tensor_stats(1)
    array = np.asarray(value)
    assert (low, high, bad) == (array.min(), array.max(), 0)
    assert mean == pytest.approx(float(array.astype(np.float64).mean()))


def _python_path_only(monkeypatch):
    monkeypatch.setattr(recorder_module, "_recordfast", None)
    monkeypatch.setattr(columns, "_recordfast", None)
    monkeypatch.setattr(recorder_module, "_walk", recorder_module._walk_python)


def _sums_apart(canon):
    """The run with each summary's mean and norm taken out, and those numbers in order: the C path sums
    in double where numpy sums float32 in float32, so they agree to float32's precision, not bit for bit."""
    sums = []

    def strip(summary):
        kept = []
        for key, text in summary:
            if key in ("mean", "norm"):
                sums.append(float(text))
            else:
                kept.append((key, text))
        return kept

    tensors = [t[:7] + (strip(t[7]),) + t[8:] for t in canon["tensors"]]
    calls = [c[:8] + ([r[:3] + (strip(r[3]),) + r[4:] for r in c[8]],) for c in canon["calls"]]
    return {**canon, "tensors": tensors, "calls": calls}, sums


@pytest.mark.skipif(recorder_module._recordfast is None, reason="needs the C path (setup.py builds it)")
def test_the_c_path_records_the_run_the_python_path_records(monkeypatch):
    record_with_batch(monkeypatch, 3)  # first use: plugins and caches
    with_c, c_sums = _sums_apart(record_with_batch(monkeypatch, 7))
    _python_path_only(monkeypatch)
    with_python, python_sums = _sums_apart(record_with_batch(monkeypatch, 7))
    assert with_c == with_python
    assert len(c_sums) > 100
    assert c_sums == pytest.approx(python_sums, rel=1e-5, nan_ok=True)


def test_the_c_path_is_built_and_records_the_usual_op(monkeypatch):
    """The extension must build wherever the tests run (CPython 3.11+ with a compiler), and take the
    ops of a training step: a silent fallback to the Python path would only show as a slower recording."""
    import platform
    import sys
    if platform.python_implementation() != "CPython" or sys.version_info < (3, 11):
        pytest.skip("the C path is for CPython 3.11 and newer")
    if os.environ.get("TAPEVIZ_PURE_PYTHON"):
        pytest.skip("TAPEVIZ_PURE_PYTHON asks for the Python path")
    assert recorder_module._recordfast is not None, "the C path (tapeviz/inspection/recordfast_c) was not built: pip install -e ."
    python_ops = []
    python_op_executed = recorder_module.Recorder.op_executed

    def counted(self, *args):
        python_ops.append(args[0])
        return python_op_executed(self, *args)

    monkeypatch.setattr(recorder_module.Recorder, "op_executed", counted)
    python_events = []
    for method in ("watched", "variable_assigned"):
        def counted_event(self, *args, _method=getattr(recorder_module.Recorder, method), _name=method):
            python_events.append(_name)
            return _method(self, *args)
        monkeypatch.setattr(recorder_module.Recorder, method, counted_event)
    w = tf.Variable(np.ones((4, 3), np.float32))
    data = tf.constant(np.ones((2, 4), np.float32))
    with tf.record() as recorder:
        for _ in range(5):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.nn.relu(data @ w))
            w.assign_sub(0.1 * tape.gradient(loss, w))
    recorded = [op.type for op in recorder.snapshot().ops.values()]
    assert recorded.count("MatMul") == 5 and len(recorded) >= 25
    assert len(python_ops) < len(recorded) / 2, python_ops
    # Each step watches w and assigns it: only the first step's (a new line, a new variable) are Python's.
    events = [e.kind for e in recorder.snapshot().events]
    assert events.count("accessed variable") == 5 and events.count("assign_sub") == 5
    assert python_events.count("watched") <= 1 and python_events.count("variable_assigned") <= 1, python_events


@pytest.mark.skipif(columns._recordfast is None, reason="needs the C path (setup.py builds it)")
def test_the_c_summaries_match_numpys_on_awkward_values():
    rng = np.random.default_rng(3)
    values = [rng.standard_normal((16, 64)).astype(np.float32), np.float32(2.5), np.array(-1.0),
              np.array([1.0, np.nan, 3.0], np.float32), np.array([np.inf, -np.inf, 1.0]),
              np.array([np.inf, 2.0], np.float32), np.zeros((0, 3), np.float32),
              np.array([1e200, -3e200, 5.0]),  # squares past float64's range: the norm is still finite
              np.arange(12, dtype=np.float32).reshape(3, 4).T,  # a view: left to numpy
              np.array([1e30, 2e30], np.float32)]  # squares past float32's range
    low, high, mean, norm, bad, skipped = (columns._recordfast.summarize(values))
    low, high, mean, norm = (np.frombuffer(b, np.float64) for b in (low, high, mean, norm))
    bad = np.frombuffer(bad, np.int64)
    assert skipped == [8]
    for k, value in enumerate(values):
        if k == 8:
            continue
        flat = np.asarray(value, np.float64).reshape(-1)
        if not flat.size:
            assert np.isnan([low[k], high[k], mean[k], norm[k]]).all() and bad[k] == -2
            continue
        with np.errstate(all="ignore"):
            assert low[k] == pytest.approx(np.min(flat), nan_ok=True)
            assert high[k] == pytest.approx(np.max(flat), nan_ok=True)
            assert mean[k] == pytest.approx(np.mean(flat), rel=1e-6, nan_ok=True)
            scale = np.max(np.abs(flat)) if np.isfinite(flat).all() else 1.0  # no overflow in the reference
            expected_norm = scale * np.sqrt(np.sum((flat / scale) ** 2))
            assert norm[k] == pytest.approx(expected_norm, rel=1e-6, nan_ok=True)
        assert bad[k] == np.count_nonzero(~np.isfinite(flat))


def test_a_build_from_other_sources_is_refused_with_a_warning(tmp_path):
    """An editable install whose extension was built before its C sources changed must record with the
    Python path and say how to rebuild, not call the old extension with new arguments."""
    import subprocess
    import sys
    if columns._recordfast is None:
        pytest.skip("needs the C path (setup.py builds it)")
    script = tmp_path / "stale.py"
    script.write_text(
        "import sys, types, warnings\n"
        "stale = types.ModuleType('tapeviz.inspection._recordfast')  # as a build from older sources says\n"
        "stale.INTERFACE, stale.FIXED, stale.SITE_SHIFT = -1, 11, 48\n"
        "sys.modules[stale.__name__] = stale\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from tapeviz.inspection import store, recorder\n"
        "print(store._recordfast is None, recorder._recordfast is None)\n"
        "print([str(w.message) for w in caught])\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    assert first == "True True"
    assert "Rebuild it: pip install -e ." in second


REALISTIC = sorted((pathlib.Path(__file__).parent / "realistic").glob("p*.py"))


def _story(run):
    """What a run says, in terms both paths must agree on exactly: the ops (type, line, scope), the
    events, and every explanation and diagnosis (code and the lines of its evidence)."""
    def lines(explanation):
        return (explanation.code, [item["location"].line for item in explanation.evidence
                                   if item.get("location") is not None])
    return {
        "ops": [(o.type, _location(o.location), o.scope) for o in run.ops.values()],
        "events": [(e.kind, _location(e.location)) for e in run.events],
        "results": [(c.location.line if c.location else None, r.is_none,
                     sorted(lines(e) for e in r.explanations.values()),
                     lines(r.diagnosis) if r.diagnosis else None) for c in run.calls for r in c.results],
    }


@pytest.mark.skipif(recorder_module._recordfast is None, reason="needs the C path (setup.py builds it)")
@pytest.mark.parametrize("program", REALISTIC, ids=[p.stem for p in REALISTIC])
def test_the_c_path_tells_each_realistic_program_as_the_python_path_does(program, monkeypatch, capsys):
    import runpy

    def story():
        tf.keras.backend.clear_session()  # the same layer names in both runs
        tf.random.set_seed(0)
        np.random.seed(0)
        with tf.record() as recorder:
            try:
                runpy.run_path(str(program), run_name="__main__")
            except Exception:  # noqa: BLE001 - a program that ends in the user's error (p10, p24) still has a run
                pass
        return _story(recorder.snapshot())

    with_c = story()
    _python_path_only(monkeypatch)
    with_python = story()
    capsys.readouterr()
    assert with_c["ops"] and with_c == with_python
