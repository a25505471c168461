"""Tape files: a run survives a round trip; every kind of damaged file gives a clear error."""
import io
import json
import zipfile

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection import tapefile
from tapeviz.inspection.tapefile import TapeFileError, load, save


@pytest.fixture
def run():
    with tf.record() as rec:
        x = tf.Variable([1.0, 2.0], name="x")
        c = tf.constant(3.0)
        with tf.GradientTape(persistent=True) as tape:
            y = tf.sin(x) * c
        tape.gradient(y, [x, c])
        big = tf.Variable(np.arange(5000, dtype=np.float32), name="big")
        with tf.GradientTape() as tape2:
            z = big * 2.0
        tape2.gradient(z, big)
    return rec.snapshot()


def test_round_trip_keeps_everything(run, tmp_path):
    path = save(run, tmp_path / "run.tapeviz")
    loaded = load(path)
    assert loaded.tapes.keys() == run.tapes.keys()
    assert [o.type for o in loaded.ops.values()] == [o.type for o in run.ops.values()]
    assert [(o.inputs, o.outputs, o.tapes, str(o.location)) for o in loaded.ops.values()] == \
           [(o.inputs, o.outputs, o.tapes, str(o.location)) for o in run.ops.values()]
    for tensor_id, info in run.tensors.items():
        other = loaded.tensors[tensor_id]
        assert (other.kind, other.shape, other.dtype, other.name) == (info.kind, info.shape, info.dtype, info.name)
        if info.value is None:
            assert other.value is None and other.summary == info.summary
        else:
            np.testing.assert_array_equal(other.value, info.value)
    assert [(e.kind, e.tensor) for e in loaded.events] == [(e.kind, e.tensor) for e in run.events]
    (call, result, target, explanation), = loaded.nones()
    original = next(run.nones())[3]
    assert (explanation.code, explanation.sentence, str(explanation.evidence[0]["location"])) == \
           (original.code, original.sentence, str(original.evidence[0]["location"]))
    np.testing.assert_allclose(loaded.calls[0].results[0].value, np.cos([1.0, 2.0]) * 3.0, rtol=1e-6)
    assert loaded.sources == run.sources and __file__ in loaded.sources
    assert loaded.names == run.names and set(run.names.values()) >= {"x", "c", "y"}


def test_large_values_are_kept_as_summaries(run, tmp_path):
    big = next(t for t in run.tensors.values() if t.name == "big:0")
    assert big.value is None and big.summary["max"] == 4999.0 and big.summary["size"] == 5000


def _rewrite(path, out, change_index=None, extra=None, drop=()):
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            data = source.read(info.filename)
            if info.filename == "index.json" and change_index:
                index = json.loads(data)
                change_index(index)
                data = json.dumps(index).encode()
            target.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out


def _object_array_npy():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("damage, message", [
    ("truncated", "truncated or not a zip"),
    ("not_zip", "truncated or not a zip"),
    ("no_index", "no index.json"),
    ("bad_json", "damaged"),
    ("wrong_format", "not a tapeviz tape file"),
    ("future_version", "newer tapeviz"),
    ("missing_array", "missing or invalid array"),
    ("traversal_array", "missing or invalid array"),
    ("pickled_array", "damaged"),
    ("missing_field", "damaged"),
    ("empty", "truncated or not a zip"),
])
def test_damaged_files_give_clear_errors(run, tmp_path, damage, message):
    good = save(run, tmp_path / "good.tapeviz")
    bad = tmp_path / "bad.tapeviz"
    raw = open(good, "rb").read()
    first_value = lambda index: next(t for t in index["tensors"] if t["value"])  # noqa: E731
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "not_zip":
        bad.write_bytes(b"#!/bin/sh\necho hello\n" * 10)
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "no_index":
        _rewrite(good, bad, drop=("index.json",))
    elif damage == "bad_json":
        _rewrite(good, bad, drop=("index.json",), extra={"index.json": b"{not json"})
    elif damage == "wrong_format":
        _rewrite(good, bad, change_index=lambda i: i.update(format="something-else"))
    elif damage == "future_version":
        _rewrite(good, bad, change_index=lambda i: i.update(version=99))
    elif damage == "missing_array":
        _rewrite(good, bad, change_index=lambda i: first_value(i).update(value={"$array": "arrays/999.npy"}))
    elif damage == "traversal_array":
        _rewrite(good, bad, change_index=lambda i: first_value(i).update(value={"$array": "../../etc/passwd"}))
    elif damage == "pickled_array":
        name = {}
        _rewrite(good, bad, change_index=lambda i: name.setdefault("n", first_value(i)["value"]["$array"]))
        _rewrite(good, bad, drop=(name["n"],), extra={name["n"]: _object_array_npy()})
    elif damage == "missing_field":
        _rewrite(good, bad, change_index=lambda i: i["ops"][0].pop("type"))
    with pytest.raises(TapeFileError, match=message):
        load(bad)


def test_oversized_files_are_refused_before_reading(run, tmp_path, monkeypatch):
    good = save(run, tmp_path / "good.tapeviz")
    monkeypatch.setattr(tapefile, "MAX_FILE_BYTES", 100)
    with pytest.raises(TapeFileError, match="over the"):
        load(good)


def test_zip_bomb_is_refused_from_its_directory(run, tmp_path, monkeypatch):
    good = save(run, tmp_path / "good.tapeviz")
    monkeypatch.setattr(tapefile, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(TapeFileError, match="unpack"):
        load(good)


def test_missing_file(tmp_path):
    with pytest.raises(TapeFileError, match="Cannot open"):
        load(tmp_path / "nope.tapeviz")


def test_record_saves_even_when_the_block_raises(tmp_path):
    path = tmp_path / "crash.tapeviz"
    with pytest.raises(ZeroDivisionError):
        with tf.record(path):
            x = tf.Variable(1.0)
            with tf.GradientTape() as tape:
                y = x * 2.0
            tape.gradient(y, x)
            1 / 0
    run = load(path)
    assert len(run.calls) == 1 and "ZeroDivisionError" in run.meta["error"]


def test_environment_variable_records_a_whole_script(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "script.py"
    script.write_text("import tapeviz as tf\nx = tf.constant(1.0)\nwith tf.GradientTape() as t:\n    y = x * 2.0\n"
                      "print(t.gradient(y, x))\n")
    out = tmp_path / "env.tapeviz"
    done = subprocess.run([sys.executable, str(script)], env={**__import__("os").environ, "TAPEVIZ_RECORD": str(out)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "None"
    (_, _, _, explanation), = load(out).nones()
    assert explanation.code == "SOURCE_NOT_WATCHED"


@pytest.mark.parametrize("array", [
    np.linspace(-3, 7, 50_000, dtype=np.float32),
    np.array([[1.5, np.nan], [np.inf, -2.0]], np.float64),
    np.arange(-7, 40_000, dtype=np.int32),
    np.array([True, False, True]),
    np.array([2.5, -np.inf], np.float16),
], ids=["float32 large", "float64 with nan and inf", "int32", "bool", "float16 with -inf"])
def test_value_summaries_match_float64_statistics(array):
    # What the inspector shows of every value: min, max and mean as float64 statistics of the whole
    # array (non-finite entries propagate, as numpy's do), and how many entries are not finite.
    from tapeviz.inspection.model import summarize
    as_float = array.astype(np.float64)
    summary = summarize(array)
    assert summary["shape"] == list(array.shape) and summary["size"] == array.size
    assert summary["dtype"] == array.dtype.name
    for key, want in (("min", as_float.min()), ("max", as_float.max()), ("mean", as_float.mean())):
        np.testing.assert_allclose(summary[key], want, rtol=1e-12, equal_nan=True, err_msg=key)
    assert summary["nonfinite"] == int(np.count_nonzero(~np.isfinite(as_float)))
