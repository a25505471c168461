"""Loading a tape file in chunks: no single parse covers a big table, other threads run while a file
loads, progress is reported and a load can be cancelled; the chunk limits hold against hostile files."""
import json
import os
import sys
import threading
import zipfile

import pytest

import tapeviz as tf
from tapeviz.inspection import tapefile
from tapeviz.inspection.tapefile import LoadCancelled, TapeFileError, load, save
from tapeviz.inspection.tapefile_v1 import save_v1

sys.path.insert(0, os.path.dirname(__file__))  # the makers of hostile files live beside the tests
import hostile_tapefiles as hostile  # noqa: E402


def _chain(steps):
    """y = sin(y) * 1.01, ``steps`` times (2 ops a step after reading x), and its gradient."""
    with tf.record() as recorder:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape() as tape:
            y = x
            for _ in range(steps):
                y = tf.sin(y) * 1.01
        tape.gradient(y, x)
    return recorder.snapshot()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A run whose ops, tensors and arrays tables each need several chunks."""
    run = _chain(6_000)
    for op in list(run.ops.values())[-3:]:  # fields version 2 kept as extra fields: seen to survive
        op.backward = True
    read = next(op for op in run.ops.values() if op.type == "ReadVariableOp")
    run.tensors[read.outputs[0]].read_of = read.inputs[0]
    return save(run, tmp_path_factory.mktemp("chunks") / "chain.tapeviz")


def _parsed_sizes(monkeypatch):
    """Record the size of every text tapefile hands to json.loads."""
    sizes = []
    real = json.loads

    def loads(data, *args, **kwargs):
        sizes.append(len(data))
        return real(data, *args, **kwargs)
    monkeypatch.setattr(tapefile.json, "loads", loads)
    return sizes


def test_every_table_is_written_in_chunks_of_bounded_rows_and_bytes(big_file):
    with zipfile.ZipFile(big_file) as archive:
        index = json.loads(archive.read("index.json"))
        chunks = {name: [json.loads(archive.read(f"{name}/{n}.json")) for n in range(count)]
                  for name, count in index["chunks"].items()}
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    assert index["version"] == 3 and "ops" not in index
    assert len(chunks["ops"]) >= 4 and len(chunks["tensors"]) >= 3
    for name, pieces in chunks.items():
        for number, rows in enumerate(pieces):
            assert 0 < len(rows) <= tapefile.CHUNK_ROWS
            assert len(rows) == 1 or sizes[f"{name}/{number}.json"] <= tapefile.CHUNK_BYTES
    assert sum(map(len, chunks["ops"])) == 12_001


def test_no_single_parse_covers_more_than_one_chunk(big_file, monkeypatch):
    sizes = _parsed_sizes(monkeypatch)
    run = load(big_file)
    with zipfile.ZipFile(big_file) as archive:
        index_size = archive.getinfo("index.json").file_size
        total = sum(i.file_size for i in archive.infolist() if i.filename.endswith(".json"))
    assert len(run.ops) == 12_001
    assert len(sizes) > 10 and max(sizes) <= max(tapefile.CHUNK_BYTES, index_size)
    assert sum(sizes) >= total - 1000  # every chunk parsed (sources.json too), none skipped


def test_a_version_2_file_with_one_index_still_loads(big_file, tmp_path, monkeypatch):
    with zipfile.ZipFile(big_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    index = hostile.joined_index(members)
    old = tmp_path / "v2.tapeviz"
    with zipfile.ZipFile(old, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in hostile.split_index(index, members, version=2).items():
            archive.writestr(name, data)
    with zipfile.ZipFile(old) as archive:
        assert sorted(archive.namelist()) == ["arrays.bin", "index.json", "sources.json"]
    two, three = load(old), load(big_file)
    assert two.ops == three.ops and two.tapes == three.tapes and two.calls[0].targets == three.calls[0].targets
    assert [op.backward for op in two.ops.values()][-4:] == [False, True, True, True]
    assert [t.read_of for t in two.tensors.values()] == [t.read_of for t in three.tensors.values()]
    assert any(t.read_of is not None for t in two.tensors.values())


def test_another_thread_runs_between_the_chunks_of_a_load(big_file):
    # A helper thread counts while the file loads; the count, read at each progress report, must
    # move between reports again and again: the load lets go of the GIL between chunks, not once
    # at the end as a single json.loads of the whole index did.
    counter, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    seen = []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)  # the helper asks for the GIL after 0.1 ms: a chunk takes longer
    helper = threading.Thread(target=count)
    helper.start()
    try:
        load(big_file, progress=lambda fraction, step: seen.append((step, counter[0])))
    finally:
        stop.set()
        helper.join()
        sys.setswitchinterval(previous)
    decoding = [ticks for step, ticks in seen if step == "decoding"]
    moved = sum(later > earlier for earlier, later in zip(decoding, decoding[1:]))
    # Small chunks (of the arrays table) take less than a switch interval, and a busy machine may
    # not schedule the helper at every one: what must hold is that it ran again and again.
    assert len(decoding) > 20 and moved >= 5, seen


@pytest.mark.parametrize("version", [1, 3])
def test_progress_goes_from_0_to_1_through_the_steps_in_order(big_file, tmp_path, version):
    path = big_file if version == 3 else save_v1(_chain(20), tmp_path / "v1.tapeviz")
    reports = []
    run = load(path, progress=lambda fraction, step: reports.append((fraction, step)))
    fractions = [f for f, _ in reports]
    steps = [s for _, s in reports]
    assert run.ops and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)
    order = ["reading", "decoding", "checking"]
    assert steps[0] == "reading" and steps[-1] == "checking"
    assert [order.index(s) for s in steps] == sorted(order.index(s) for s in steps)
    if version == 3:
        assert len(reports) > 20 and steps.count("decoding") > 10


@pytest.mark.parametrize("how", ["returns False", "raises LoadCancelled"])
def test_a_load_stops_when_its_progress_callback_says_so(big_file, how):
    reports = []

    def progress(fraction, step):
        reports.append(fraction)
        if step == "decoding" and fraction > 0.3:
            if how == "returns False":
                return False
            raise LoadCancelled("stop")
        return None  # anything but False goes on
    with pytest.raises(LoadCancelled) as caught:
        load(big_file, progress=progress)
    assert not isinstance(caught.value, TapeFileError)  # a cancel is not a damaged file
    assert reports[-1] < 0.85  # stopped while decoding, without checking the run


def test_chunk_counts_beyond_the_limit_are_refused_before_any_member_is_read(big_file, tmp_path, monkeypatch):
    with zipfile.ZipFile(big_file) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    index = json.loads(members["index.json"])
    index["chunks"]["events"] = tapefile.MAX_CHUNKS + 1
    members["index.json"] = json.dumps(index).encode()
    bad = tmp_path / "bad.tapeviz"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    read = []
    real = tapefile._read_member
    monkeypatch.setattr(tapefile, "_read_member", lambda archive, name, *a: read.append(name) or real(archive, name,
                                                                                                      *a))
    with pytest.raises(TapeFileError, match="chunk counts must be numbers, at most 10000"):
        load(bad)
    assert read == ["index.json"]


@pytest.mark.parametrize("limit", ["MAX_INDEX_BYTES", "MAX_INDEX_VALUES"])
def test_index_limits_count_all_chunks_together_before_any_is_parsed(big_file, monkeypatch, limit):
    with zipfile.ZipFile(big_file) as archive:
        infos = [i for i in archive.infolist() if i.filename.endswith(".json") and i.filename != "sources.json"]
        total_bytes = sum(i.file_size for i in infos)
        largest = max(i.file_size for i in infos)
        values = sum(tapefile._count_values(archive.read(i.filename)) for i in infos)
    # Each chunk is under the limit, all of them together over it.
    monkeypatch.setattr(tapefile, limit, max(largest, total_bytes - 1) if limit == "MAX_INDEX_BYTES" else values - 1)
    sizes = _parsed_sizes(monkeypatch)
    with pytest.raises(TapeFileError, match="over the" if limit == "MAX_INDEX_BYTES" else "values, over the limit"):
        load(big_file)
    assert len(sizes) <= 1  # the small index.json at most: no table chunk was parsed


def test_the_inspectors_loader_reports_progress_and_stops_reading_when_cancelled(big_file, qtbot, monkeypatch):
    pytest.importorskip("PySide6")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tapeviz.gui import loader as loader_module

    loader = loader_module.RunLoader()
    fractions = []
    loader.progress.connect(lambda fraction, step: fractions.append(fraction))
    with qtbot.waitSignal(loader.loaded, timeout=60_000):
        loader.load(str(big_file))
    qtbot.waitUntil(lambda: bool(fractions) and fractions[-1] == 1.0, timeout=10_000)
    assert len(fractions) > 20 and fractions == sorted(fractions)

    # After cancel(), the worker's next progress report stops the load: the file is not read to the end.
    futures = []
    real = loader_module.start_loading
    monkeypatch.setattr(loader_module, "start_loading", lambda *args: futures.append(real(*args)) or futures[-1])
    loader.load(str(big_file))
    loader.cancel()
    assert isinstance(futures[0].exception(timeout=60), LoadCancelled)


@pytest.mark.parametrize("damage", ["summary", "producer"])
def test_checks_made_a_slice_at_a_time_still_see_the_last_slice(monkeypatch, tmp_path, damage):
    from tapeviz.inspection import validate

    monkeypatch.setattr(validate, "_SLICE", 4)
    path = save(_chain(6), tmp_path / "run.tapeviz")
    run = load(path)
    last = list(run.tensors.values())[-1]
    if damage == "summary":
        last.summary = dict(last.summary, size="big") if last.summary else {"shape": [], "dtype": "f", "size": "x"}
    else:
        last.producer = next(op.id for op in run.ops.values() if last.id not in op.outputs)
    validate.check_run(load(path))  # an untouched run passes with slices of 4
    with pytest.raises(validate.InvalidRun, match=f"tensor {last.id}"):
        validate.check_run(run)


def test_an_error_in_the_progress_callback_is_not_blamed_on_the_file(big_file):
    def progress(fraction, step):
        if step == "decoding":
            raise KeyError("the caller's bug")
    with pytest.raises(KeyError, match="the caller's bug"):
        load(big_file, progress=progress)
