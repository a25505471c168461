"""Tape files: a whole run in one zip of a JSON index and ``.npy`` arrays (format version 1).

Layout::

    index.json        {"format": "tapeviz-run", "version": 1, "meta", "tapes", "ops", "tensors",
                       "events", "calls", "sources"}; an array value is {"$array": "arrays/N.npy"}
    arrays/N.npy      numpy arrays, saved and loaded with allow_pickle=False

Loading never runs code (no pickle) and refuses, with a TapeFileError that says what is wrong,
files that are truncated, corrupt, too large, or written by a newer tapeviz.
"""
import io
import json
import os
import re
import zipfile
from dataclasses import fields, is_dataclass

import numpy as np

from .model import (Event, Explanation, GradientCall, GradientResult, Location, OpInfo, Run, TapeInfo,
                    TensorInfo)

FORMAT = "tapeviz-run"
VERSION = 1
MAX_FILE_BYTES = 2 * 1024 ** 3
MAX_UNPACKED_BYTES = 4 * 1024 ** 3
MAX_INDEX_BYTES = 256 * 1024 ** 2
_ARRAY_NAME = re.compile(r"^arrays/\d+\.npy$")


class TapeFileError(ValueError):
    """A tape file that cannot be read; the message names the file, the problem and what to do."""


# Saving ---------------------------------------------------------------------------------------------
def save(run, path):
    """Write ``run`` to ``path`` (written to a temporary name first, so a crash leaves no half file)."""
    arrays = {}
    index = {
        "format": FORMAT, "version": VERSION, "meta": _plain(run.meta, arrays),
        "tapes": [_plain(t, arrays) for t in run.tapes.values()],
        "ops": [_plain(o, arrays) for o in run.ops.values()],
        "tensors": [_plain(t, arrays) for t in run.tensors.values()],
        "events": [_plain(e, arrays) for e in run.events],
        "calls": [_plain(c, arrays) for c in run.calls],
        "sources": dict(run.sources),
        "names": {str(k): v for k, v in run.names.items()},
    }
    path = os.fspath(path)
    partial = path + ".partial"
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.json", json.dumps(index, allow_nan=True))
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(name, buffer.getvalue())
    os.replace(partial, path)
    return path


def _plain(obj, arrays):
    if isinstance(obj, np.ndarray):
        name = f"arrays/{len(arrays)}.npy"
        arrays[name] = obj
        return {"$array": name}
    if isinstance(obj, Location):
        return [obj.file, obj.line, obj.function]
    if is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name), arrays) for f in fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# Loading --------------------------------------------------------------------------------------------
def load(path):
    """Read a tape file into a Run, or raise TapeFileError saying why it cannot be read."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
    except OSError as error:
        raise TapeFileError(f"Cannot open tape file {path}: {error.strerror or error}.") from None
    if size > MAX_FILE_BYTES:
        raise TapeFileError(f"{path} is {size / 1024 ** 3:.1f} GiB, over the {MAX_FILE_BYTES // 1024 ** 3} GiB "
                            "limit for tape files; it is not a tape file tapeviz wrote, or it is damaged.")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read(archive, path)
    except TapeFileError:
        raise
    except (zipfile.BadZipFile, EOFError) as error:
        raise TapeFileError(f"{path} is not a readable tape file: it is truncated or not a zip archive "
                            f"({error}). Record the run again.") from None
    except Exception as error:  # noqa: BLE001 - any decoding failure means a damaged file
        raise TapeFileError(f"{path} is damaged: {type(error).__name__}: {error}. Record the run again.") from None


def _read(archive, path):
    infos = {info.filename: info for info in archive.infolist()}
    if "index.json" not in infos:
        raise TapeFileError(f"{path} is a zip archive but not a tape file: it has no index.json.")
    unpacked = sum(info.file_size for info in infos.values())
    if unpacked > MAX_UNPACKED_BYTES or infos["index.json"].file_size > MAX_INDEX_BYTES:
        raise TapeFileError(f"{path} would unpack to {unpacked / 1024 ** 3:.1f} GiB, over the limit; it is not a "
                            "tape file tapeviz wrote.")
    index = json.loads(archive.read("index.json").decode("utf-8"))
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise TapeFileError(f"{path} is not a tapeviz tape file (its index names no '{FORMAT}' format).")
    version = index.get("version")
    if not isinstance(version, int):
        raise TapeFileError(f"{path} has no valid format version.")
    if version > VERSION:
        raise TapeFileError(f"{path} was written by a newer tapeviz (tape file format {version}); this tapeviz "
                            f"reads format {VERSION} and older. Upgrade tapeviz to open it.")

    def array(ref):
        if isinstance(ref, dict) and "$array" in ref:
            name = ref["$array"]
            if not isinstance(name, str) or not _ARRAY_NAME.match(name) or name not in infos:
                raise TapeFileError(f"{path} refers to a missing or invalid array entry {name!r}.")
            return np.load(io.BytesIO(archive.read(name)), allow_pickle=False)
        return None

    return _decode(index, array)


def _location(data):
    if data is None:
        return None
    file, line, function = data
    return Location(str(file), int(line), str(function))


def _explanation(data):
    evidence = [dict(item, location=_location(item.get("location"))) for item in data.get("evidence", [])]
    return Explanation(data["code"], data["sentence"], data["fix"], evidence)


def _decode(index, array):
    run = Run(meta=dict(index.get("meta") or {}), sources=dict(index.get("sources") or {}),
              names={int(k): str(v) for k, v in (index.get("names") or {}).items()})
    for t in index["tapes"]:
        run.tapes[int(t["id"])] = TapeInfo(int(t["id"]), bool(t["persistent"]), bool(t["watch_accessed_variables"]),
                                           _location(t["location"]), t["parent"], list(t["ops"]),
                                           [list(s) for s in t["spans"]], list(t["resets"]))
    for o in index["ops"]:
        run.ops[int(o["id"])] = OpInfo(int(o["id"]), int(o["seq"]), str(o["type"]), list(o["inputs"]),
                                       list(o["outputs"]), dict(o["attrs"]), str(o["rule"]), str(o["rule_source"]),
                                       list(o["tapes"]), list(o["recording_tapes"]), list(o["paused_tapes"]),
                                       _location(o["location"]))
    for t in index["tensors"]:
        run.tensors[int(t["id"])] = TensorInfo(int(t["id"]), str(t["kind"]), tuple(t["shape"]), str(t["dtype"]),
                                               t["name"], t["trainable"], t["producer"], array(t["value"]),
                                               dict(t["summary"]), _location(t["first_seen"]))
    run.events = [Event(int(e["seq"]), str(e["kind"]), e["tape"], e["tensor"], _location(e["location"]),
                        str(e["detail"])) for e in index["events"]]
    for c in index["calls"]:
        results = [GradientResult(int(r["source"]), bool(r["is_none"]), array(r["value"]), dict(r["summary"]),
                                  {int(k): _explanation(v) for k, v in r["explanations"].items()})
                   for r in c["results"]]
        run.calls.append(GradientCall(int(c["id"]), int(c["seq"]), int(c["tape"]), str(c["kind"]), list(c["targets"]),
                                      list(c["sources"]), dict(c["options"]), results, _location(c["location"])))
    return run
