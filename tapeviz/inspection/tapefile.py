"""Tape files: a whole run in one zip archive, written atomically and read back without trusting it.

Format version 3 (what ``save`` writes)::

    index.json     {"format": "tapeviz-run", "version": 3, "meta", "extra_fields", "op_fields", "event_fields",
                    "chunks": {"strings": n, "locations": n, "attrs": n, "arrays": n, "tapes": n,
                               "ops": n, "tensors": n, "events": n, "calls": n, "names": n}}
    TABLE/K.json   for each table and K from 0 to its chunk count - 1: a JSON list of that table's
                   next rows, at most CHUNK_ROWS of them and, unless one row, at most CHUNK_BYTES
    arrays.bin     every array value, back to back (little-endian, C order, 16-byte aligned)
    sources.json   {file: source text}, for showing the code around a line

Tables come in chunks so that loading never holds the GIL for long: json.loads of a whole 25 MB
index (a 100,000-op run) held it for most of a second, freezing the inspector's window while its
worker thread loaded a file; a chunk parses in a few milliseconds, and other threads run between
chunks. ``load`` also reports its progress after each chunk and can be cancelled there.

Version 2 (still read) is the same tables whole inside index.json (``"version": 2`` and the tables
as keys beside ``meta``), with backward and read_of as extra fields.

The index is compact: each table is a list of rows (lists in a fixed field order, no repeated keys);
each distinct string is stored once in ``strings`` and rows hold its number; each distinct source
location once in ``locations`` as [file string, line, function string]; each distinct op-attribute
dict once in ``attrs``; each array once in ``arrays`` as [dtype, shape, byte offset into
arrays.bin], and rows hold the array's number (null for none). The rows:

    tapes    [id, persistent, watch_accessed_variables, location, parent, [op ids], [[enter, exit]], [reset seqs]]
    ops      [id, seq, type, [input ids], [output ids], attrs, rule, rule_source, [tapes],
              [recording tapes], [paused tapes], location, backward, scope]
             scope (the op's name scope, "sequential/dense", a string number) is there when
             ``op_fields`` in index.json lists it; version 3 files written before scopes were
             recorded have no ``op_fields`` and 13 fields per op, and load with every scope "".
    tensors  [id, kind, [shape], dtype, name, trainable, producer, value, summary, first_seen, read_of]
    events   [seq, kind, tape, tensor, location, detail, scope]
             scope as for ops, declared by ``event_fields`` (6 fields per event without it)
    calls    [id, seq, tape, kind, [target ids], [source ids], options, [results], location]
             a result: [source, is_none, value, summary, [[target, code, sentence, fix, [evidence]]]]
             evidence: {"what", "op", "tensor", "location"} with the location as a number
    names    [tensor id, the name the user's gradient call gave it]
    accumulators  (forward mode; optional: absent from older files)
             [id, location, [primal ids], [op ids], [tangents], [[enter, exit]]]
             a tangent: [tensor id, the tangent's own tensor id, summary, value]
    jvps     (optional) [id, seq, accumulator, [target ids], options, [results], location]
             a result: [target, is_none, summary, tangent id or null, value, reason code or ""]

A summary is [] (no value seen), [shape, dtype, size] or [shape, dtype, size, min, max, mean,
nonfinite, norm] with the dtype as a string number (files written before the L2 norm was kept
have the seven fields before it); any other summary is stored as its dict.
``extra_fields`` names model fields this table layout does not know (added later); their values
follow the fixed fields in each row, as plain JSON in which {"$array": n} and {"$location": n}
stand for an array and a location. ``meta`` and call options are plain JSON too.

Version 1 (still read): index.json with one JSON object per item and one ``arrays/N.npy`` member
per array, referenced as {"$array": "arrays/N.npy"}; read by ``tapefile_v1``.

Loading never runs code (no pickle) and trusts nothing the file declares: only stored or deflated
members are read; bytes are counted as they are decompressed; the JSON values of the index and all
its chunks together are counted before any chunk is parsed (as are their bytes, against one
limit); chunk counts are bounded (MAX_CHUNKS); each array is read once; and the whole run is
validated (types and ids, ``validate.check_run``) so that every consumer can trust it. Anything
wrong raises TapeFileError with one line naming the file and the problem.
"""
import gc
import json
import math
import os
import secrets
import stat
import zipfile
from dataclasses import fields, is_dataclass
from itertools import chain
from operator import itemgetter

import numpy as np

from .model import (AccumulatorInfo, Event, Explanation, GradientCall, GradientResult, JvpCall, JvpResult, Location,
                    OpInfo, Run, Tangent, TapeInfo, TensorInfo)
from .validate import InvalidRun, check_plain, check_run, show

FORMAT = "tapeviz-run"
VERSION = 3
MAX_FILE_BYTES = 2 * 1024 ** 3       # on disk
MAX_INDEX_BYTES = 96 * 1024 ** 2      # the index and its chunks, decompressed (a 100,000-op chain: 25 MiB)
MAX_INDEX_VALUES = 8_000_000          # their JSON values, counted before parsing (100,000 ops: 6.0M)
MAX_ARRAY_BYTES = 128 * 1024 ** 2     # all array values together, decompressed
MAX_SOURCE_BYTES = 64 * 1024 ** 2     # sources.json, decompressed
MAX_MEMBERS = 1_000_000               # zip entries (a version 1 file has one per array)
MAX_CHUNKS = 10_000                   # table chunks in a version 3 file (a 96 MiB index needs about 1,000)
# A table chunk holds at most CHUNK_ROWS rows and, unless it is one row, at most CHUNK_BYTES of JSON:
# json.loads holds the GIL for a whole member, so a chunk is sized to take a few milliseconds.
CHUNK_ROWS = 2048
CHUNK_BYTES = 256 * 1024
# The tables of the index, in the order they are written and read (strings and locations first:
# the rows of the others refer to them).
_CHUNKED = ("strings", "locations", "attrs", "arrays", "tapes", "ops", "tensors", "events", "calls", "names")
# Tables a file may lack (added after version 3 was first written; a file without them has none of them).
# Readers that do not know them skip their chunks, so older tapeviz still opens a file that has them.
_OPTIONAL = ("accumulators", "jvps")
_READ_CHUNK = 256 * 1024
_ALIGN = 16
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
# The array dtypes a tape file may hold, as numpy's dtype.str: numbers and bools, nothing else.
ARRAY_DTYPES = frozenset(["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8",
                          "<c8", "<c16"])

_TAPE_FIELDS = ("id", "persistent", "watch_accessed_variables", "location", "parent", "ops", "spans", "resets")
_OP_FIELDS_V2 = ("id", "seq", "type", "inputs", "outputs", "attrs", "rule", "rule_source", "tapes",
                 "recording_tapes", "paused_tapes", "location")
_TENSOR_FIELDS_V2 = ("id", "kind", "shape", "dtype", "name", "trainable", "producer", "value", "summary",
                     "first_seen")
# Version 3 stores backward and read_of as fixed fields: as extra fields they took every row off the
# fast path (a third of the load time).
_OP_FIELDS_UNSCOPED = _OP_FIELDS_V2 + ("backward",)
_OP_FIELDS = _OP_FIELDS_UNSCOPED + ("scope",)   # declared in the index as op_fields
_TENSOR_FIELDS = _TENSOR_FIELDS_V2 + ("read_of",)
_EVENT_FIELDS_UNSCOPED = ("seq", "kind", "tape", "tensor", "location", "detail")
_EVENT_FIELDS = _EVENT_FIELDS_UNSCOPED + ("scope",)   # declared in the index as event_fields
# The layouts a version 3 file may declare for the tables whose rows gained a scope: (field list in
# the index, the layout with the scope, the layout of the files written before it).
_SCOPED_TABLES = {"ops": ("op_fields", _OP_FIELDS, _OP_FIELDS_UNSCOPED),
                  "events": ("event_fields", _EVENT_FIELDS, _EVENT_FIELDS_UNSCOPED)}
_CALL_FIELDS = ("id", "seq", "tape", "kind", "targets", "sources", "options", "results", "location")
_RESULT_FIELDS = ("source", "is_none", "value", "summary", "explanations")
_EXPLANATION_FIELDS = ("code", "sentence", "fix", "evidence")
_TABLES = (("tapes", TapeInfo, _TAPE_FIELDS), ("ops", OpInfo, _OP_FIELDS), ("tensors", TensorInfo, _TENSOR_FIELDS),
           ("events", Event, _EVENT_FIELDS), ("calls", GradientCall, _CALL_FIELDS),
           ("results", GradientResult, _RESULT_FIELDS), ("explanations", Explanation, _EXPLANATION_FIELDS))
_FIXED_FIELDS = {2: dict((name, known) for name, _, known in _TABLES) | {"ops": _OP_FIELDS_V2,
                                                                         "tensors": _TENSOR_FIELDS_V2,
                                                                         "events": _EVENT_FIELDS_UNSCOPED},
                 3: dict((name, known) for name, _, known in _TABLES)}
_STANDARD_SUMMARY = ("shape", "dtype", "size")
_STATISTICS = ("min", "max", "mean", "nonfinite", "norm")


class TapeFileError(ValueError):
    """A tape file that cannot be read or written; the message names the file, the problem and what to do."""


class LoadCancelled(Exception):
    """Raised by ``load`` when its progress callback returned False (or raised this itself)."""


# Saving ---------------------------------------------------------------------------------------------
def save(run, path):
    """Write ``run`` to ``path`` as a version 3 tape file and return the path.

    The file is written to a temporary file beside the target and renamed over it only when
    complete, so a failure (a full disk, an interrupt) leaves the target as it was and no partial
    file behind; the error (an OSError, or TapeFileError for a run too large to read back) is raised.
    Values beyond MAX_ARRAY_BYTES in total are left out (their summaries are kept), so that every
    file written can be read back.
    """
    encoder = _Encoder()
    collecting = gc.isenabled()
    gc.disable()  # hundreds of thousands of rows and no cycles: see _read
    try:
        index = encoder.encode(run)
        tables = []
        for name in _CHUNKED + _OPTIONAL:
            chunks = list(_encode_chunks(index.pop(name)))
            tables += [(f"{name}/{number}.json", chunk, 6) for number, chunk in enumerate(chunks)]
            index.setdefault("chunks", {})[name] = len(chunks)
        head = _dumps(index)
        del index
    finally:
        if collecting:
            gc.enable()
    size = len(head) + sum(len(data) for _, data, _ in tables)
    values = _count_values(head) + sum(_count_values(data) for _, data, _ in tables)
    if size > MAX_INDEX_BYTES or values > MAX_INDEX_VALUES or len(tables) > MAX_CHUNKS:
        # Name the limit that was passed: a size under the byte limit with too many values reads as a contradiction.
        over = (f"{_size(size)}, over the {_size(MAX_INDEX_BYTES)}" if size > MAX_INDEX_BYTES
                else f"{values:,} JSON values, over the {MAX_INDEX_VALUES:,}" if values > MAX_INDEX_VALUES
                else f"{len(tables):,} table chunks, over the {MAX_CHUNKS:,}")
        raise TapeFileError(
            f"Cannot save the run to {os.fspath(path)}: its index would be {over} that tapeviz reads back "
            f"({len(run.ops)} ops, {len(run.tensors)} tensors). Record fewer steps (a shorter loop inside "
            "tapeviz.record()).")
    sources = json.dumps(dict(run.sources), ensure_ascii=False).encode("utf-8")
    if len(sources) > MAX_SOURCE_BYTES:
        sources = b"{}"
    members = [("index.json", head, 6)] + tables + [("arrays.bin", encoder.buffer, 1), ("sources.json", sources, 6)]
    return _write_atomically(os.fspath(path), members)


def _dumps(value):
    return json.dumps(value, allow_nan=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _encode_chunks(rows):
    """A table as JSON lists of at most CHUNK_ROWS rows and, unless a single row, CHUNK_BYTES bytes."""
    for start in range(0, len(rows), CHUNK_ROWS):
        yield from _split(rows[start:start + CHUNK_ROWS])


def _split(rows):
    data = _dumps(rows)
    if len(data) <= CHUNK_BYTES or len(rows) == 1:
        yield data
        return
    half = len(rows) // 2
    yield from _split(rows[:half])
    yield from _split(rows[half:])


def _write_atomically(path, members):
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.partial")
    # O_EXCL: never follow or reuse another file's name; mode 0o666 lets the umask decide, as open() does.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, "w") as archive:
                for member, data, level in members:
                    archive.writestr(member, bytes(data) if isinstance(data, bytearray) else data,
                                     compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise
    return path


class _Encoder:
    """Turns a Run into the compact index and the array buffer of format version 3."""

    def __init__(self):
        self.strings, self.string_numbers = [], {}
        self.locations, self.location_numbers = [], {}
        self.attrs, self.attr_numbers = [], {}
        self.arrays, self.buffer, self.dropped = [], bytearray(), 0
        self.extra = {}

    def text(self, value):
        if value is None:
            return None
        number = self.string_numbers.get(value)
        if number is None:
            number = self.string_numbers[value] = len(self.strings)
            self.strings.append(str(value))
        return number

    def location(self, location):
        if location is None:
            return None
        key = (location.file, location.line, location.function)
        number = self.location_numbers.get(key)
        if number is None:
            number = self.location_numbers[key] = len(self.locations)
            self.locations.append([self.text(location.file), int(location.line), self.text(location.function)])
        return number

    def attr(self, attrs):
        try:
            key = tuple(sorted(attrs.items()))
            number = self.attr_numbers.get(key)
        except TypeError:  # a list among the values: not hashable
            key = json.dumps(attrs, sort_keys=True, default=repr)
            number = self.attr_numbers.get(key)
        if number is None:
            number = self.attr_numbers[key] = len(self.attrs)
            self.attrs.append(_plain(attrs, self))
        return number

    def array(self, value):
        if value is None:
            return None
        array = np.asarray(value)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        dtype = array.dtype.str
        if dtype not in ARRAY_DTYPES:
            return None  # strings, objects, records: the summary is all a tape file keeps
        padding = -len(self.buffer) % _ALIGN
        if len(self.buffer) + padding + array.nbytes > MAX_ARRAY_BYTES:
            self.dropped += 1
            return None
        if padding:
            self.buffer.extend(bytes(padding))
        self.arrays.append([dtype, list(array.shape), len(self.buffer)])
        self.buffer.extend(array.tobytes())
        return len(self.arrays) - 1

    def summary(self, summary):
        if not summary:
            return []
        keys = tuple(summary)
        # Seven fields for a summary without the norm (one read from an older file); any other: a dict.
        if keys in (_STANDARD_SUMMARY, _STANDARD_SUMMARY + _STATISTICS[:4], _STANDARD_SUMMARY + _STATISTICS):
            row = [list(summary["shape"]), self.text(summary["dtype"]), summary["size"]]
            return row + [summary[k] for k in keys[3:]]
        return _plain(summary, self)

    def extras_of(self, name, cls, known):
        extra = [f.name for f in fields(cls) if f.name not in known]
        if extra:
            self.extra[name] = extra
        return extra

    def encode(self, run):
        extra = {name: self.extras_of(name, cls, known) for name, cls, known in _TABLES}

        def more(obj, name):
            return [_plain(getattr(obj, f), self) for f in extra[name]] if extra[name] else []

        loc, text, array = self.location, self.text, self.array
        tapes = [[t.id, t.persistent, t.watch_accessed_variables, loc(t.location), t.parent, list(t.ops),
                  [list(s) for s in t.spans], list(t.resets)] + more(t, "tapes") for t in run.tapes.values()]
        ops = [[o.id, o.seq, text(o.type), list(o.inputs), list(o.outputs), self.attr(o.attrs), text(o.rule),
                text(o.rule_source), list(o.tapes), list(o.recording_tapes), list(o.paused_tapes), loc(o.location),
                o.backward, text(o.scope)] + more(o, "ops") for o in run.ops.values()]
        tensors = [[t.id, text(t.kind), list(t.shape), text(t.dtype), text(t.name), t.trainable, t.producer,
                    array(t.value), self.summary(t.summary), loc(t.first_seen), t.read_of] + more(t, "tensors")
                   for t in run.tensors.values()]
        events = [[e.seq, text(e.kind), e.tape, e.tensor, loc(e.location), text(e.detail), text(e.scope)]
                  + more(e, "events")
                  for e in run.events]
        calls = []
        for c in run.calls:
            results = []
            for r in c.results:
                explanations = [[target, text(e.code), text(e.sentence), text(e.fix),
                                 [{k: (loc(v) if k == "location" else _plain(v, self)) for k, v in item.items()}
                                  for item in e.evidence]] + more(e, "explanations")
                                for target, e in r.explanations.items()]
                results.append([r.source, r.is_none, array(r.value), self.summary(r.summary), explanations]
                               + more(r, "results"))
            calls.append([c.id, c.seq, c.tape, text(c.kind), list(c.targets), list(c.sources),
                          _plain(c.options, self), results, loc(c.location)] + more(c, "calls"))
        accumulators, jvps = self.forward(run)
        meta = _plain(run.meta, self)
        if self.dropped:
            meta = dict(meta, values_left_out=self.dropped)
        return {"format": FORMAT, "version": VERSION, "meta": meta, "strings": self.strings,
                "locations": self.locations, "attrs": self.attrs, "arrays": self.arrays, "tapes": tapes, "ops": ops,
                "tensors": tensors, "events": events, "calls": calls,
                "names": [[int(k), v] for k, v in run.names.items()], "extra_fields": self.extra,
                "accumulators": accumulators, "jvps": jvps,
                "op_fields": list(_OP_FIELDS), "event_fields": list(_EVENT_FIELDS)}

    def forward(self, run):
        """The forward-mode tables: accumulators with their tangents, and jvp calls."""
        loc, array, summary = self.location, self.array, self.summary
        accumulators = [[a.id, loc(a.location), list(a.primals), list(a.ops),
                         [[t.tensor, t.tangent, summary(t.summary), array(t.value)] for t in a.tangents.values()],
                         [list(s) for s in a.spans]] for a in getattr(run, "accumulators", {}).values()]
        jvps = [[c.id, c.seq, c.accumulator, list(c.targets), _plain(c.options, self),
                 [[r.target, r.is_none, summary(r.summary), r.tangent, array(r.value), r.reason] for r in c.results],
                 loc(c.location)] for c in getattr(run, "jvps", [])]
        return accumulators, jvps


def _diagnosis(value):
    """A result's diagnosis (why a gradient is NaN/Inf or exactly zero), saved as a plain dict."""
    names = [f.name for f in fields(Explanation)]
    if type(value) is not dict or set(value) - set(names) or not {"code", "sentence", "fix"} <= set(value):
        raise InvalidRun(f"diagnosis {show(value)} is not an explanation")
    if not all(type(value[k]) is str for k in ("code", "sentence", "fix")) or type(value.get("evidence", [])) is not list:
        raise InvalidRun(f"diagnosis {show(value)} is not an explanation")
    return Explanation(**value)


def _plain(obj, encoder):
    """Model data as JSON: arrays become {"$array": n}, locations {"$location": n}, dataclasses dicts."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.ndarray):
        return {"$array": encoder.array(obj)}
    if isinstance(obj, Location):
        return {"$location": encoder.location(obj)}
    if is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name), encoder) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v, encoder) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, encoder) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [_plain(v, encoder) for v in sorted(obj, key=repr)]
    if isinstance(obj, np.generic):
        return obj.item()
    return repr(obj)


def _count_values(data):
    """An upper bound on the values ``json.loads(data)`` would make, counted without parsing it.

    Every value after the first in a list or dict follows a comma, and every list or dict opens
    with a bracket; each value costs at most about 70 bytes of memory once parsed.
    """
    return data.count(b",") + data.count(b"[") + data.count(b"{") + 1


# Loading --------------------------------------------------------------------------------------------
def load(path, progress=None):
    """Read a tape file into a validated Run, or raise TapeFileError saying in one line why it cannot be read.

    ``progress``, if given, is called as ``progress(fraction, step)`` (fraction from 0 to 1, step one
    of "reading", "decoding", "checking") every few milliseconds of work; if it returns False (or
    raises LoadCancelled) the load stops and LoadCancelled is raised. The big tables of a version 3
    file are parsed a chunk at a time, so another thread (a window's) never waits long for the GIL.
    """
    path = os.fspath(path)
    report = _Progress(progress, path)
    try:
        status = os.stat(path)
    except OSError as error:
        raise TapeFileError(f"Cannot open tape file {path}: {error.strerror or error}.") from None
    if not stat.S_ISREG(status.st_mode):
        kind = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file (a pipe, device or socket)"
        raise TapeFileError(f"Cannot open tape file {path}: it is {kind}. Give the path of a .tapeviz file.")
    if status.st_size > MAX_FILE_BYTES:
        raise TapeFileError(f"{path} is {status.st_size / 1024 ** 3:.1f} GiB, over the {MAX_FILE_BYTES // 1024 ** 3} "
                            "GiB limit for tape files; it is not a tape file tapeviz wrote, or it is damaged.")
    try:
        # O_NONBLOCK: a file swapped for a pipe after the check above must not make open() wait.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise TapeFileError(f"Cannot open tape file {path}: it is not a regular file.")
            members = _count_members(handle)
            if members > MAX_MEMBERS:
                raise TapeFileError(f"{path} has {members} zip entries, over the {MAX_MEMBERS} limit; it is not a "
                                    "tape file tapeviz wrote.")
            with zipfile.ZipFile(handle) as archive:
                return _read(archive, path, report)
    except (TapeFileError, LoadCancelled):
        raise
    except _CallbackFailed:
        raise report.error from None  # the caller's own bug, not a damaged file
    except InvalidRun as error:
        raise TapeFileError(f"{path} is damaged: {error}. Record the run again.") from None
    except (zipfile.BadZipFile, EOFError) as error:
        raise TapeFileError(f"{path} is not a readable tape file: it is truncated or not a zip archive "
                            f"({_one_line(error)}). Record the run again.") from None
    except MemoryError:
        raise TapeFileError(f"{path} is damaged: it needs more memory than this machine has.") from None
    except RecursionError:
        raise TapeFileError(f"{path} is damaged: its index is nested too deeply.") from None
    except OSError as error:
        raise TapeFileError(f"Cannot read tape file {path}: {error.strerror or error}.") from None
    except Exception as error:  # noqa: BLE001 - any other decoding failure means a damaged file
        raise TapeFileError(f"{path} is damaged: {type(error).__name__}: {_one_line(error)}. "
                            "Record the run again.") from None


def _size(count):
    for unit, scale in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _one_line(error, limit=200):
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _count_members(handle):
    """The entry count the zip's end record declares, read before zipfile builds an object per entry."""
    try:
        end = zipfile._EndRecData(handle)  # noqa: SLF001 - the stdlib's own reader of that record
    except (OSError, AttributeError, ValueError):
        return 0
    handle.seek(0)
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else 0  # noqa: SLF001


def _read_member(archive, name, limit, path, what):
    """A member's bytes, decompressed while counting: never more than ``limit``, whatever the file declares."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise TapeFileError(f"{path} is a zip archive but not a complete tape file: it has no {name}.") from None
    if info.compress_type not in _COMPRESSIONS:
        raise TapeFileError(f"{path}: {name} is compressed with zip method {info.compress_type}; tapeviz writes "
                            "only deflate, so this is not a tape file tapeviz wrote.")
    if info.flag_bits & 0x1:
        raise TapeFileError(f"{path}: {name} is encrypted; tapeviz never encrypts tape files.")
    if info.file_size > limit:
        raise TapeFileError(f"{path}: {what} would unpack to {_size(info.file_size)}, over the {_size(limit)} "
                            "limit; it is not a tape file tapeviz wrote.")
    # zipfile stops at the declared size and checks the CRC at the end; reading into a buffer of
    # that size, a chunk at a time, keeps the memory used to what the data really holds.
    buffer = bytearray(info.file_size)
    view = memoryview(buffer)
    filled = 0
    with archive.open(info) as member:
        while filled < len(buffer):
            count = member.readinto(view[filled:filled + _READ_CHUNK])
            if not count:
                raise TapeFileError(f"{path}: {name} is shorter than its entry says; the file is truncated.")
            filled += count
        member.read(1)  # reaches the end, where zipfile checks the CRC
    return buffer


class _Progress:
    """Reports ``load``'s progress to its callback and stops the load when the callback says so."""

    def __init__(self, callback, path):
        self.callback, self.path = callback, path

    def __call__(self, fraction, step):
        if self.callback is None:
            return
        try:
            answer = self.callback(min(max(fraction, 0.0), 1.0), step)
        except LoadCancelled:
            raise
        except Exception as error:  # noqa: BLE001 - raised again by load, as it is
            self.error = error
            raise _CallbackFailed from error
        if answer is False:
            raise LoadCancelled(f"loading {self.path} was cancelled")


class _CallbackFailed(Exception):
    """The progress callback raised: load raises its exception, not a "damaged file" error."""


# Where each step of a load ends, as a fraction of the whole (parsing and decoding dominate).
_READ_END, _DECODE_END = 0.1, 0.85


def _read_index(archive, path):
    data = _read_member(archive, "index.json", MAX_INDEX_BYTES, path, "its index")
    values = _count_values(data)
    if values > MAX_INDEX_VALUES:
        raise TapeFileError(f"{path}: its index holds up to {values} values, over the {MAX_INDEX_VALUES} limit; "
                            "it is not a tape file tapeviz wrote.")
    index = _parse(data, path, "its index")
    if type(index) is not dict or index.get("format") != FORMAT:
        raise TapeFileError(f"{path} is not a tapeviz tape file (its index names no '{FORMAT}' format).")
    version = index.get("version")
    if type(version) is not int or version < 1:
        raise TapeFileError(f"{path} has no valid format version (found {show(version)}).")
    if version > VERSION:
        raise TapeFileError(f"{path} was written by a newer tapeviz (tape file format {version}); this tapeviz "
                            f"reads format {VERSION} and older. Upgrade tapeviz to open it.")
    return index, version, len(data), values


def _parse(data, path, what):
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise TapeFileError(f"{path} is damaged: {what} is not UTF-8 text. Record the run again.") from None
    except ValueError as error:
        raise TapeFileError(f"{path} is damaged: {what} is not valid JSON ({_one_line(error)}). "
                            "Record the run again.") from None


def _read(archive, path, report):
    # The index makes hundreds of thousands of lists and objects and no cycles: the cyclic garbage
    # collector, run again and again as they are made, would take as long as the parsing itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_run(archive, path, report)
    finally:
        if collecting:
            gc.enable()


def _read_run(archive, path, report):
    report(0.0, "reading")
    index, version, size, values = _read_index(archive, path)
    if version == 1:
        from .tapefile_v1 import decode_v1
        run = decode_v1(archive, index, path)
        report(_DECODE_END, "checking")
        check_run(run)
    else:
        tables = _Tables(archive, index, version, path, report, size, values)
        run = _decode_tables(archive, index, tables, path, version)
        check_run(run, from_tables=True, progress=lambda done: report(_DECODE_END + (1 - _DECODE_END) * done,
                                                                       "checking"))
    report(1.0, "checking")
    return run


# Versions 2 and 3 ---------------------------------------------------------------------------------
class _Tables:
    """The index's tables, given a chunk of rows at a time.

    Version 3 keeps each table in members ``NAME/0.json``, ``NAME/1.json``... (as many as
    ``index["chunks"][NAME]`` says), each a JSON list of rows. All of them are read and their bytes
    and JSON values counted against the index limits before any is parsed; then each is parsed only
    when its rows are decoded, so no single json.loads holds the GIL for more than a few
    milliseconds. Version 2 has each table whole in index.json: one chunk per table.
    """

    def __init__(self, archive, index, version, path, report, size, values):
        self.index, self.version, self.path, self.report = index, version, path, report
        self.raw = {}
        self.parsed = 0
        self.optional = []   # the optional tables (_OPTIONAL) the file has
        if version == 2:
            self.total = 0
            return
        chunks = index.get("chunks")
        if type(chunks) is not dict:
            raise InvalidRun(f"the index has no chunks table (found {show(chunks)})")
        missing = [name for name in _CHUNKED if name not in chunks]
        self.optional = [name for name in _OPTIONAL if name in chunks]
        if missing:
            raise InvalidRun(f"the index has no {missing[0]} table (no chunk count for it)")
        if not all(type(count) is int and 0 <= count <= MAX_CHUNKS for count in chunks.values()) \
                or sum(chunks.values()) > MAX_CHUNKS:
            raise InvalidRun(f"the index's chunk counts must be numbers, at most {MAX_CHUNKS} in all; found "
                             f"{show(chunks)}")
        infos = []
        for name in _CHUNKED + tuple(self.optional):
            for number in range(chunks[name]):
                member = f"{name}/{number}.json"
                try:
                    infos.append((name, member, archive.getinfo(member)))
                except KeyError:
                    raise TapeFileError(f"{path} is a zip archive but not a complete tape file: it has no "
                                        f"{member}.") from None
        declared = size + sum(info.file_size for _, _, info in infos)
        if declared > MAX_INDEX_BYTES:
            raise TapeFileError(f"{path}: its index would unpack to {_size(declared)}, over the "
                                f"{_size(MAX_INDEX_BYTES)} limit; it is not a tape file tapeviz wrote.")
        self.raw = {name: [] for name in _CHUNKED + tuple(self.optional)}
        read = 0
        for name, member, info in infos:
            data = _read_member(archive, member, info.file_size, path, f"its {name} table")
            values += _count_values(data)
            if values > MAX_INDEX_VALUES:
                raise TapeFileError(f"{path}: its index holds more than {MAX_INDEX_VALUES} values, over the limit; "
                                    "it is not a tape file tapeviz wrote.")
            self.raw[name].append(data)
            read += len(data)
            report(_READ_END * read / max(declared, 1), "reading")
        self.total = read

    def chunks(self, name):
        """Each chunk of the table ``name`` as (number of its first row, list of rows)."""
        if self.version == 2:
            rows = _table(self.index, name)
            self.report(_READ_END, "decoding")
            yield 0, rows
            return
        first = 0
        pieces = self.raw.pop(name)
        for number in range(len(pieces)):
            data, pieces[number] = pieces[number], None  # freed once parsed
            rows = _parse(data, self.path, f"its {name} table (chunk {number})")
            if type(rows) is not list:
                raise InvalidRun(f"{name} chunk {number} is not a list of rows (found {show(rows)})")
            yield first, rows
            first += len(rows)
            self.parsed += len(data)
            self.report(_READ_END + (_DECODE_END - _READ_END) * self.parsed / max(self.total, 1), "decoding")

    def whole(self, name):
        """The table ``name`` as one list of rows (for the small tables other rows refer to)."""
        rows = []
        for _, chunk in self.chunks(name):
            rows += chunk
        return rows


def _table(index, name):
    rows = index.get(name)
    if type(rows) is not list:
        raise InvalidRun(f"the index has no {name} table (found {show(rows)})")
    return rows


def _arrays(table, buffer, first=0):
    """Each array of the table, made once as a view of the buffer (no copy)."""
    if set(map(type, table)) - {list} or set(map(len, table)) - {3}:
        entry = next(e for e in table if type(e) is not list or len(e) != 3)
        raise InvalidRun(f"array entry {show(entry)} is not [dtype, shape, offset]")
    dtypes, shapes, offsets = zip(*table) if table else ((), (), ())
    if not set(dtypes) <= ARRAY_DTYPES:
        raise InvalidRun(f"an array has dtype {show(next(d for d in dtypes if d not in ARRAY_DTYPES))}; "
                         "tape files hold only numbers and bools")
    if set(map(type, shapes)) - {list} or set(map(type, offsets)) - {int}:
        raise InvalidRun("an array's shape is not a list of sizes, or its offset not a byte position")
    sizes = list(chain.from_iterable(shapes))
    if set(map(type, sizes)) - {int} or (sizes and min(sizes) < 0) or (offsets and min(offsets) < 0):
        raise InvalidRun("an array's shape is not a list of sizes, or its offset not a byte position")
    dtype_of = {name: np.dtype(name) for name in set(dtypes)}
    if max(map(len, shapes), default=0) > 32:
        raise InvalidRun("an array has more than 32 dimensions")
    itemsizes = [dtype_of[name].itemsize for name in dtypes]
    ends = [offset + math.prod(shape) * size for offset, shape, size in zip(offsets, shapes, itemsizes)]
    if ends and max(ends) > len(buffer):
        number = next(n for n, end in enumerate(ends) if end > len(buffer))
        raise InvalidRun(f"array {first + number} ({dtypes[number]}{shapes[number]}) reaches past the end of "
                         "arrays.bin")
    ndarray = np.ndarray
    return [ndarray(shape, dtype_of[name], buffer, offset) for name, shape, offset in table]


def _decode_tables(archive, index, tables, path, version):
    buffer = _read_member(archive, "arrays.bin", MAX_ARRAY_BYTES, path, "its arrays")
    sources_data = _read_member(archive, "sources.json", MAX_SOURCE_BYTES, path, "its source texts")
    if _count_values(sources_data) > MAX_INDEX_VALUES:
        raise InvalidRun("sources.json holds too many values")
    sources = _parse(sources_data, path, "sources.json")
    del sources_data
    strings = tables.whole("strings")
    if not all(type(s) is str for s in strings):
        raise InvalidRun("the string table holds something that is not a string")
    arrays = []
    for first, chunk in tables.chunks("arrays"):
        arrays += _arrays(chunk, buffer, first)
    locations = []
    for number, entry in enumerate(tables.whole("locations")):
        try:
            file, line, function = entry
            if type(line) is not int:
                raise TypeError
            locations.append(Location(strings[file], line, strings[function]))
        except (TypeError, ValueError, IndexError):
            raise InvalidRun(f"location {number} is not [file, line, function]: {show(entry)}") from None
    attrs = tables.whole("attrs")
    extra = index.get("extra_fields", {})
    if type(extra) is not dict:
        raise InvalidRun(f"extra_fields must be a dict, not {show(extra)}")
    decoder = _Decoder(strings, locations, arrays, attrs, extra, version, _scoped_tables(index, version))
    meta = index.get("meta")
    check_plain(meta, "meta", "meta")
    names = tables.whole("names")
    run = Run(meta=decoder.resolve(meta), sources=sources)
    try:
        run.names = {k: v for k, v in names}
    except (TypeError, ValueError):
        raise InvalidRun("names must be a list of [tensor id, name] pairs") from None
    for name, target in (("tapes", run.tapes), ("ops", run.ops), ("tensors", run.tensors)):
        count = 0
        for first, rows in tables.chunks(name):
            for item in decoder.rows(name, rows, first):
                target[item.id] = item
            count += len(rows)
        if len(target) != count:
            raise InvalidRun(f"the {name} table gives the same id to two {name}")
    for name in ("events", "calls"):
        items = []
        for first, rows in tables.chunks(name):
            items += decoder.rows(name, rows, first)
        setattr(run, name, items)
    if version >= 3:
        run.accumulators, run.jvps = _decode_forward(tables, decoder)
    return run


def _decode_forward(tables, decoder):
    """The forward-mode tables of a version 3 file ({} and [] when the file has none)."""
    accumulators, jvps = {}, []
    for name in _OPTIONAL:
        if name not in tables.optional:
            continue
        for first, rows in tables.chunks(name):
            for number, row in enumerate(rows):
                try:
                    item = (decoder.accumulator if name == "accumulators" else decoder.jvp)(row)
                except InvalidRun as error:
                    raise InvalidRun(f"{name[:-1]} row {first + number}: {error}") from None
                except (TypeError, ValueError, IndexError, KeyError, AttributeError) as error:
                    raise InvalidRun(f"{name[:-1]} row {first + number} cannot be read ({type(error).__name__}: "
                                     f"{_one_line(error, 80)})") from None
                if name == "accumulators":
                    if item.id in accumulators:
                        raise InvalidRun(f"two accumulators have id {show(item.id)}")
                    accumulators[item.id] = item
                else:
                    jvps.append(item)
    return accumulators, jvps


def _scoped_tables(index, version):
    """The tables whose rows end with a scope: those whose fields the index declares with one."""
    scoped = set()
    for table, (key, with_scope, without) in _SCOPED_TABLES.items():
        declared = index.get(key)
        if version < 3 or declared is None or declared == list(without):
            continue
        if declared != list(with_scope):
            raise InvalidRun(f"{key} {show(declared)} is not a layout of {table} this tapeviz reads")
        scoped.add(table)
    return scoped


class _Decoder:
    """Rows of a version 2 or 3 index back into model objects. Types are checked afterwards, by check_run."""

    def __init__(self, strings, locations, arrays, attrs, extra, version=VERSION, scoped=frozenset(_SCOPED_TABLES)):
        self.strings, self.locations, self.arrays, self.attrs = strings, locations, arrays, attrs
        self.scoped = scoped   # the tables whose rows end with a scope
        self.extra = {name: list(extra.get(name, [])) for name, _, _ in _TABLES}
        for name, cls, _ in _TABLES:
            if not all(type(f) is str for f in self.extra[name]):
                raise InvalidRun(f"extra_fields for {name} must be field names")
        self.fields = {name: {f.name for f in fields(cls)} for name, cls, _ in _TABLES}
        known = dict(_FIXED_FIELDS[version])
        if version >= 3:
            for table, (_, with_scope, without) in _SCOPED_TABLES.items():
                known[table] = with_scope if table in scoped else without
        self.version = version
        self.width = {name: len(known[name]) + len(self.extra[name]) for name, _, _ in _TABLES}

    def rows(self, name, rows, first=0):
        """A table's rows as model objects: all at once when every row is a list of the right width
        and the table has no extra fields (the common case, several times faster); else row by
        row, which names the first row that is wrong (``first`` is the number of the first row)."""
        if not self.extra[name] and name in ("ops", "tensors", "events") and not set(map(type, rows)) - {list} \
                and not set(map(len, rows)) - {self.width[name]}:
            try:
                return getattr(self, "all_" + name)(rows)
            except (TypeError, ValueError, IndexError, KeyError, AttributeError, InvalidRun):
                pass  # the row by row pass below says which row and what
        decode = getattr(self, name[:-1])
        return [self.row(name, first + number, row, decode) for number, row in enumerate(rows)]

    def all_ops(self, rows):
        strings, locations, attrs = self.strings, self.locations, self.attrs
        if set(map(type, map(itemgetter(5), rows))) - {int}:
            raise InvalidRun("an op's attrs is not a number")
        if self.version == 2:
            rows = (row + [False, None] for row in rows)
        elif "ops" not in self.scoped:
            rows = (row + [None] for row in rows)
        return [OpInfo(i, seq, strings[kind], inputs, outputs, dict(attrs[a]), strings[rule], strings[source], tapes,
                       recording, paused, None if location is None else locations[location], backward,
                       "" if scope is None else strings[scope])
                for i, seq, kind, inputs, outputs, a, rule, source, tapes, recording, paused, location, backward, scope
                in rows]

    def all_tensors(self, rows):
        strings, locations, arrays, summary = self.strings, self.locations, self.arrays, self.summary
        if set(map(type, map(itemgetter(2), rows))) - {list}:
            raise InvalidRun("a tensor's shape is not a list")
        if self.version == 2:
            rows = (row + [None] for row in rows)
        return [TensorInfo(i, strings[kind], tuple(shape), strings[dtype], None if name is None else strings[name],
                           trainable, producer, None if value is None else arrays[value], summary(stats),
                           None if first is None else locations[first], read_of)
                for i, kind, shape, dtype, name, trainable, producer, value, stats, first, read_of in rows]

    def all_events(self, rows):
        strings, locations = self.strings, self.locations
        if "events" not in self.scoped:
            rows = (row + [None] for row in rows)
        return [Event(seq, strings[kind], tape, tensor, None if location is None else locations[location],
                      strings[detail], "" if scope is None else strings[scope])
                for seq, kind, tape, tensor, location, detail, scope in rows]

    def row(self, name, number, row, decode):
        if type(row) is not list or len(row) != self.width[name]:
            raise InvalidRun(f"{name[:-1]} row {number} has {len(row) if type(row) is list else 'no'} fields, "
                             f"not {self.width[name]}")
        try:
            item = decode(row)
        except InvalidRun as error:
            raise InvalidRun(f"{name[:-1]} row {number}: {error}") from None
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as error:
            raise InvalidRun(f"{name[:-1]} row {number} cannot be read ({type(error).__name__}: "
                             f"{_one_line(error, 80)})") from None
        self.set_extra(name, item, row)
        return item

    def set_extra(self, name, item, row):
        names = self.extra[name]
        if not names:
            return
        known = self.fields[name]
        for field_name, value in zip(names, row[len(row) - len(names):]):
            if field_name in known:  # fields this tapeviz does not have are dropped
                check_plain(value, name, field_name)
                value = self.resolve(value)
                if name == "results" and field_name == "diagnosis" and value is not None:
                    value = _diagnosis(value)
                setattr(item, field_name, value)

    def resolve(self, value):
        """Plain JSON with {"$array": n} and {"$location": n} turned back into arrays and locations."""
        if type(value) is dict:
            if len(value) == 1 and "$array" in value:
                return None if value["$array"] is None else self.arrays[value["$array"]]
            if len(value) == 1 and "$location" in value:
                return self.location(value["$location"])
            return {k: self.resolve(v) for k, v in value.items()}
        if type(value) is list:
            return [self.resolve(v) for v in value]
        return value

    def text(self, number):
        return None if number is None else self.strings[number]

    def location(self, number):
        return None if number is None else self.locations[number]

    def array(self, number):
        return None if number is None else self.arrays[number]

    def summary(self, row):
        if type(row) is dict:
            return self.resolve(row)
        if not row:
            return {}
        if len(row) in (7, 8):   # seven: written before the norm was kept
            shape, dtype, size, low, high, mean, nonfinite = row[:7]
            found = {"shape": shape, "dtype": self.strings[dtype], "size": size, "min": low, "max": high,
                     "mean": mean, "nonfinite": nonfinite}
            if len(row) == 8:
                found["norm"] = row[7]
            return found
        if len(row) != 3:
            raise InvalidRun(f"summary {show(row)} has {len(row)} fields, not 3, 7 or 8")
        return {"shape": row[0], "dtype": self.strings[row[1]], "size": row[2]}

    def tape(self, row):
        tape_id, persistent, wav, location, parent, ops, spans, resets = row[:8]
        return TapeInfo(tape_id, persistent, wav, self.location(location), parent, ops, spans, resets)

    def op(self, row):
        op_id, seq, kind, inputs, outputs, attrs, rule, source, tapes, recording, paused, location = row[:12]
        if type(attrs) is not int:
            raise InvalidRun(f"attrs must be a number, not {show(attrs)}")
        return OpInfo(op_id, seq, self.strings[kind], inputs, outputs, dict(self.attrs[attrs]), self.strings[rule],
                      self.strings[source], tapes, recording, paused, self.location(location),
                      row[12] if self.version >= 3 else False, (self.text(row[13]) or "") if "ops" in self.scoped else "")

    def tensor(self, row):
        tensor_id, kind, shape, dtype, name, trainable, producer, value, summary, first_seen = row[:10]
        if type(shape) is not list:
            raise InvalidRun(f"shape must be a list of sizes, not {show(shape)}")
        return TensorInfo(tensor_id, self.strings[kind], tuple(shape), self.strings[dtype], self.text(name),
                          trainable, producer, self.array(value), self.summary(summary), self.location(first_seen),
                          row[10] if self.version >= 3 else None)

    def event(self, row):
        seq, kind, tape, tensor, location, detail = row[:6]
        return Event(seq, self.strings[kind], tape, tensor, self.location(location), self.strings[detail],
                     (self.text(row[6]) or "") if "events" in self.scoped else "")

    def call(self, row):
        call_id, seq, tape, kind, targets, sources, options, results, location = row[:9]
        if type(results) is not list:
            raise InvalidRun(f"results must be a list, not {show(results)}")
        check_plain(options, "options", "options")
        return GradientCall(call_id, seq, tape, self.strings[kind], targets, sources, self.resolve(options),
                            [self.row("results", n, r, self.result) for n, r in enumerate(results)],
                            self.location(location))

    def result(self, row):
        source, is_none, value, summary, explanations = row[:5]
        if type(explanations) is not list:
            raise InvalidRun(f"explanations must be a list, not {show(explanations)}")
        decoded = {}
        for number, entry in enumerate(explanations):
            if type(entry) is not list or not entry:
                raise InvalidRun(f"explanation {number} is not a row")
            decoded[entry[0]] = self.row("explanations", number, entry[1:], self.explanation)
        if len(decoded) != len(explanations):
            raise InvalidRun("two explanations for the same target")
        return GradientResult(source, is_none, self.array(value), self.summary(summary), decoded)

    def accumulator(self, row):
        if type(row) is not list or len(row) != 6:
            raise InvalidRun(f"is not [id, location, primals, ops, tangents, spans]: {show(row)}")
        accumulator_id, location, primals, ops, tangents, spans = row
        if type(tangents) is not list:
            raise InvalidRun(f"tangents must be a list, not {show(tangents)}")
        found = {}
        for entry in tangents:
            if type(entry) is not list or len(entry) != 4:
                raise InvalidRun(f"tangent {show(entry)} is not [tensor, tangent, summary, value]")
            tensor, tangent, summary, value = entry
            found[tensor] = Tangent(tensor, tangent, self.summary(summary), self.array(value))
        if len(found) != len(tangents):
            raise InvalidRun("two tangents for the same tensor")
        return AccumulatorInfo(accumulator_id, self.location(location), primals, ops, found, spans)

    def jvp(self, row):
        if type(row) is not list or len(row) != 7:
            raise InvalidRun(f"is not [id, seq, accumulator, targets, options, results, location]: {show(row)}")
        call_id, seq, accumulator, targets, options, results, location = row
        if type(results) is not list:
            raise InvalidRun(f"results must be a list, not {show(results)}")
        check_plain(options, "options", "options")
        decoded = []
        for entry in results:
            if type(entry) is not list or len(entry) != 6:
                raise InvalidRun(f"result {show(entry)} is not [target, is_none, summary, tangent, value, reason]")
            target, is_none, summary, tangent, value, reason = entry
            decoded.append(JvpResult(target, is_none, self.summary(summary), tangent, self.array(value), reason))
        return JvpCall(call_id, seq, accumulator, targets, self.resolve(options), decoded, self.location(location))

    def explanation(self, row):
        code, sentence, fix, evidence = row[:4]
        if type(evidence) is not list:
            raise InvalidRun(f"evidence must be a list, not {show(evidence)}")
        items = []
        for item in evidence:
            if type(item) is not dict:
                raise InvalidRun(f"evidence {show(item)} is not a dict")
            check_plain(item, "evidence", "evidence")
            items.append({k: (self.location(v) if k == "location" else self.resolve(v)) for k, v in item.items()})
        return Explanation(self.strings[code], self.strings[sentence], self.strings[fix], items)
