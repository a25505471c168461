"""Columns for a run while it is recorded: ops and tensors as rows of typed arrays, not objects.

A training loop runs hundreds of thousands of ops. Kept as objects (an OpInfo, a TensorInfo and a
summary dict each) they cost about 1.4 KB per op, slowed every garbage collection, and took
microseconds each to build. Here an op costs a handful of ``array`` appends (about 100 bytes),
and a tensor's summary (min, max, mean, non-finite count, L2 norm) is computed in bulk for thousands of
values at a time, from arrays held only until the next flush. Every column only grows, so a
snapshot is a view that remembers the lengths: no copy. ``OpsView`` and ``TensorsView`` show the
columns as read-only mappings of ``OpInfo``/``TensorInfo``, made on first access, so explanations,
reports and the inspector read a live recording exactly as they read a loaded run.
"""
import bisect
import math
from array import array
from collections.abc import Mapping

import numpy as np

from .model import OpInfo, TensorInfo, dtype_name

KINDS = ("intermediate", "constant", "variable")
INTERMEDIATE, CONSTANT, VARIABLE = 0, 1, 2
FLUSH_VALUES = 1024           # arrays waiting for their summary, at most
FLUSH_BYTES = 1024 ** 2       # bytes of arrays waiting for their summary, at most (kept low: RSS keeps its peak)
_NUMERIC = "fiub"
REUSED_BYTES = 4 * FLUSH_BYTES  # a flush this large or larger concatenates into a new array, not the kept one
_NO_STATS = -2                # non-finite column value for an empty or non-numeric tensor


class Interned:
    """Hashable values <-> small ints: op types, shapes, dtypes and tape lists repeat in every step."""

    def __init__(self):
        self.values = []
        self.codes = {}

    def code(self, value):
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.values)
            self.values.append(value)
        return found


class TensorTable:
    """One row per tensor seen: producer, shape, dtype; summary columns filled at each flush."""

    def __init__(self):
        self.ordered_ids = array("q")   # ids of rows added in increasing id order (op outputs, mostly)
        self.ordered_rows = array("q")
        self.late = {}                   # id -> row, for ids older than the last one added (leaves)
        self.producer = array("q")       # op id, 0 for a leaf
        self.shape = array("i")
        self.dtype = array("i")
        self.kind = array("b")           # index in KINDS: 0 for an op's output, else constant or variable
        self.leaf_location = array("i")  # a leaf's first line (location code); -1 for an op's output
        self.read_of = {}                # row -> variable id, for reads that are tensors of their own
        self.minimum, self.maximum, self.mean = array("d"), array("d"), array("d")
        self.nonfinite = array("q")
        self.norm = array("d")           # L2 norm
        self.pending = {}                # dtype code -> (arrays, their rows) whose summary is not made yet
        self.pending_count = 0
        self.pending_bytes = 0
        self.dtypes_values = []          # the Store's dtype table (set by the Store)
        self._buffers = {}               # dtype -> the array flushes concatenate values into

    def __len__(self):
        return len(self.producer)

    def row(self, tensor_id):
        ids = self.ordered_ids
        index = bisect.bisect_left(ids, tensor_id)
        if index < len(ids) and ids[index] == tensor_id:
            return self.ordered_rows[index]
        return self.late.get(tensor_id)

    def add(self, tensor_id, value, producer, shape_code, dtype_code):
        row = len(self.producer)
        ids = self.ordered_ids
        if not ids or tensor_id > ids[-1]:
            ids.append(tensor_id)
            self.ordered_rows.append(row)
        else:
            self.late[tensor_id] = row
        self.producer.append(producer)
        self.shape.append(shape_code)
        self.dtype.append(dtype_code)
        group = self.pending.get(dtype_code)
        if group is None:
            group = self.pending[dtype_code] = ([], array("q"))
        group[0].append(value)
        group[1].append(row)
        self.pending_count += 1
        self.pending_bytes += value.nbytes
        if self.pending_count >= FLUSH_VALUES or self.pending_bytes >= FLUSH_BYTES:
            self.flush()
        return row

    def flush(self):
        """Summarize every waiting array: three numpy reductions per dtype for all of them together."""
        with np.errstate(all="ignore"):  # inf - inf in a sum is the user's value, not the recorder's problem
            self._flush()

    def _flush(self):
        pending, self.pending, self.pending_count, self.pending_bytes = self.pending, {}, 0, 0
        first = len(self.nonfinite)
        count = len(self.producer) - first
        if count <= 0:
            return
        low = np.full(count, np.nan)
        high = np.full(count, np.nan)
        mean = np.full(count, np.nan)
        norm = np.full(count, np.nan)
        bad = np.full(count, _NO_STATS, np.int64)
        for dtype_code, (values, rows) in pending.items():
            dtype = self.dtypes_values[dtype_code]
            if dtype.kind not in _NUMERIC:
                continue
            sizes = np.fromiter([v.size for v in values], np.int64, len(values))  # arrays: .size, not np.size
            keep = sizes > 0
            where = np.frombuffer(rows, np.int64) - first
            if not keep.all():
                values = [v for v, k in zip(values, keep) if k]
                where, sizes = where[keep], sizes[keep]
                if not len(values):
                    continue
            flat = self._concatenate(values, int(sizes.sum()), dtype)
            if dtype.kind == "b":
                flat = flat.view(np.uint8)
            starts = np.zeros(len(values), np.int64)
            np.cumsum(sizes[:-1], out=starts[1:])
            low[where] = np.minimum.reduceat(flat, starts)
            high[where] = np.maximum.reduceat(flat, starts)
            totals = np.add.reduceat(flat, starts, dtype=np.float64 if dtype.kind in "iub" else None)
            mean[where] = totals.astype(np.float64) / sizes
            squares = np.square(flat, dtype=np.float64 if dtype.kind in "iub" else None)
            norm[where] = np.sqrt(np.add.reduceat(squares, starts))
            counts = np.zeros(len(values), np.int64)
            if dtype.kind == "f":
                # NaN and Inf show in min or max; only then are they counted, value by value.
                for k in np.flatnonzero(~(np.isfinite(low[where]) & np.isfinite(high[where]))):
                    counts[k] = values[k].size - np.count_nonzero(np.isfinite(values[k]))
                # A finite value's squares can overflow its dtype: only then is its norm taken in float64.
                for k in np.flatnonzero(np.isinf(norm[where]) & np.isfinite(low[where]) & np.isfinite(high[where])):
                    norm[where[k]] = np.linalg.norm(values[k].astype(np.float64))
            bad[where] = counts
        self.minimum.frombytes(low.tobytes())
        self.maximum.frombytes(high.tobytes())
        self.mean.frombytes(mean.tobytes())
        self.nonfinite.frombytes(bad.tobytes())
        self.norm.frombytes(norm.tobytes())

    def finish(self):
        """Summarize what waits and drop the flush buffers: nothing more will be added."""
        self.flush()
        self._buffers = {}

    def _concatenate(self, values, total, dtype):
        """The values end to end, in a buffer kept from one flush to the next (up to REUSED_BYTES).

        A fresh megabyte-sized array is mapped from the system on each flush and costs a page fault per
        4 KB on first touch: that was three quarters of a flush's time.
        """
        if total * dtype.itemsize > REUSED_BYTES:
            return np.concatenate(values, axis=None)
        buffer = self._buffers.get(dtype)
        if buffer is None or len(buffer) < total:
            buffer = self._buffers[dtype] = np.empty(max(total, FLUSH_BYTES // dtype.itemsize), dtype)
        flat = buffer[:total]
        np.concatenate(values, axis=None, out=flat)
        return flat

    def stats(self, row):
        """(min, max, mean, non-finite count) of a row, or None for an empty or non-numeric value."""
        if row >= len(self.nonfinite):
            self.flush()
        if self.nonfinite[row] == _NO_STATS:
            return None
        return self.minimum[row], self.maximum[row], self.mean[row], self.nonfinite[row]


class Store:
    """Everything per op and per tensor of a recording, as columns."""

    def __init__(self):
        self.tensors = TensorTable()
        self.types, self.shapes, self.dtypes = Interned(), Interned(), Interned()
        self.tensors.dtypes_values = self.dtypes.values
        self.tape_sets = Interned()      # (tapes, recording, paused) tuples of tape ids -> code
        self.locations = []
        self._location_codes = {}        # (file, line, function) -> index in locations
        self.attrs = []                  # distinct non-empty attrs, as plain dicts
        self._attrs_codes = {}           # attrs as a hashable tuple -> index in attrs
        self.rules = {}                  # op type -> (rule, plugin), as found when the op first ran
        self.custom = set()              # ids of ops with a custom gradient
        self.seq = array("q")
        self.type = array("i")
        self.location = array("i")
        self.tape_set = array("i")
        self.backward = array("b")
        self.attrs_index = array("i")
        self.in_start, self.out_start = array("q", [0]), array("q", [0])
        self.in_ids, self.out_ids = array("q"), array("q")
        self.variables = {}              # variable id -> (name, trainable)
        self._lists = {}                 # tape set code -> its three shared lists
        table = self.tensors
        self._appends = (table.ordered_ids.append, table.ordered_rows.append, table.producer.append,
                         table.kind.append, table.leaf_location.append, table.shape.append, table.dtype.append,
                         self.out_ids.append, self.in_ids.append)

    def nbytes(self):
        """Bytes the columns hold: what a tape file keeps of the ops and tensors (ids, codes, summaries)."""
        table = self.tensors
        columns = [self.seq, self.type, self.location, self.tape_set, self.backward, self.attrs_index,
                   self.in_start, self.out_start, self.in_ids, self.out_ids, table.ordered_ids, table.ordered_rows,
                   table.producer, table.kind, table.leaf_location, table.shape, table.dtype, table.minimum, table.maximum, table.mean,
                   table.nonfinite, table.norm]
        return sum(column.itemsize * len(column) for column in columns)

    def location_code(self, location):
        if location is None:
            return -1
        key = (location.file, location.line, location.function)
        found = self._location_codes.get(key)
        if found is None:
            found = self._location_codes[key] = len(self.locations)
            self.locations.append(location)
        return found

    def add_leaf(self, tensor_id, value, kind, location_code):
        table = self.tensors
        shape, dtype = self.shapes.codes.get(value.shape), self.dtypes.codes.get(value.dtype)
        if shape is None:
            shape = self.shapes.code(value.shape)
        if dtype is None:
            dtype = self.dtypes.code(value.dtype)
        row = table.add(tensor_id, value, 0, shape, dtype)
        table.kind.append(kind)
        table.leaf_location.append(location_code)
        return row

    def attrs_code(self, attrs, plain):
        """The index of ``attrs`` among the distinct attrs seen (``plain`` makes a JSON-ready copy)."""
        try:
            key = tuple(attrs.items())
            index = self._attrs_codes.get(key)
        except TypeError:  # an unhashable attr value (a list): key by its plain form
            made = plain(attrs)
            key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in made.items())
            index = self._attrs_codes.get(key)
            attrs = made
        else:
            if index is None:
                attrs = plain(attrs)
        if index is None:
            index = self._attrs_codes[key] = len(self.attrs)
            self.attrs.append(attrs)
        return index

    def add_op(self, seq, op_type, inputs, outputs, attrs_index, tape_set, location, backward):
        """Add an op and its outputs' rows (one call per op: this is the recording's hot path, so the
        columns' ``append`` methods are looked up once, in ``_bind``, not per op)."""
        op_id = len(self.seq) + 1
        table = self.tensors
        shape_codes, dtype_codes = self.shapes.codes, self.dtypes.codes
        ids = table.ordered_ids
        pending = table.pending
        (add_id, add_row, add_producer, add_kind, add_leaf_location, add_shape, add_dtype, add_out_id,
         add_in_id) = self._appends
        for t in outputs:
            value = t._value
            if type(value) is not np.ndarray:
                value = np.asarray(value)
            shape, dtype = shape_codes.get(value.shape), dtype_codes.get(value.dtype)
            if shape is None:
                shape = self.shapes.code(value.shape)
            if dtype is None:
                dtype = self.dtypes.code(value.dtype)
            tensor_id = t._id
            row = len(table.producer)
            if not ids or tensor_id > ids[-1]:
                add_id(tensor_id)
                add_row(row)
            else:
                table.late[tensor_id] = row
            add_producer(op_id)
            add_kind(INTERMEDIATE)
            add_leaf_location(-1)
            add_shape(shape)
            add_dtype(dtype)
            group = pending.get(dtype)
            if group is None:
                group = pending[dtype] = ([], array("q"))
            group[0].append(value)
            group[1].append(row)
            table.pending_count += 1
            table.pending_bytes += value.nbytes
            add_out_id(tensor_id)
        self.out_start.append(len(self.out_ids))
        for t in inputs:
            add_in_id(t._id)
        self.in_start.append(len(self.in_ids))
        self.seq.append(seq)
        type_code = self.types.codes.get(op_type)
        self.type.append(self.types.code(op_type) if type_code is None else type_code)
        self.location.append(location)
        self.tape_set.append(tape_set)
        self.backward.append(1 if backward else 0)
        self.attrs_index.append(attrs_index)
        if table.pending_count >= FLUSH_VALUES or table.pending_bytes >= FLUSH_BYTES:
            table.flush()
        return op_id

    # Objects made on access -------------------------------------------------------------------------
    def _tape_lists(self, code):
        found = self._lists.get(code)
        if found is None:
            found = self._lists[code] = tuple(list(ids) for ids in self.tape_sets.values[code])
        return found

    def op(self, op_id):
        i = op_id - 1
        op_type = self.types.values[self.type[i]]
        rule, source = ("custom", "custom_gradient") if op_id in self.custom else self.rules.get(op_type, ("missing", ""))
        attrs_index = self.attrs_index[i]
        location = self.location[i]
        tapes, recording, paused = self._tape_lists(self.tape_set[i])
        return OpInfo(op_id, self.seq[i], op_type,
                      self.in_ids[self.in_start[i]:self.in_start[i + 1]].tolist(),
                      self.out_ids[self.out_start[i]:self.out_start[i + 1]].tolist(),
                      self.attrs[attrs_index] if attrs_index >= 0 else {}, rule, source, tapes, recording, paused,
                      self.locations[location] if location >= 0 else None, bool(self.backward[i]))

    def tensor(self, tensor_id, row, read_of=None):
        table = self.tensors
        shape = self.shapes.values[table.shape[row]]
        dtype = self.dtypes.values[table.dtype[row]]
        producer = table.producer[row]
        kind = table.kind[row]
        location = table.leaf_location[row] if kind != INTERMEDIATE else self.location[producer - 1]
        info = TensorInfo(tensor_id, KINDS[kind], shape, dtype_name(dtype), producer=producer or None,
                          first_seen=self.locations[location] if location >= 0 else None,
                          read_of=(read_of if read_of is not None else table.read_of).get(row))
        if kind == VARIABLE:
            info.name, info.trainable = self.variables.get(tensor_id, (None, None))
        info.summary = self.summary(row)
        return info

    def summary(self, row):
        table = self.tensors
        shape = self.shapes.values[table.shape[row]]
        dtype = self.dtypes.values[table.dtype[row]]
        size = math.prod(shape)
        found = {"shape": list(shape), "dtype": dtype_name(dtype), "size": size}
        stats = table.stats(row)
        if stats is not None:
            low, high, mean, bad = stats
            found.update(min=float(low), max=float(high), mean=float(mean), nonfinite=int(bad),
                         norm=float(table.norm[row]))
        return found

    def tensor_stats(self, tensor_id):
        """(min, max, mean, non-finite count) of a tensor, or None if unknown, empty or not numeric."""
        row = self.tensors.row(tensor_id)
        return None if row is None else self.tensors.stats(row)

    def tensor_summary(self, tensor_id):
        row = self.tensors.row(tensor_id)
        return {} if row is None else self.summary(row)


class OpsView(Mapping):
    """op id -> OpInfo, made from the columns on first access; ``frozen`` ops at most (a snapshot)."""

    def __init__(self, store, frozen=None):
        self._store = store
        self._frozen = frozen
        self._made = {}

    def _count(self):
        return len(self._store.seq) if self._frozen is None else self._frozen

    def get(self, op_id, default=None):
        found = self._made.get(op_id)
        if found is not None:
            return found
        if type(op_id) is not int or not 1 <= op_id <= self._count():
            return default
        found = self._store.op(op_id)
        if self._frozen is not None:
            self._made[op_id] = found
        return found

    def __getitem__(self, op_id):
        found = self.get(op_id)
        if found is None:
            raise KeyError(op_id)
        return found

    def __contains__(self, op_id):
        return type(op_id) is int and 1 <= op_id <= self._count()

    def __len__(self):
        return self._count()

    def __iter__(self):
        return iter(range(1, self._count() + 1))


class TensorsView(Mapping):
    """tensor id -> TensorInfo, made from the columns on first access; a snapshot sees its first rows only."""

    def __init__(self, store, frozen=None, values=None):
        self._store = store
        self._frozen = frozen
        self._made = {}
        self._values = values or {}      # tensor id -> value kept by the recorder (a snapshot's copy)
        table = store.tensors
        # Reads can be linked to their variable after a snapshot, so a snapshot keeps its own copy.
        self._read_of = None if frozen is None else dict(table.read_of)

    def _count(self):
        return len(self._store.tensors) if self._frozen is None else self._frozen

    def get(self, tensor_id, default=None):
        found = self._made.get(tensor_id)
        if found is not None:
            return found
        if type(tensor_id) is not int:
            return default
        row = self._store.tensors.row(tensor_id)
        if row is None or row >= self._count():
            return default
        found = self._store.tensor(tensor_id, row, self._read_of)
        if self._frozen is not None:
            value = self._values.get(tensor_id)
            found.value = np.array(value) if value is not None else one_value(found.summary)
            self._made[tensor_id] = found
        return found

    def __getitem__(self, tensor_id):
        found = self.get(tensor_id)
        if found is None:
            raise KeyError(tensor_id)
        return found

    def __contains__(self, tensor_id):
        if type(tensor_id) is not int:
            return False
        row = self._store.tensors.row(tensor_id)
        return row is not None and row < self._count()

    def __len__(self):
        return self._count()

    def __iter__(self):
        table = self._store.tensors
        count = self._count()
        ids = [0] * count
        for tensor_id, row in zip(table.ordered_ids, table.ordered_rows):
            if row < count:
                ids[row] = tensor_id
        for tensor_id, row in table.late.items():
            if row < count:
                ids[row] = tensor_id
        return iter(ids)

    def variable_ids(self):
        """The ids of the variables among the tensors, without making every TensorInfo."""
        table = self._store.tensors
        count = self._count()
        rows = ((table.row(i), i) for i in self._store.variables)
        return [i for row, i in sorted((row, i) for row, i in rows if row is not None and row < count)
                if table.kind[row] == VARIABLE]


def one_value(summary):
    """The value of a one-element tensor, from its summary (exact: the summary holds it as a float64)."""
    if summary.get("size") != 1 or "min" not in summary:
        return None
    return np.array(summary["min"], dtype=summary["dtype"]).reshape(summary["shape"])
