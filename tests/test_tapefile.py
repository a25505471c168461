"""Tape files: a run survives a round trip; every kind of damaged file gives a clear error."""
import io
import json
import os
import sys
import warnings
import zipfile

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection import tapefile
from tapeviz.inspection.tapefile import TapeFileError, load, save
from tapeviz.inspection.tapefile_v1 import save_v1

sys.path.insert(0, os.path.dirname(__file__))  # the makers of hostile files live beside the tests
import hostile_tapefiles as hostile  # noqa: E402


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
    ("pickled_array", "not a plain numeric .npy array"),
    ("missing_field", "op 0 has no 'type'"),
    ("empty", "truncated or not a zip"),
])
def test_damaged_version_1_files_give_clear_errors(run, tmp_path, damage, message):
    good = save_v1(run, tmp_path / "good.tapeviz")
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


def test_a_member_declared_over_its_limit_is_refused_before_reading(run, tmp_path, monkeypatch):
    good = save(run, tmp_path / "good.tapeviz")
    monkeypatch.setattr(tapefile, "MAX_INDEX_BYTES", 1000)
    with pytest.raises(TapeFileError, match="its index would unpack to .* over the"):
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


# Version 2 -------------------------------------------------------------------------------------------
FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "tapefiles"


def test_version_3_keeps_all_arrays_in_one_member_and_strings_once(run, tmp_path):
    path = save(run, tmp_path / "run.tapeviz")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}
        members = {name: archive.read(name) for name in names}
    assert json.loads(members["index.json"])["version"] == 3
    index = hostile.joined_index(members)
    assert sorted(members) == ["arrays.bin", "sources.json"]  # besides the index and its table chunks
    kept = [t for t in run.tensors.values() if t.value is not None]
    kept += [r for c in run.calls for r in c.results if r.value is not None]
    assert len(index["arrays"]) == len(kept) > 3
    assert len(index["strings"]) == len(set(index["strings"]))
    assert index["strings"].count("Sin") == 1 and len(index["ops"]) == len(run.ops)


def test_version_1_file_written_by_an_earlier_tapeviz_still_loads():
    # Written by tapeviz's version 1 writer from a program that takes d(sin(x) * c) with c not
    # watched, and d(round(...)): one None of each kind.
    loaded = load(FIXTURES / "v1_program.tapeviz")
    assert [o.type for o in loaded.ops.values()] == ["Sin", "Mul", "Round", "Mul", "Cos", "Mul"]
    assert [explanation.code for _, _, _, explanation in loaded.nones()] == ["SOURCE_NOT_WATCHED",
                                                                           "NOT_DIFFERENTIABLE"]
    x = next(t for t in loaded.tensors.values() if t.name == "x:0")
    np.testing.assert_array_equal(x.value, np.float32([1.0, 2.0]))
    np.testing.assert_allclose(loaded.calls[0].results[0].value, np.cos([1.0, 2.0]) * 3.0, rtol=1e-6)
    assert loaded.meta["script"] == "v1_program.py"


def test_both_versions_load_the_same_run(run, tmp_path):
    one, two = load(save_v1(run, tmp_path / "one.tapeviz")), load(save(run, tmp_path / "two.tapeviz"))
    assert one.ops == two.ops and one.tapes == two.tapes and one.events == two.events
    assert one.names == two.names and one.sources == two.sources and one.meta == two.meta
    for tensor_id, info in one.tensors.items():
        other = two.tensors[tensor_id]
        assert (info.kind, info.shape, info.dtype, info.summary) == (other.kind, other.shape, other.dtype,
                                                                     other.summary)
        assert (info.value is None and other.value is None) or np.array_equal(info.value, other.value)


def test_loaded_arrays_are_numbers_of_the_saved_dtype_and_writable(tmp_path):
    with tf.record() as rec:
        values = [tf.constant((np.arange(6) % 3).astype(dtype).reshape(2, 3)) for dtype in
                  (np.float16, np.float64, np.int64, np.int8, np.uint8, np.bool_)]
        x = tf.Variable(1.0)
        with tf.GradientTape() as tape, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # watching integer tensors warns, as in TensorFlow
            tape.watch(values)
            y = x * 2.0
        tape.gradient(y, values + [x])
    run = rec.snapshot()
    loaded = load(save(run, tmp_path / "dtypes.tapeviz"))
    for tensor_id, info in run.tensors.items():
        if info.value is not None:
            got = loaded.tensors[tensor_id].value
            assert got.dtype == info.value.dtype and got.shape == info.value.shape
            np.testing.assert_array_equal(got, info.value)
            got[...] = 0  # an array of its own, not a read-only view of the file


def _rewrite_tables(good, bad, change_index=None, members=None, compression=zipfile.ZIP_DEFLATED, version=3):
    """``good`` (as save writes it) rewritten to ``bad`` in the layout of ``version`` (2: one index.json,
    3: tables in chunks), after ``change_index`` changed its index (tables whole) and ``members``
    replaced members (None: left out)."""
    with zipfile.ZipFile(good) as source:
        contents = {name: source.read(name) for name in source.namelist()}
    index = hostile.joined_index(contents)
    if change_index:
        change_index(index)
    hostile.split_index(index, contents, version)
    contents.update(members or {})
    with zipfile.ZipFile(bad, "w", compression=compression) as target:
        for name, data in contents.items():
            if data is not None:
                target.writestr(name, data)
    return bad


def _set(table, row, column, value):
    def change(index):
        index[table][row][column] = value
    return change


def _blame_another_op(index):
    tensor = next(row for row in index["tensors"] if row[6] is not None)
    tensor[6] = next(op[0] for op in index["ops"] if tensor[0] not in op[4])


def _first_op_with_inputs(index):
    return next(row for row in index["ops"] if row[3])


# Each damage leaves a file that loads as JSON but does not hold together; each must be refused at
# load with one line naming what is wrong, so that show, explain and the inspector never see it.
V2_DAMAGE = {
    "dangling op input": (lambda i: _first_op_with_inputs(i)[3].append(999_999), "not a tensor of the run"),
    "string where a seq belongs": (_set("ops", 0, 1, "5"), "seq must be an integer"),
    "bool where an id belongs": (lambda i: _first_op_with_inputs(i).__setitem__(3, [True]),
                                 "not a tensor of the run"),
    "tensor producer is not an op": (lambda i: next(r for r in i["tensors"] if r[6] is not None)
                                     .__setitem__(6, 424242), "producer 424242 is not an op"),
    "producer does not list the tensor": (lambda i: _blame_another_op(i), "outputs do not include it"),
    "op row too short": (lambda i: i["ops"][0].__delitem__(slice(10, None)), "op row 0 has 10 fields"),
    "string number out of range": (_set("ops", 0, 2, 10 ** 6), "op row 0 cannot be read"),
    "tape of a call missing": (lambda i: i["calls"][0].__setitem__(2, 77), "tape 77 is not a tape"),
    "explanation target not in call": (lambda i: next(r for c in i["calls"] for r in c[7] if r[4])[4][0]
                                       .__setitem__(0, -5), "not one of the call's targets"),
    "evidence names a missing op": (lambda i: next(r for c in i["calls"] for r in c[7] if r[4])[4][0][4][0]
                                    .__setitem__("op", 31337), "evidence names op 31337"),
    "summary min is text": (lambda i: next(r for r in i["tensors"] if len(r[8]) == 8)[8].__setitem__(3, "big"),
                            "summary min must be a number"),
    "negative shape": (lambda i: next(r for r in i["tensors"] if r[2])[2].__setitem__(0, -1),
                       "shape must be a list of sizes"),
    "object array": (lambda i: i["arrays"][0].__setitem__(0, "|O"), "tape files hold only numbers"),
    "array past the end": (lambda i: i["arrays"][0].__setitem__(2, 10 ** 9), "reaches past the end"),
    "location line is text": (lambda i: i["locations"][0].__setitem__(1, "ten"),
                              "location 0 is not [file, line, function]"),
    "two ops with one id": (lambda i: i["ops"][1].__setitem__(0, i["ops"][0][0]), "same id"),
    "no tensors table": (lambda i: i.pop("tensors"), "no tensors table"),
    "string table holds a number": (lambda i: i["strings"].append(5), "not a string"),
    "assign detail is not an id": (lambda i: i["events"].append([10 ** 6, i["strings"].index("Sin"), None, None,
                                                                 None, i["strings"].index("Sin"),
                                                                 i["strings"].index("Sin")]), None),
    "meta holds a non-string key": (lambda i: i.__setitem__("meta", [1, 2]), "meta"),
}


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("damage", sorted(V2_DAMAGE))
def test_files_that_do_not_hold_together_are_refused_at_load(run, tmp_path, damage, version):
    change, message = V2_DAMAGE[damage]
    good = save(run, tmp_path / "good.tapeviz")
    bad = _rewrite_tables(good, tmp_path / "bad.tapeviz", change_index=change, version=version)
    if message is None:  # a harmless change: the file must still load
        load(bad)
        return
    with pytest.raises(TapeFileError) as caught:
        load(bad)
    text = str(caught.value)
    assert message in text and str(bad) in text and "\n" not in text


@pytest.mark.parametrize("version", [2, 3])
def test_assign_event_whose_detail_is_not_an_id_is_refused(run, tmp_path, version):
    good = save(run, tmp_path / "good.tapeviz")

    def change(index):
        index["strings"] += ["assign", "not a number"]
        index["events"].append([10 ** 6, len(index["strings"]) - 2, None, None, None, len(index["strings"]) - 1,
                                len(index["strings"]) - 1])
    with pytest.raises(TapeFileError, match="detail of an assign must be the assigned tensor's id"):
        load(_rewrite_tables(good, tmp_path / "bad.tapeviz", change_index=change, version=version))


@pytest.mark.parametrize("version, missing", [(2, "index.json"), (2, "arrays.bin"), (2, "sources.json"),
                                              (3, "index.json"), (3, "arrays.bin"), (3, "sources.json"),
                                              (3, "ops/0.json"), (3, "strings/0.json")])
def test_file_missing_a_member(run, tmp_path, missing, version):
    good = save(run, tmp_path / "good.tapeviz")
    with pytest.raises(TapeFileError, match=f"no {missing}"):
        load(_rewrite_tables(good, tmp_path / "bad.tapeviz", members={missing: None}, version=version))


# Not a regular file --------------------------------------------------------------------------------
def test_a_directory_is_refused(tmp_path):
    with pytest.raises(TapeFileError, match="it is a directory"):
        load(tmp_path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    import os
    fifo = tmp_path / "pipe.tapeviz"
    os.mkfifo(fifo)
    with pytest.raises(TapeFileError, match="not a regular file"):
        load(fifo)


def test_a_device_is_refused():
    with pytest.raises(TapeFileError, match="not a regular file"):
        load("/dev/zero")


# Saving ----------------------------------------------------------------------------------------------
def _leftovers(directory, keep):
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_save_leaves_the_old_file_and_nothing_else(run, tmp_path, monkeypatch, failure):
    target = tmp_path / "run.tapeviz"
    target.write_bytes(b"the previous run")

    def fail(descriptor):
        raise failure
    monkeypatch.setattr(tapefile.os, "fsync", fail)
    with pytest.raises(type(failure)):
        save(run, target)
    assert target.read_bytes() == b"the previous run"
    assert _leftovers(tmp_path, {"run.tapeviz"}) == []


def test_saving_onto_a_directory_fails_and_leaves_nothing(run, tmp_path):
    target = tmp_path / "a directory"
    target.mkdir()
    with pytest.raises(OSError):
        save(run, target)
    assert _leftovers(tmp_path, {"a directory"}) == [] and list(target.iterdir()) == []


def test_saving_into_a_missing_directory_raises_oserror(run, tmp_path):
    with pytest.raises(FileNotFoundError):
        save(run, tmp_path / "nowhere" / "run.tapeviz")


def test_saved_file_gets_the_usual_permissions(run, tmp_path):
    import os
    import stat
    mask = os.umask(0o022)
    os.umask(mask)
    mode = stat.S_IMODE(os.stat(save(run, tmp_path / "run.tapeviz")).st_mode)
    assert mode == 0o666 & ~mask


def test_values_beyond_the_array_budget_are_left_out_and_counted(run, tmp_path, monkeypatch):
    monkeypatch.setattr(tapefile, "MAX_ARRAY_BYTES", 16)
    loaded = load(save(run, tmp_path / "run.tapeviz"))
    kept = [t for t in loaded.tensors.values() if t.value is not None]
    dropped = [t for t in run.tensors.values() if t.value is not None and loaded.tensors[t.id].value is None]
    assert len(kept) <= 2 and dropped and loaded.meta["values_left_out"] >= len(dropped)
    assert all(loaded.tensors[t.id].summary == t.summary for t in dropped)


def test_a_run_too_large_to_read_back_is_not_saved(run, tmp_path, monkeypatch):
    monkeypatch.setattr(tapefile, "MAX_INDEX_BYTES", 100)
    with pytest.raises(TapeFileError, match="Record fewer steps"):
        save(run, tmp_path / "run.tapeviz")
    assert list(tmp_path.iterdir()) == []


def test_fields_added_to_the_model_later_survive_a_round_trip(run, tmp_path, monkeypatch):
    # A newer model field (here on GradientResult) is written after the known ones, and read back
    # by a tapeviz that has it; arrays and locations inside it keep their types.
    import dataclasses
    from tapeviz.inspection import model

    extended = dataclasses.make_dataclass("GradientResult", [("note", object, dataclasses.field(default=None))],
                                          bases=(model.GradientResult,))
    monkeypatch.setattr(tapefile, "GradientResult", extended)
    monkeypatch.setattr(tapefile, "_TABLES", tuple((n, extended if c is model.GradientResult else c, k)
                                                   for n, c, k in tapefile._TABLES))
    from tapeviz.inspection import validate
    monkeypatch.setattr(validate, "GradientResult", extended)
    for call in run.calls:
        call.results = [extended(**{f.name: getattr(r, f.name) for f in dataclasses.fields(r)},
                                 note={"where": model.Location("f.py", 3), "first": np.arange(3.0)})
                        for r in call.results]
    loaded = load(save(run, tmp_path / "run.tapeviz"))
    note = loaded.calls[0].results[0].note
    assert note["where"] == model.Location("f.py", 3)
    np.testing.assert_array_equal(note["first"], np.arange(3.0))


def test_meta_that_is_not_plain_json_is_saved_as_plain_json(run, tmp_path):
    import pathlib
    run.meta.update(plugins={"softclip", "builtin"}, script=pathlib.PurePosixPath("/a/b.py"), steps=np.int64(3))
    meta = load(save(run, tmp_path / "run.tapeviz")).meta
    assert meta["plugins"] == ["builtin", "softclip"] and meta["steps"] == 3 and "/a/b.py" in meta["script"]


def test_a_run_with_too_many_index_values_names_that_limit_not_the_size(run, tmp_path, monkeypatch):
    monkeypatch.setattr(tapefile, "MAX_INDEX_VALUES", 10)
    with pytest.raises(TapeFileError, match=r"JSON values, over the 10 that tapeviz reads back") as caught:
        save(run, tmp_path / "run.tapeviz")
    assert "MiB" not in str(caught.value) and list(tmp_path.iterdir()) == []


def test_the_l2_norm_is_kept_and_files_from_before_it_still_load(run, tmp_path):
    big = next(t for t in run.tensors.values() if t.name == "big:0")
    expected = np.linalg.norm(np.arange(5000, dtype=np.float64))
    assert big.value is None and big.summary["norm"] == pytest.approx(expected, rel=1e-5)
    gradient = run.calls[-1].results[0]                       # d (big * 2) / d big: 2 everywhere
    assert gradient.summary["norm"] == pytest.approx(2 * np.sqrt(5000), rel=1e-5)
    good = save(run, tmp_path / "run.tapeviz")
    loaded = load(good)
    assert loaded.tensors[big.id].summary["norm"] == big.summary["norm"]
    assert loaded.calls[-1].results[0].summary["norm"] == gradient.summary["norm"]

    def without_norms(index):   # as written before the norm was kept: seven summary fields
        summaries = [row[8] for row in index["tensors"]] + [result[3] for call in index["calls"] for result in call[7]]
        for summary in summaries:
            if len(summary) == 8:
                summary.pop()
    old = load(_rewrite_tables(good, tmp_path / "old.tapeviz", change_index=without_norms))
    summary = old.tensors[big.id].summary
    assert "norm" not in summary and summary["max"] == 4999.0 and summary["mean"] == big.summary["mean"]
    assert "norm" not in old.calls[-1].results[0].summary
