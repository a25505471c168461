"""Tape file format version 1: read (files written before version 2 still open) and written (for tests
and benchmarks only; ``tapefile.save`` writes version 3).

Version 1 is a zip of ``index.json``, one JSON object per tape, op, tensor, event and call, and one
``arrays/N.npy`` member per array, named in the index as {"$array": "arrays/N.npy"}. Reading it
obeys the same limits as versions 2 and 3 (``tapefile``): bytes counted as read, each array read once
and viewed rather than copied, no pickles, and the run validated afterwards.
"""
import io
import json
import math
import os
from dataclasses import fields, is_dataclass

import numpy as np

from . import tapefile
from .model import Event, Explanation, GradientCall, GradientResult, Location, OpInfo, Run, TapeInfo, TensorInfo
from .validate import InvalidRun, show

_one_line = tapefile._one_line


def decode_v1(archive, index, path):
    """The Run in a version 1 index; arrays are read from the archive once each, when first named."""
    cache, budget = {}, [tapefile.MAX_ARRAY_BYTES]

    def array(ref):
        if ref is None:
            return None
        if type(ref) is not dict or type(ref.get("$array")) is not str:
            raise InvalidRun(f"array reference {show(ref)} is not {{'$array': name}}")
        name = ref["$array"]
        if name in cache:  # one array referenced many times is read once
            return cache[name]
        if not (name.startswith("arrays/") and name.endswith(".npy") and name[7:-4].isdigit()) \
                or name not in names:
            raise InvalidRun(f"it refers to a missing or invalid array entry {show(name)}")
        data = tapefile._read_member(archive, name, budget[0], path, "its arrays")
        budget[0] -= len(data)
        cache[name] = value = _npy(data, name)
        return value

    names = set(archive.namelist())
    for key in ("tapes", "ops", "tensors", "events", "calls"):
        tapefile._table(index, key)
    return _decode_v1_index(index, array)


def _npy(data, name):
    """A .npy member as an array viewing ``data`` (no copy); numbers and bools only, never pickles."""
    try:
        header = io.BytesIO(bytes(data[:65536 + 12]))
        version = np.lib.format.read_magic(header)
        shape, fortran, dtype = (np.lib.format.read_array_header_1_0(header) if version == (1, 0)
                                 else np.lib.format.read_array_header_2_0(header))
    except (ValueError, SyntaxError, TypeError) as error:
        raise InvalidRun(f"{name} is not a plain numeric .npy array ({_one_line(error, 80)})") from None
    if dtype.kind not in "biufc" or dtype.fields is not None or dtype.subdtype is not None:
        raise InvalidRun(f"{name} is not a plain numeric .npy array (its dtype is {show(str(dtype))})")
    count = math.prod(shape)
    if header.tell() + count * dtype.itemsize != len(data):
        raise InvalidRun(f"{name} holds {len(data) - header.tell()} bytes of data, not the {count * dtype.itemsize} "
                         f"its header declares")
    flat = np.frombuffer(data, dtype, count, header.tell())
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _location_v1(data):
    if data is None:
        return None
    if type(data) is not list or len(data) != 3:
        raise InvalidRun(f"location {show(data)} is not [file, line, function]")
    return Location(*data)


def _v1_rows(index, name, decode):
    items = []
    for number, row in enumerate(index[name]):
        if type(row) is not dict:
            raise InvalidRun(f"{name[:-1]} {number} is not an object")
        try:
            items.append(decode(row))
        except tapefile.TapeFileError:
            raise
        except InvalidRun as error:
            raise InvalidRun(f"{name[:-1]} {number}: {error}") from None
        except KeyError as error:
            raise InvalidRun(f"{name[:-1]} {number} has no {error}") from None
        except (TypeError, ValueError, AttributeError) as error:
            raise InvalidRun(f"{name[:-1]} {number} cannot be read ({_one_line(error, 80)})") from None
    return items


def _int_keys(table, what):
    if type(table) is not dict:
        raise InvalidRun(f"{what} must be a dict, not {show(table)}")
    decoded = {}
    for key, value in table.items():
        if not (key.isascii() and key.lstrip("-").isdigit() and len(key) < 20):
            raise InvalidRun(f"{what} has key {show(key)}, not a tensor id")
        decoded[int(key)] = value
    return decoded


def _decode_v1_index(index, array):
    def explanation(data):
        if type(data) is not dict:
            raise InvalidRun(f"explanation {show(data)} is not an object")
        evidence = data.get("evidence", [])
        if type(evidence) is not list or not all(type(item) is dict for item in evidence):
            raise InvalidRun(f"evidence {show(evidence)} is not a list of objects")
        return Explanation(data["code"], data["sentence"], data["fix"],
                           [dict(item, location=_location_v1(item.get("location"))) for item in evidence])

    def result(r):
        if type(r) is not dict:
            raise InvalidRun(f"result {show(r)} is not an object")
        return GradientResult(r["source"], r["is_none"], array(r["value"]), r["summary"],
                              {k: explanation(v) for k, v in _int_keys(r["explanations"], "explanations").items()})

    def call(c):
        if type(c["results"]) is not list:
            raise InvalidRun(f"results {show(c['results'])} is not a list")
        return GradientCall(c["id"], c["seq"], c["tape"], c["kind"], c["targets"], c["sources"], c["options"],
                            [result(r) for r in c["results"]], _location_v1(c["location"]))

    def shape(value):
        if type(value) is not list:
            raise InvalidRun(f"shape {show(value)} is not a list")
        return tuple(value)

    run = Run(meta=index.get("meta") if index.get("meta") is not None else {},
              sources=index.get("sources") if index.get("sources") is not None else {},
              names=_int_keys(index.get("names") or {}, "names"))
    tables = (
        ("tapes", run.tapes, lambda t: TapeInfo(t["id"], t["persistent"], t["watch_accessed_variables"],
                                                _location_v1(t["location"]), t["parent"], t["ops"], t["spans"],
                                                t["resets"])),
        ("ops", run.ops, lambda o: OpInfo(o["id"], o["seq"], o["type"], o["inputs"], o["outputs"], o["attrs"],
                                          o["rule"], o["rule_source"], o["tapes"], o["recording_tapes"],
                                          o["paused_tapes"], _location_v1(o["location"]))),
        ("tensors", run.tensors, lambda t: TensorInfo(t["id"], t["kind"], shape(t["shape"]), t["dtype"], t["name"],
                                                      t["trainable"], t["producer"], array(t["value"]),
                                                      t["summary"], _location_v1(t["first_seen"]))))
    for name, target, decode in tables:
        items = _v1_rows(index, name, decode)
        for item in items:
            if not isinstance(item.id, (int, str)):
                raise InvalidRun(f"{name[:-1]} id {show(item.id)} is not an integer")
            target[item.id] = item
        if len(target) != len(items):
            raise InvalidRun(f"two {name} have the same id")
    run.events = _v1_rows(index, "events", lambda e: Event(e["seq"], e["kind"], e["tape"], e["tensor"],
                                                           _location_v1(e["location"]), e["detail"]))
    run.calls = _v1_rows(index, "calls", call)
    return run


def save_v1(run, path):
    """Write ``run`` in format version 1 (one ``.npy`` member per array), as tapeviz before version 2 did.

    Kept so that reading version 1 stays tested and benchmarked; ``tapefile.save`` writes version 3.
    """
    arrays = {}

    def plain(obj):
        if isinstance(obj, np.ndarray):
            name = f"arrays/{len(arrays)}.npy"
            arrays[name] = obj
            return {"$array": name}
        if isinstance(obj, Location):
            return [obj.file, obj.line, obj.function]
        if is_dataclass(obj):
            return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, dict):
            return {str(k): plain(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [plain(v) for v in obj]
        return obj.item() if isinstance(obj, np.generic) else obj

    index = {"format": tapefile.FORMAT, "version": 1, "meta": plain(run.meta),
             "tapes": [plain(t) for t in run.tapes.values()], "ops": [plain(o) for o in run.ops.values()],
             "tensors": [plain(t) for t in run.tensors.values()], "events": [plain(e) for e in run.events],
             "calls": [plain(c) for c in run.calls], "sources": dict(run.sources),
             "names": {str(k): v for k, v in run.names.items()}}
    members = [("index.json", json.dumps(index, allow_nan=True).encode("utf-8"), 6)]
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        members.append((name, buffer.getvalue(), 6))
    return tapefile._write_atomically(os.fspath(path), members)
