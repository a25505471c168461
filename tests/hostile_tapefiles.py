"""Hostile tape files, made at any scale: the tests use small ones, benchmarks/bench_tapefile.py
full-size ones (each under 10 MB on disk) to measure the memory and time of ``tapeviz show``.

Each maker writes ``path`` and returns it. None of them needs much memory to build: large
members are written a chunk at a time.
"""
import json
import struct
import zipfile

import numpy as np

CHUNK = 1 << 20


def _header(version=2):
    return {"format": "tapeviz-run", "version": version}


def _stream_member(archive, name, chunks, compression=zipfile.ZIP_DEFLATED):
    info = zipfile.ZipInfo(name)
    info.compress_type = compression
    with archive.open(info, "w", force_zip64=False) as member:
        for chunk in chunks:
            member.write(chunk)


def _padded(prefix, total, suffix=b"", fill=b" "):
    """``prefix``, then ``fill`` up to ``total`` bytes, then ``suffix``, a chunk at a time."""
    yield prefix
    left = total - len(prefix) - len(suffix)
    block = fill * (CHUNK // len(fill))
    while left > 0:
        piece = block[:left]
        yield piece
        left -= len(piece)
    yield suffix


def declare_size(path, member, size):
    """Make the zip's central directory claim ``member`` unpacks to ``size`` bytes (whatever it holds)."""
    data = bytearray(open(path, "rb").read())
    name = member.encode()
    position = 0
    while True:
        position = data.find(b"PK\x01\x02", position)
        if position < 0:
            raise ValueError(f"{member} not in {path}")
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if bytes(data[position + 46:position + 46 + name_length]) == name:
            struct.pack_into("<I", data, position + 24, size)
            break
        position += 4
    open(path, "wb").write(data)
    return path


def compression_bomb(path, unpacked, declared=None, compression=zipfile.ZIP_DEFLATED):
    """An index.json of ``unpacked`` bytes (mostly spaces) that claims to hold ``declared`` bytes."""
    prefix = json.dumps(_header()).encode()[:-1] + b', "pad": "'
    with zipfile.ZipFile(path, "w") as archive:
        _stream_member(archive, "index.json", _padded(prefix, unpacked, b'"}'), compression)
    if declared is not None:
        declare_size(path, "index.json", declared)
    return path


def empty_objects(path, count, opener=b"{}"):
    """A version 2 index whose tensors table is ``count`` empty objects (``[{},{},...]``)."""
    tables = {name: [] for name in ("strings", "locations", "attrs", "arrays", "names", "tapes", "ops", "events",
                                    "calls")}
    prefix = json.dumps(dict(_header(), **tables)).encode()[:-1] + b', "tensors": ['
    body = (opener + b",") * (CHUNK // (len(opener) + 1))
    total = len(prefix) + count * (len(opener) + 1) + 2

    def chunks():
        yield prefix
        left = count * (len(opener) + 1) - 1
        while left > 0:
            piece = body[:left]
            yield piece
            left -= len(piece)
        yield b"]}"
    with zipfile.ZipFile(path, "w") as archive:
        _stream_member(archive, "index.json", chunks())
        archive.writestr("sources.json", "{}")
        archive.writestr("arrays.bin", b"")
    return path, total


def deep_nesting(path, depth):
    """An index nested ``depth`` lists deep: parsing it recursively would overflow the stack."""
    index = json.dumps(_header()).encode()[:-1] + b', "meta": ' + b"[" * depth + b"]" * depth + b"}"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", index)
    return path


def _small_run_index(version):
    """A minimal run that holds together: one tape, one op reading one tensor and writing another."""
    if version == 1:
        return dict(_header(1), meta={}, sources={}, names={}, events=[], calls=[],
                    tapes=[{"id": 1, "persistent": False, "watch_accessed_variables": True, "location": None,
                            "parent": None, "ops": [1], "spans": [[1, 3]], "resets": []}],
                    ops=[{"id": 1, "seq": 2, "type": "Sin", "inputs": [1], "outputs": [2], "attrs": {},
                          "rule": "plugin", "rule_source": "math", "tapes": [1], "recording_tapes": [1],
                          "paused_tapes": [], "location": None}],
                    tensors=[{"id": 1, "kind": "constant", "shape": [], "dtype": "float32", "name": None,
                              "trainable": None, "producer": None, "value": None, "summary": {},
                              "first_seen": None},
                             {"id": 2, "kind": "intermediate", "shape": [], "dtype": "float32", "name": None,
                              "trainable": None, "producer": 1, "value": None, "summary": {},
                              "first_seen": None}])
    strings = ["Sin", "plugin", "math", "constant", "intermediate", "float32"]
    return dict(_header(2), meta={}, strings=strings, locations=[], attrs=[{}], arrays=[], names=[], events=[],
                calls=[], extra_fields={},
                tapes=[[1, False, True, None, None, [1], [[1, 3]], []]],
                ops=[[1, 2, 0, [1], [2], 0, 1, 2, [1], [1], [], None]],
                tensors=[[1, 3, [], 5, None, None, None, None, [], None],
                         [2, 4, [], 5, None, None, 1, None, [], None]])


def shared_array(path, array_bytes, references, version=1):
    """One zero array of ``array_bytes`` that ``references`` tensors all name as their value."""
    index = _small_run_index(version)
    count = array_bytes // 4
    if version == 1:
        for number in range(references):
            index["tensors"].append({"id": 100 + number, "kind": "constant", "shape": [count], "dtype": "float32",
                                     "name": None, "trainable": None, "producer": None,
                                     "value": {"$array": "arrays/0.npy"}, "summary": {}, "first_seen": None})
        header = _npy_header(count)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("index.json", json.dumps(index))
            _stream_member(archive, "arrays/0.npy", _padded(header, len(header) + array_bytes, fill=b"\0"))
        return path
    index["arrays"] = [["<f4", [count], 0]]
    for number in range(references):
        index["tensors"].append([100 + number, 3, [count], 5, None, None, None, 0, [], None])
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(index))
        archive.writestr("sources.json", "{}")
        _stream_member(archive, "arrays.bin", _padded(b"", array_bytes, fill=b"\0"))
    return path


def _npy_header(count):
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (count,)})
    return buffer.getvalue()


def huge_member(path, array_bytes):
    """A valid small run whose arrays.bin is ``array_bytes`` of zeros that no array uses."""
    index = _small_run_index(2)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(index))
        archive.writestr("sources.json", "{}")
        _stream_member(archive, "arrays.bin", _padded(b"", array_bytes, fill=b"\0"))
    return path


def many_tapes_and_events(path, tapes, events_per_tape):
    """A run that holds together, with many tapes and many watch events: work that grows with
    tapes x events in a consumer would take hours on it."""
    index = _small_run_index(2)
    index["strings"] += ["watch", "variable"]
    watch = index["strings"].index("watch")
    for tape in range(2, tapes + 2):
        index["tapes"].append([tape, False, True, None, None, [], [[tape, tape]], []])
        for _ in range(events_per_tape):
            index["events"].append([tape, watch, tape, 1, None, 3])
    index["strings"].append("")
    empty = len(index["strings"]) - 1
    for event in index["events"]:
        event[5] = empty
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(index, separators=(",", ":")))
        archive.writestr("sources.json", "{}")
        archive.writestr("arrays.bin", b"")
    return path


def valid_small(path, version=2):
    index = _small_run_index(version)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(index))
        if version == 2:
            archive.writestr("sources.json", "{}")
            archive.writestr("arrays.bin", b"")
    return path


def long_chain(path, ops):
    """A run that holds together: one tape of ``ops`` ops, each reading the previous one's output,
    with the leanest rows the format allows (the most graph a file under the value limit can hold)."""
    index = _small_run_index(2)
    index["tapes"][0][5] = list(range(1, ops + 1))
    index["ops"] = [[op, op + 1, 0, [op], [op + 1], 0, 1, 2, [1], [1], [], None] for op in range(1, ops + 1)]
    index["tensors"] = [[1, 3, [], 5, None, None, None, None, [], None]] + [
        [op + 1, 4, [], 5, None, None, op, None, [], None] for op in range(1, ops + 1)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(index, separators=(",", ":")))
        archive.writestr("sources.json", "{}")
        archive.writestr("arrays.bin", b"")
    return path


# Version 3 keeps each table in chunks (NAME/0.json, NAME/1.json...); tests damage a table as a
# whole, so these turn a file's members into one index dict and back, in either layout.
TABLES = ("strings", "locations", "attrs", "arrays", "tapes", "ops", "tensors", "events", "calls", "names")


def joined_index(members):
    """The index of a version 2 or 3 file as one dict (tables whole); chunk members are taken out of ``members``."""
    index = json.loads(members.pop("index.json"))
    chunks = index.pop("chunks", None)
    if isinstance(chunks, dict):
        for name, count in chunks.items():
            index[name] = [row for number in range(count) for row in json.loads(members.pop(f"{name}/{number}.json"))]
    return index


def split_index(index, members, version=3, rows_per_chunk=None):
    """Put ``index`` (tables whole, version 3 rows) into ``members`` in the layout of ``version``."""
    from tapeviz.inspection import tapefile
    index = dict(index, version=version)
    if version == 2:  # version 2 kept backward and read_of as extra fields, and had no op scopes
        if index.pop("op_fields", None) is not None:
            index["ops"] = [row[:13] + row[14:] if isinstance(row, list) else row for row in index.get("ops", [])]
        if index.pop("event_fields", None) is not None:
            index["events"] = [row[:6] + row[7:] if isinstance(row, list) else row for row in index.get("events", [])]
        extra = dict(index.get("extra_fields", {}))
        extra["ops"] = ["backward"] + extra.get("ops", [])
        extra["tensors"] = ["read_of"] + extra.get("tensors", [])
        members["index.json"] = json.dumps(dict(index, extra_fields=extra)).encode()
        return members
    index["chunks"] = {}
    for name in TABLES:
        if name not in index:
            continue
        rows = index.pop(name)
        if not isinstance(rows, list):
            pieces = [json.dumps(rows).encode()]
        elif rows_per_chunk:
            pieces = [json.dumps(rows[n:n + rows_per_chunk]).encode() for n in range(0, len(rows), rows_per_chunk)]
        else:
            pieces = list(tapefile._encode_chunks(rows))
        for number, piece in enumerate(pieces):
            members[f"{name}/{number}.json"] = piece
        index["chunks"][name] = len(pieces)
    members["index.json"] = json.dumps(index).encode()
    return members


def chunked(path, table, chunks, per_chunk, row=b"{}"):
    """A version 3 file whose ``table`` is ``chunks`` members of ``per_chunk`` copies of ``row``
    each (other tables empty): the chunked form of ``empty_objects``, or with ``per_chunk`` 0,
    as many empty chunks as the file may have."""
    counts = {name: 0 for name in TABLES}
    counts[table] = chunks
    body = b"[" + b",".join([row] * per_chunk) + b"]"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(dict(_header(3), meta={}, extra_fields={}, chunks=counts)))
        for number in range(chunks):
            archive.writestr(f"{table}/{number}.json", body)
        archive.writestr("sources.json", "{}")
        archive.writestr("arrays.bin", b"")
    return path
