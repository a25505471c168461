"""Seeded fuzzers for tape files: damaged files give TapeFileError, or a run every consumer can use.

Each case damages a good file (a realistic small run, in every format version): values in the
index replaced by values of other types, items removed or repeated, bytes of the archive changed,
and for version 3 table chunks lost, repeated, swapped, miscounted or replaced by other JSON.
Loading must then raise TapeFileError (one line), or return a run on which ``show``, ``explain``
and the inspector's graph all work. Reproducible: a failure names its seed and case; set
TAPEVIZ_FUZZ_SEED and TAPEVIZ_FUZZ_CASES to try other or more cases.
"""
import json
import os
import random
import sys
import zipfile

import numpy as np
import pytest

import tapeviz as tf
from tapeviz.inspection.report import json_summary, text_summary
from tapeviz.inspection.tapefile import TapeFileError, load, save
from tapeviz.inspection.tapefile_v1 import save_v1

sys.path.insert(0, os.path.dirname(__file__))  # the makers of hostile files live beside the tests
import hostile_tapefiles as hostile  # noqa: E402

SEED = int(os.environ.get("TAPEVIZ_FUZZ_SEED", "20261201"))
CASES = int(os.environ.get("TAPEVIZ_FUZZ_CASES", "150"))
JUNK = [None, True, False, -1, 0, 1, 3, 2 ** 70, -2 ** 63, 1.5, float("nan"), float("inf"), "", "x", "\x1b[2J",
        "arrays/0.npy", "../../etc/passwd", [], [0], [[]], {}, {"$array": 0}, {"$array": "arrays/0.npy"},
        {"$location": 0}, [None, None, None], ["f.py", 1, "g"]]


def _program():
    """A small training loop with the things consumers look at: names, a None, stop_recording, assign."""
    rng = np.random.default_rng(0)
    with tf.record() as rec:
        w = tf.Variable(rng.standard_normal((3, 2)).astype(np.float32), name="dense/kernel")
        b = tf.Variable(np.zeros(2, np.float32), name="dense/bias")
        unused = tf.Variable(1.0, name="unused")
        x = tf.constant(rng.standard_normal((4, 3)).astype(np.float32))
        for _ in range(2):
            with tf.GradientTape(persistent=True) as tape:
                h = tf.nn.relu(x @ w + b)
                loss = tf.reduce_mean(h ** 2)
                with tape.stop_recording():
                    tf.reduce_sum(h)
                rounded = tf.round(loss)
            dw, db, du = tape.gradient(loss, [w, b, unused])
            tape.gradient(rounded, w)
            w.assign_sub(0.1 * dw)
    return rec.snapshot()


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz")
    run = _program()
    v3 = save(run, directory / "v3.tapeviz")
    members = _members(v3)
    index = hostile.joined_index(members)
    # Version 2 (one index.json) and version 3 with chunks of 3 rows: every table in several chunks.
    v2 = _write(directory / "v2.tapeviz", hostile.split_index(index, dict(members), version=2))
    chunked = _write(directory / "v3-small-chunks.tapeviz",
                     hostile.split_index(index, dict(members), version=3, rows_per_chunk=3))
    return {1: save_v1(run, directory / "v1.tapeviz"), 2: v2, 3: chunked}


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _containers(value, trail=()):
    """Every (container, key) in the JSON value, with the path to it."""
    if isinstance(value, dict):
        for key in list(value):
            yield value, key, trail + (key,)
            yield from _containers(value[key], trail + (key,))
    elif isinstance(value, list):
        for index in range(len(value)):
            yield value, index, trail + (index,)
            yield from _containers(value[index], trail + (index,))


def _mutate_index(index, rng):
    """Change 1 to 3 places of the index; returns what was done, for the failure message."""
    places = list(_containers(index))
    done = []
    for _ in range(rng.randint(1, 3)):
        container, key, trail = rng.choice(places)
        action = rng.random()
        if action < 0.7:
            container[key] = junk = rng.choice(JUNK)
            done.append(f"{trail} = {junk!r}")
        elif action < 0.85 and isinstance(container, list):
            container.pop(key)
            done.append(f"del {trail}")
            break  # later places may be gone
        elif isinstance(container, list):
            container.insert(key, container[key])
            done.append(f"repeat {trail}")
            break
        else:
            container.pop(key)
            done.append(f"del {trail}")
            break
    return done


def _use_like_every_consumer(run):
    """What show, explain and the inspector do with a run; any exception here is a bug."""
    text_summary(run)
    text_summary(run, only_nones=True)
    json.dumps(json_summary(run), default=str)
    from tapeviz.gui.graph import build_graph, layout, path_keys
    for tape_id in list(run.tapes)[:5]:
        layout(build_graph(run, tape_id))
    for call in run.calls[:3]:
        for result in call.results:
            for target in call.targets:
                path_keys(run, call.tape, result.source, target)


def _check_case(path, what):
    try:
        run = load(path)
    except TapeFileError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 600, f"{what}: error is not one short line: {message!r}"
        return "refused"
    try:
        _use_like_every_consumer(run)
    except Exception as error:  # noqa: BLE001 - report which damage got through
        pytest.fail(f"{what}: loaded, then {type(error).__name__}: {error}")
    return "loaded"


@pytest.mark.parametrize("version", [1, 2, 3])
def test_index_damage_is_refused_or_harmless(good_files, tmp_path, version):
    members = _members(good_files[version])
    outcomes = {"refused": 0, "loaded": 0}
    for case in range(CASES):
        rng = random.Random(f"{SEED}-index-{version}-{case}")
        others = dict(members)
        index = hostile.joined_index(others) if version > 1 else json.loads(others.pop("index.json"))
        done = _mutate_index(index, rng)
        if version > 1:
            damaged = hostile.split_index(index, others, version=version, rows_per_chunk=3)
        else:
            damaged = dict(others, **{"index.json": json.dumps(index).encode()})
        path = _write(tmp_path / "case.tapeviz", damaged)
        outcomes[_check_case(path, f"seed {SEED} version {version} case {case}: {'; '.join(done)}")] += 1
    assert outcomes["refused"] > CASES // 2  # the fuzzer reaches the checks, not only harmless places


@pytest.mark.parametrize("version", [1, 2, 3])
def test_byte_damage_is_refused_or_harmless(good_files, tmp_path, version):
    raw = open(good_files[version], "rb").read()
    for case in range(CASES):
        rng = random.Random(f"{SEED}-bytes-{version}-{case}")
        data = bytearray(raw)
        kind = rng.choice(["flip", "truncate", "zero run", "splice"])
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            data = data[:rng.randrange(len(data))]
        elif kind == "zero run":
            start = rng.randrange(len(data))
            data[start:start + rng.randint(1, 64)] = bytes(min(64, len(data) - start))[:rng.randint(1, 64)]
        else:
            start, end = sorted(rng.randrange(len(data)) for _ in range(2))
            data[start:start] = data[start:end][:256]
        path = tmp_path / "case.tapeviz"
        path.write_bytes(bytes(data))
        _check_case(path, f"seed {SEED} version {version} case {case}: {kind}")


@pytest.mark.parametrize("version", [2, 3])
def test_member_damage_with_valid_checksums(good_files, tmp_path, version):
    # Byte changes inside a member whose CRC is recomputed: zipfile's checks no longer catch them.
    members = _members(good_files[version])
    for case in range(CASES):
        rng = random.Random(f"{SEED}-member-{version}-{case}")
        name = rng.choice(sorted(members))
        data = bytearray(members[name])
        if data:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path = _write(tmp_path / "case.tapeviz", dict(members, **{name: bytes(data)}))
        _check_case(path, f"seed {SEED} version {version} member case {case}: {name}")


CHUNK_JUNK = [b"", b"[", b"{}", b"null", b"5", b'"rows"', b"[[]]", b"[null]", b"[[1, 2, 3]]", b"\xff\xfe[]",
              b"[" * 5000 + b"]" * 5000, b"[1e999]", b"[NaN]"]


def _chunk_damage(members, rng):
    """One change to the chunks of a version 3 file: a member lost, repeated, swapped, its count in the
    index changed, its rows damaged, or its whole text replaced. Returns what was done."""
    chunks = sorted(name for name in members if name.endswith(".json") and "/" in name)
    name = rng.choice(chunks)
    table, number = name.split("/")[0], int(name.split("/")[1][:-5])
    index = json.loads(members["index.json"])
    kind = rng.choice(["lose", "repeat", "swap", "recount", "rows", "replace"])
    if kind == "lose":
        del members[name]
    elif kind == "repeat":  # the chunk in the place of the next one, or one more chunk at the end
        following = f"{table}/{number + 1}.json"
        if following not in members:
            index["chunks"][table] += 1
        members[following] = members[name]
    elif kind == "swap":
        other = rng.choice(chunks)
        members[name], members[other] = members[other], members[name]
        name = f"{name} <-> {other}"
    elif kind == "recount":
        index["chunks"][table] = rng.choice([0, number, number + 2, -1, 10 ** 6, 2 ** 70, None, "1", 1.0, [1]])
        name = f"{table} count = {index['chunks'][table]!r}"
    elif kind == "rows":
        rows = json.loads(members[name])
        done = _mutate_index(rows, rng) if rows else ["(empty)"]
        members[name] = json.dumps(rows).encode()
        name = f"{name}: {'; '.join(done)}"
    else:
        members[name] = rng.choice(CHUNK_JUNK)
        name = f"{name} = {members[name][:20]!r}"
    members["index.json"] = json.dumps(index).encode()
    return f"{kind} {name}"


def test_chunk_damage_is_refused_or_harmless(good_files, tmp_path):
    members = _members(good_files[3])
    outcomes = {"refused": 0, "loaded": 0}
    for case in range(CASES):
        rng = random.Random(f"{SEED}-chunks-{case}")
        damaged = dict(members)
        done = _chunk_damage(damaged, rng)
        path = _write(tmp_path / "case.tapeviz", damaged)
        outcomes[_check_case(path, f"seed {SEED} chunk case {case}: {done}")] += 1
    assert outcomes["refused"] > CASES // 2
