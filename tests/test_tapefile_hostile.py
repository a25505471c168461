"""Hostile tape files, small versions: each is refused with one clear line, after bounded work.

Full-size versions (each under 10 MB on disk) are measured by benchmarks/bench_tapefile.py. Here
"bounded" is checked with tracemalloc (numpy's and zipfile's buffers are counted too): the peak
must stay far below what the file would unpack to, not on a clock.
"""
import os
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the makers live beside the tests
import hostile_tapefiles as hostile  # noqa: E402
from tapeviz.inspection import tapefile  # noqa: E402
from tapeviz.inspection.report import text_summary  # noqa: E402
from tapeviz.inspection.tapefile import TapeFileError, load  # noqa: E402

MB = 1024 ** 2


def peak_while(function):
    """``function()``'s result or exception, and the peak bytes Python allocated while it ran."""
    tracemalloc.start()
    try:
        try:
            outcome = function()
        except Exception as error:  # noqa: BLE001 - the caller inspects it
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_bzip2_member_is_refused_before_decompressing(tmp_path):
    # The 12.6 GB case: a bzip2 member that declares a small size. bzip2 decompresses whole blocks
    # without an output limit, so tapeviz reads no method it does not write.
    path = hostile.compression_bomb(tmp_path / "bz.tapeviz", 20 * MB, declared=1000,
                                    compression=zipfile.ZIP_BZIP2)
    error, peak = peak_while(lambda: load(path))
    assert isinstance(error, TapeFileError) and "zip method 12" in str(error) and "deflate" in str(error)
    assert peak < 2 * MB


def test_deflate_member_longer_than_it_declares_stops_at_the_declared_size(tmp_path):
    path = hostile.compression_bomb(tmp_path / "bomb.tapeviz", 40 * MB, declared=4096)
    error, peak = peak_while(lambda: load(path))
    assert isinstance(error, TapeFileError) and "truncated or not a zip" in str(error)
    assert peak < 4 * MB


def test_deflate_member_declared_over_the_limit_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(tapefile, "MAX_INDEX_BYTES", 4 * MB)
    path = hostile.compression_bomb(tmp_path / "bomb.tapeviz", 40 * MB)
    error, peak = peak_while(lambda: load(path))
    assert isinstance(error, TapeFileError) and "would unpack to 40.0 MiB, over the 4.0 MiB limit" in str(error)
    assert peak < 2 * MB


def test_deflate_member_that_lies_within_the_limit_costs_at_most_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tapefile, "MAX_INDEX_BYTES", 4 * MB)
    path = hostile.compression_bomb(tmp_path / "bomb.tapeviz", 40 * MB, declared=4 * MB)
    error, peak = peak_while(lambda: load(path))
    assert isinstance(error, TapeFileError)
    assert peak < 4 * MB + 3 * MB  # the buffer and one chunk being decompressed


@pytest.mark.parametrize("version", [1, 2])
def test_one_array_named_by_many_tensors_is_read_once(tmp_path, version):
    # The 8.45 GB case: one 200 MB array named 42 times was loaded 42 times.
    path = hostile.shared_array(tmp_path / "shared.tapeviz", 8 * MB, references=42, version=version)
    run, peak = peak_while(lambda: load(path))
    values = [t.value for t in run.tensors.values() if t.value is not None]
    assert len(values) == 42 and all(v is values[0] for v in values) and values[0].nbytes == 8 * MB
    assert peak < 2 * 8 * MB + 2 * MB  # the member and, for version 1, a view of it: never 42 copies


def test_huge_member_under_the_array_limit_is_read_once_into_one_buffer(tmp_path, monkeypatch):
    # The 7.1 GB case: a 3.6 GB member under the old 4 GiB cap was held twice over.
    monkeypatch.setattr(tapefile, "MAX_ARRAY_BYTES", 16 * MB)
    path = hostile.huge_member(tmp_path / "huge.tapeviz", 12 * MB)
    run, peak = peak_while(lambda: load(path))
    assert len(run.ops) == 1 and peak < 12 * MB + 3 * MB
    over = hostile.huge_member(tmp_path / "over.tapeviz", 20 * MB)
    error, peak = peak_while(lambda: load(over))
    assert isinstance(error, TapeFileError) and "its arrays would unpack to 20.0 MiB" in str(error)
    assert peak < 2 * MB


@pytest.mark.parametrize("opener", [b"{}", b"[]", b"0"])
def test_index_of_many_empty_values_is_refused_before_parsing(tmp_path, monkeypatch, opener):
    # The 4.9 GB case: a 199 KB index of empty objects. Values are counted before json.loads.
    monkeypatch.setattr(tapefile, "MAX_INDEX_VALUES", 100_000)
    path, size = hostile.empty_objects(tmp_path / "empty.tapeviz", 400_000, opener)
    parsed = []
    monkeypatch.setattr(tapefile.json, "loads", lambda data: parsed.append(data))
    error, peak = peak_while(lambda: load(path))
    assert isinstance(error, TapeFileError) and "over the 100000 limit" in str(error)
    assert not parsed and peak < size + 3 * MB


def test_index_of_empty_objects_under_the_count_limit_is_refused_at_the_first_row(tmp_path):
    path, _ = hostile.empty_objects(tmp_path / "empty.tapeviz", 50_000)
    with pytest.raises(TapeFileError, match="tensor row 0 has no fields, not 10"):
        load(path)


def test_deeply_nested_index_is_a_clear_error(tmp_path):
    path = hostile.deep_nesting(tmp_path / "deep.tapeviz", 200_000)
    with pytest.raises(TapeFileError, match="nested too deeply|nested more than"):
        load(path)


def test_many_tapes_and_events_summarize_in_linear_time(tmp_path):
    # A run that holds together: the summary once scanned every event for every tape, which for
    # a long training loop meant hours. Count the events the summary looks at, not the time.
    path = hostile.many_tapes_and_events(tmp_path / "many.tapeviz", tapes=400, events_per_tape=5)
    run = load(path)

    class CountingList(list):
        reads = 0

        def __iter__(self):
            CountingList.reads += 1
            return super().__iter__()

        def __getitem__(self, key):
            CountingList.reads += 1
            return super().__getitem__(key)
    run.events = CountingList(run.events)
    lines = text_summary(run)
    # 400 alike tapes are folded into one line; every tape was still looked at.
    assert any("399 more tapes made there" in line for line in lines) and CountingList.reads < 10


@pytest.mark.parametrize("command", ["show", "explain"])
def test_cli_refuses_a_fifo_with_one_line_and_exit_2(tmp_path, command):
    fifo = tmp_path / "pipe.tapeviz"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "tapeviz", command, str(fifo)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not a regular file" in done.stderr


def test_cli_shows_a_damaged_file_as_one_line_and_exit_2(tmp_path):
    path = hostile.valid_small(tmp_path / "bad.tapeviz")
    with zipfile.ZipFile(path) as archive:
        index = archive.read("index.json").replace(b'"Sin"', b'5')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.json", index)
        archive.writestr("sources.json", "{}")
        archive.writestr("arrays.bin", b"")
    done = subprocess.run([sys.executable, "-m", "tapeviz", "show", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "string table holds something that is not a string" in done.stderr


def test_small_valid_hostile_base_loads(tmp_path):
    # The makers above start from this run; it must itself be a good file, or the tests prove nothing.
    for version in (1, 2):
        run = load(hostile.valid_small(tmp_path / f"v{version}.tapeviz", version))
        assert [o.type for o in run.ops.values()] == ["Sin"] and np.all([t.value is None for t in run.tensors.values()])


def test_chunks_of_empty_objects_are_counted_together_and_refused_after_bounded_work(tmp_path, monkeypatch):
    # 400 chunks of 2,048 empty objects: each chunk is small, together they pass the value limit.
    monkeypatch.setattr(tapefile, "MAX_INDEX_VALUES", 400 * 2048)
    path = hostile.chunked(tmp_path / "chunks.tapeviz", "tensors", 400, 2048)
    error, peak = peak_while(lambda: load(path))
    assert isinstance(error, TapeFileError) and "values, over the limit" in str(error)
    assert peak < 2 * 400 * 2048 * 3 + 2 * MB  # the chunks' bytes, never their 819,200 parsed objects


def test_the_most_chunks_a_file_may_have_load_and_one_more_is_refused(tmp_path):
    empty = load(hostile.chunked(tmp_path / "empty.tapeviz", "events", tapefile.MAX_CHUNKS, 0, b""))
    assert empty.events == [] and empty.ops == {}
    with pytest.raises(TapeFileError, match="at most 10000 in all"):
        load(hostile.chunked(tmp_path / "more.tapeviz", "events", tapefile.MAX_CHUNKS + 1, 0, b""))
