"""Columns for a run while it is recorded: ops and tensors as rows of typed arrays, not objects.

A training loop runs hundreds of thousands of ops. Kept as objects (an OpInfo, a TensorInfo and a
summary dict each) they cost about 1.4 KB per op, slowed every garbage collection, and took
microseconds each to build. Here an op costs about 100 bytes of typed columns, filled in bulk from a
batch of raw records (``add_records``: the recorder appends one tuple per op while it runs), and
a tensor's summary (min, max, mean, non-finite count, L2 norm) is computed in bulk for thousands of values
at a time, from arrays held only until the next flush.

A new per-op column: add its field to the end of ``RECORD_FIELDS`` (before the input pairs that end a
record; in the tuples the recorder appends: ``op_executed``, ``_add_op``, ``_sight``,
and recordfast_c/ops.c's ``record_fast`` and batch.c's ``split_records``: FIXED in recordfast.h grows by one); in
``_split_records`` add its name to the unpacking and to the tuple the sightings filter picks from, then
extend an ``array`` column made in ``__init__`` (through an ``Interned`` table for repeated
values, as ``type`` does); count it in ``nbytes`` and read it in ``op``. Every column only grows, so a
snapshot is a view that remembers the lengths: no copy. ``OpsView`` and ``TensorsView`` show the
columns as read-only mappings of ``OpInfo``/``TensorInfo``, made on first access, so explanations,
reports and the inspector read a live recording exactly as they read a loaded run.

Where setup.py built the C path (recordfast_c/batch.c), a batch's fields are split (``_split_records``) and float values
summarized (``_flush``) in C, one pass per record and per value; the Python code here does the same
and is used for what C leaves (values that are not numpy's, views, other dtypes) and everywhere when
the extension is not built. C sums in double, so a mean or norm may differ from the Python path's in
float32's last digit.
"""
import bisect
import functools
import itertools
import math
import operator
import os
import warnings
from array import array
from collections.abc import Mapping

import numpy as np

from .model import OpInfo, TensorInfo, dtype_name

try:  # the recorder's per-op path in C, where setup.py built it (here and in recorder.py the same in Python)
    from . import _recordfast
except ImportError:
    _recordfast = None
if os.environ.get("TAPEVIZ_PURE_PYTHON"):  # the Python path alone (tests compare the two)
    _recordfast = None

KINDS = ("intermediate", "constant", "variable")
INTERMEDIATE, CONSTANT, VARIABLE = 0, 1, 2
FLUSH_VALUES = 1024           # arrays waiting for their summary, at most
FLUSH_BYTES = 1024 ** 2  # bytes of arrays waiting for their summary, at most (kept low: RSS keeps its peak)
_NUMERIC = "fiub"
_NO_STATS = -2                # non-finite column value for an empty or non-numeric tensor
LARGE_VALUE_BYTES = 16384     # values this large on average are copied into a kept buffer, not joined
REUSED_BYTES = 4 * FLUSH_BYTES  # a flush this large or larger concatenates into a new array, not the kept one


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
        self.late_ids = None             # the ids in late, sorted (see unknown)
        self._buffers = {}               # dtype -> the array flushes of large values concatenate into
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

    def __len__(self):
        return len(self.producer)

    def unknown(self, ids):
        """Indices of the ids (an int64 array) that have no row. (The sorted column is searched in place,
        through a view that is let go before the column grows again.)"""
        if len(self.ordered_ids):
            ordered = np.frombuffer(self.ordered_ids, np.int64)
            at = np.searchsorted(ordered, ids)
            np.minimum(at, len(ordered) - 1, out=at)
            unknown = np.flatnonzero(ordered[at] != ids)
            del ordered, at
        else:
            unknown = np.arange(len(ids))
        if len(unknown) and self.late:
            late = self.late_ids
            if late is None or len(late) != len(self.late):
                late = self.late_ids = np.sort(np.fromiter(self.late, np.int64, len(self.late)))
            wanted = ids[unknown]
            at = np.minimum(np.searchsorted(late, wanted), len(late) - 1)
            unknown = unknown[late[at] != wanted]
        return unknown

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

    def add_pending(self, values, rows, dtype_codes):
        """Values whose summary is made at the next flush, with their rows (an int64 array) and dtype codes."""
        if not values:
            return
        pending = self.pending
        first = dtype_codes[0]
        if dtype_codes.count(first) == len(dtype_codes):  # one dtype: the usual batch
            groups = ((first, values, rows),)
        else:
            codes = np.asarray(dtype_codes)
            groups = []
            for code in set(dtype_codes):
                where = np.flatnonzero(codes == code)
                groups.append((code, [values[i] for i in where.tolist()], rows[where]))
        for code, group_values, group_rows in groups:
            group = pending.get(code)
            if group is None:
                group = pending[code] = ([], array("q"))
            group[0].extend(group_values)
            group[1].frombytes(np.asarray(group_rows, np.int64).tobytes())
        self.pending_count += len(values)
        self.pending_bytes += sum(map(_NBYTES, values))

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
            where = np.frombuffer(rows, np.int64) - first
            if _recordfast is not None and dtype.kind == "f" and dtype.itemsize in (4, 8):
                # One pass per value in C; numpy's way below only for what it leaves (views, odd layouts).
                *stats, skipped = _recordfast.summarize(values)
                for column, made in zip((low, high, mean, norm), stats):
                    column[where] = np.frombuffer(made, np.float64)
                bad[where] = np.frombuffer(stats[4], np.int64)
                if not skipped:
                    continue
                values, where = [values[k] for k in skipped], where[skipped]
            sizes = np.fromiter(map(_SIZE, values), np.int64, len(values))  # arrays: .size, not np.size
            keep = sizes > 0
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
                    wide = values[k].astype(np.float64)
                    scale = np.max(np.abs(wide))  # float64's squares can overflow too: scaled first
                    norm[where[k]] = scale * np.sqrt(np.sum(np.square(wide / scale)))
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
        """The values end to end as one flat array.

        Many small values (a training step's): ``bytes.join`` copies each buffer with no per-value array
        object (``np.concatenate`` makes a flattened view of each, twice the cost). Large ones: into a
        buffer kept from one flush to the next, as a fresh megabyte-sized array is mapped from the system
        on each flush and costs a page fault per 4 KB on first touch. One value: itself, flattened.
        """
        if len(values) == 1:
            return values[0].reshape(-1)
        nbytes = total * dtype.itemsize
        if nbytes < LARGE_VALUE_BYTES * len(values):
            try:
                return np.frombuffer(b"".join(values), dtype)
            except (TypeError, BufferError, ValueError):  # a value that is not C-contiguous
                pass
        if nbytes > REUSED_BYTES:
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


_ID = operator.attrgetter("_id")
_VALUE = operator.attrgetter("_value")
_SIZE = operator.attrgetter("size")
_NBYTES = operator.attrgetter("nbytes")
_SHAPE_AND_DTYPE = operator.attrgetter("shape", "dtype")
_ID_AND_VALUE = operator.attrgetter("_id", "_value")
_IS_NOT_NONE = functools.partial(operator.is_not, None)
_chain = itertools.chain.from_iterable
_EMPTY = {}
_NO_ROWS = np.zeros(0, np.int64)


def _arrays(values):
    """The values (a list; numpy arrays or scalars, else made arrays), their shapes and their dtypes."""
    try:
        shapes, dtypes = zip(*map(_SHAPE_AND_DTYPE, values)) if values else ((), ())
    except AttributeError:  # a value that is not numpy's (a Python number from a plugin's kernel)
        values = [v if isinstance(v, (np.ndarray, np.generic)) else np.asarray(v) for v in values]
        shapes, dtypes = zip(*map(_SHAPE_AND_DTYPE, values))
    return values, shapes, dtypes


def _packed(numbers, dtype):
    """Numbers as the bytes of an array of ``dtype`` (what the store's ``array`` columns take in bulk)."""
    return np.asarray(numbers, dtype).tobytes()


def _picker(indices):
    """A function that takes the items at ``indices`` of a sequence."""
    if len(indices) == 1:
        index = indices[0]
        return lambda items: (items[index],)
    return operator.itemgetter(*indices)


class Batch:
    """What ``Store.add_records`` added: the recorder links ops to tapes and keeps small values from it."""

    __slots__ = ("first_op", "ops", "tape_sets", "out_ids", "out_values", "out_rows", "leaf_ids", "leaf_values",
                 "leaf_rows")

    def __init__(self, first_op, ops, tape_sets, out_ids, out_values, out_rows, leaf_ids, leaf_values, leaf_rows):
        self.first_op, self.ops, self.tape_sets = first_op, ops, tape_sets
        self.out_ids, self.out_values, self.out_rows = out_ids, out_values, out_rows
        self.leaf_ids, self.leaf_values, self.leaf_rows = leaf_ids, leaf_values, leaf_rows


# The raw record of one op, as the recorder appends it while the op runs: the fields RECORD_FIELDS
# names, then the inputs as (id, value) pairs, flat (``record[FIXED::2]`` the ids, ``record[FIXED + 1::2]``
# the values). One tuple an op and no Tensor in it: records wait for their batch, and holding the step's
# tensors (and a tuple or two more per op) made the collector run and promote them, the full collections
# that followed costing about a tenth of a training loop. An op with one output, almost every op, has
# ``outputs`` None and that output's id and value in ``out_id`` and ``out_value``; any other has its
# output tensors in ``outputs`` and ``out_id`` None. A sighting of tensors outside any op has op_type
# None, no outputs, and the tensors as its inputs.
RECORD_FIELDS = ("op_type", "outputs", "out_id", "out_value", "attrs", "grad_fn", "tape_set", "location", "backward",
                 "seq", "scope")
FIXED = len(RECORD_FIELDS)
RECORDFAST_INTERFACE = 4  # recordfast.h's INTERFACE: the C path's constructors and results as this file uses them
if _recordfast is not None and (getattr(_recordfast, "INTERFACE", None) != RECORDFAST_INTERFACE
                                or _recordfast.FIXED != FIXED or _recordfast.SITE_SHIFT != 48):
    warnings.warn("tapeviz's compiled recorder (_recordfast) was built from other sources than this tapeviz: "
                  "recording with the Python path, which is slower. Rebuild it: pip install -e .", RuntimeWarning)
    _recordfast = None
_FIXED_FIELDS = operator.itemgetter(*range(FIXED))
_INPUT_IDS = operator.itemgetter(slice(FIXED, None, 2))
_INPUT_VALUES = operator.itemgetter(slice(FIXED + 1, None, 2))


def input_pairs(tensors):
    """The (id, value) pairs of tensors, flat, as a record ends."""
    return tuple(itertools.chain.from_iterable(map(_ID_AND_VALUE, tensors)))


class Store:
    """Everything per op and per tensor of a recording, as columns."""

    def __init__(self):
        self.tensors = TensorTable()
        self.types, self.shapes, self.dtypes = Interned(), Interned(), Interned()
        self.tensors.dtypes_values = self.dtypes.values
        self.tape_sets = Interned()      # (tapes, recording, paused) tuples of tape ids -> code
        self.locations = []
        self._location_codes = {}        # (file, line, function) -> index in locations
        self._location_by_id = {id(None): -1}  # id of a Location object -> its code (see location_codes)
        self._kept_locations = [None]
        self.attrs = []                  # distinct non-empty attrs, as plain dicts
        self._attrs_codes = {(): -1}     # attrs as a hashable tuple -> index in attrs (none: -1)
        self.rules = {}                  # op type -> (rule, plugin), as found when the op first ran
        self.custom = set()              # ids of ops with a custom gradient
        self.seq = array("q")
        self.type = array("i")
        self.location = array("i")
        self.tape_set = array("i")
        self.backward = array("b")
        self.attrs_index = array("i")
        self.scopes = Interned()         # name scopes as the thread held them ("sequential/dense/"; "" for none)
        self.scope = array("i")
        self.in_start, self.out_start = array("q", [0]), array("q", [0])
        self.in_ids, self.out_ids = array("q"), array("q")
        self.variables = {}              # variable id -> (name, trainable)
        self._lists = {}                 # tape set code -> its three shared lists
        self._dtype_names = []           # dtype code -> its name
        self.sync = _nothing             # the recorder's: adds the ops it holds before a live view reads

    def nbytes(self):
        """Bytes the columns hold: what a tape file keeps of the ops and tensors (ids, codes, summaries)."""
        table = self.tensors
        columns = [self.seq, self.type, self.location, self.tape_set, self.backward, self.attrs_index, self.scope,
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

    def _attrs_codes_of(self, attrs, plain):
        """``attrs_code`` of each attrs dict of a batch: attrs met before are found by C-level ``map``."""
        try:
            codes = list(map(self._attrs_codes.get, map(tuple, map(dict.items, attrs))))
        except TypeError:  # an unhashable value, or attrs that are not a dict: one at a time
            codes = [None] * len(attrs)
        if None in codes:
            attrs_code = self.attrs_code
            codes = [attrs_code(a, plain) if code is None and a else -1 if code is None else code
                     for a, code in zip(attrs, codes)]
        return codes

    def location_codes(self, locations):
        """The code of each Location (or None: -1), cached by the object's identity: every op of a loop
        carries one of a few shared Location objects (``_kept_locations`` keeps each one met alive, so
        its id is never reused)."""
        codes = list(map(self._location_by_id.get, map(id, locations)))
        if None in codes:
            for index, code in enumerate(codes):
                if code is None:
                    location = locations[index]
                    code = codes[index] = self._location_by_id[id(location)] = self.location_code(location)
                    self._kept_locations.append(location)
        return codes

    def _codes(self, interned, values):
        codes = list(map(interned.codes.get, values))
        if None in codes:
            code = interned.code
            codes = [code(value) if found is None else found for value, found in zip(values, codes)]
        return codes

    def add_records(self, records, attrs_codes=None, location_codes=None, plain=dict, rule_of=None):
        """Add a batch of raw records, in order, as rows of the columns; returns a ``Batch``.

        A record is the tuple ``RECORD_FIELDS`` names: an op, or (``op_type`` None, no outputs) a sighting
        of tensors outside any op (watched, assigned, a gradient call's targets, sources and results),
        which only adds rows for those not seen before. Each tensor not seen before (an input of an op, or
        a sighted one) becomes a leaf row just before the record's outputs, located at the record's line,
        as a variable if ``variables`` has its id, else as a constant. The per-op work is a few passes of
        C-level ``map``/``zip`` over the whole batch and numpy calls, not Python code per op.
        """
        table = self.tensors
        count = len(records)
        split = None
        if _recordfast is not None and attrs_codes is None and location_codes is None:
            split = _recordfast.split_records(records, self)  # None: a value that is not numpy's
        if split is None:
            split = self._split_records(records, attrs_codes, location_codes)
        (out_counts, out_ids, out_values, out_shapes, dtype_codes, in_counts, in_values, in_ids, location_codes,
         is_op, types, scopes, tape_sets, backwards, seqs, attrs, custom, leaves, leaf_values, leaf_shapes,
         leaf_dtypes) = split
        if type(out_counts) is bytes:  # the C split gives these numbers as bytes too
            out_counts, in_counts = np.frombuffer(out_counts, np.int64), np.frombuffer(in_counts, np.int64)
            in_ids = np.frombuffer(in_ids, np.int64)
            is_op = None if is_op is None else np.frombuffer(is_op, bool)
            if leaves is not None:
                leaves = (np.frombuffer(leaves[0], np.int64), np.frombuffer(leaves[1], np.int64))
        location_codes = np.frombuffer(location_codes, np.int32)
        base_row = len(table.producer)
        first_op = len(self.seq) + 1
        # Rows: each record's new leaves, then its outputs.
        if leaves is None:
            per_record = out_counts
        else:
            leaf_records, leaf_flat = leaves
            leaf_count = np.bincount(leaf_records, minlength=count)
            per_record = leaf_count + out_counts
        starts = np.zeros(count, np.int64)
        np.cumsum(per_record[:-1], out=starts[1:])
        starts += base_row
        total = int(per_record.sum())
        ids = np.empty(total, np.int64)
        producer = np.zeros(total, np.int64)
        kind = np.zeros(total, np.int8)  # INTERMEDIATE
        leaf_location = np.full(total, -1, np.int32)
        shape = np.empty(total, np.int32)
        dtype = np.empty(total, np.int32)
        if is_op is not None:
            op_number = np.cumsum(is_op, dtype=np.int64) + (first_op - 1)
        else:
            op_number = np.arange(first_op, first_op + count, dtype=np.int64)
        n_out = len(out_ids)
        if n_out == count:  # one output per record: the usual batch of ops
            out_rows = starts if leaves is None else starts + leaf_count
            out_producer = op_number
        else:
            out_record = np.repeat(np.arange(count), out_counts)
            out_first = np.zeros(count, np.int64)
            np.cumsum(out_counts[:-1], out=out_first[1:])
            out_rows = (starts if leaves is None else starts + leaf_count)[out_record] + (
                np.arange(n_out) - out_first[out_record])
            out_producer = op_number[out_record]
        if n_out:
            local = out_rows - base_row
            ids[local] = out_ids
            producer[local] = out_producer
            shape[local] = out_shapes
            dtype[local] = dtype_codes
        if leaves is not None:
            leaf_ids = in_ids[leaf_flat].tolist()
            leaf_rows = starts[leaf_records] + (np.arange(len(leaf_ids)) - np.searchsorted(leaf_records, leaf_records))
            local = leaf_rows - base_row
            ids[local] = leaf_ids
            variables = self.variables
            kind[local] = [VARIABLE if i in variables else CONSTANT for i in leaf_ids]
            leaf_location[local] = location_codes[leaf_records]
            shape[local] = leaf_shapes
            dtype[local] = leaf_dtypes
        else:
            leaf_ids, leaf_values, leaf_rows = [], [], _NO_ROWS
        self._index_rows(ids, base_row)
        table.producer.frombytes(producer.tobytes())
        table.kind.frombytes(kind.tobytes())
        table.leaf_location.frombytes(leaf_location.tobytes())
        table.shape.frombytes(shape.tobytes())
        table.dtype.frombytes(dtype.tobytes())
        table.add_pending(out_values, out_rows, dtype_codes)
        if leaf_ids:
            table.add_pending(leaf_values, leaf_rows, leaf_dtypes)
        # The ops' own columns (sightings have none: their fields are already left out).
        if is_op is not None:
            if not tape_sets:
                return Batch(first_op, 0, (), out_ids, out_values, out_rows, leaf_ids, leaf_values, leaf_rows)
            in_ids = in_ids[np.repeat(is_op, in_counts)]
            out_counts, in_counts = out_counts[is_op], in_counts[is_op]
            location_codes = location_codes[is_op]
        ops = len(tape_sets)
        self.out_ids.frombytes(np.asarray(out_ids, np.int64).tobytes())
        self.out_start.frombytes((np.cumsum(out_counts) + self.out_start[-1]).tobytes())
        self.in_ids.frombytes(in_ids.tobytes())
        self.in_start.frombytes((np.cumsum(in_counts) + self.in_start[-1]).tobytes())
        self.seq.frombytes(seqs)
        self.type.frombytes(types)
        self.scope.frombytes(scopes)
        self.location.frombytes(location_codes.tobytes())
        self.tape_set.frombytes(np.asarray(tape_sets, np.int32).tobytes())
        self.backward.frombytes(backwards)
        if attrs_codes is None:
            attrs_codes = [-1] * ops if attrs is None else self._attrs_codes_of(attrs, plain)
        self.attrs_index.frombytes(np.asarray(attrs_codes, np.int32).tobytes())
        if custom:
            self.custom.update(first_op + i for i in custom)
        rules, type_names = self.rules, self.types.values
        for code in set(np.frombuffer(types, np.int32).tolist()):
            op_type = type_names[code]
            if op_type not in rules:
                rules[op_type] = rule_of(op_type) if rule_of is not None else ("missing", "")
        if table.pending_count >= FLUSH_VALUES or table.pending_bytes >= FLUSH_BYTES:
            table.flush()
        return Batch(first_op, ops, tape_sets, out_ids, out_values, out_rows, leaf_ids, leaf_values, leaf_rows)

    def _split_records(self, records, attrs_codes, location_codes):
        """The fields of a batch of raw records, flattened and coded, as ``add_records`` reads them (the
        Python twin of ``_recordfast.split_records``, which gives the same fields; numbers may be bytes):

        out_counts, out_ids, out_values, out_shape_codes, out_dtype_codes, in_counts, in_values, in_ids,
        location_codes (every record's, int32 bytes), is_op (None when every record is an op), then the
        ops' own: type codes and scope codes (int32 bytes), tape sets (a tuple), backward flags (int8
        bytes), seqs (int64 bytes), attrs (None when all are empty), the indices of the ops that have a
        custom gradient; last the new leaves: the inputs no row and no earlier record of the batch has,
        each where first met, as (their records, their indices in the flat inputs) or None, with their
        values, shape codes and dtype codes.
        """
        count = len(records)
        (types, outputs, one_ids, one_values, attrs, grad_fns, tape_sets, locations, backwards, seqs,
         scopes) = zip(*map(_FIXED_FIELDS, records))
        sightings = types.count(None)
        # Outputs and inputs, flattened in record order.
        singles = outputs.count(None)
        if singles == count:  # ops with one output each
            out_counts = np.ones(count, np.int64)
            out_ids, out_values = list(one_ids), list(one_values)
        elif singles + sightings == count:  # and sightings (no outputs)
            out_counts = np.fromiter(map(_IS_NOT_NONE, one_ids), np.int64, count)
            out_ids = list(filter(_IS_NOT_NONE, one_ids))
            out_values = list(itertools.compress(one_values, out_counts.tolist()))
        else:
            out_counts = np.fromiter((1 if outs is None else len(outs) for outs in outputs), np.int64, count)
            out_ids, out_values = [], []
            for outs, one_id, one_value in zip(outputs, one_ids, one_values):
                if outs is None:
                    out_ids.append(one_id)
                    out_values.append(one_value)
                else:
                    out_ids.extend(map(_ID, outs))
                    out_values.extend(map(_VALUE, outs))
        out_values, out_shapes, out_dtypes = _arrays(out_values)
        in_counts = (np.fromiter(map(len, records), np.int64, count) - FIXED) // 2
        in_ids = np.fromiter(_chain(map(_INPUT_IDS, records)), np.int64, int(in_counts.sum()))
        in_values = list(_chain(map(_INPUT_VALUES, records)))
        if location_codes is None:
            location_codes = self.location_codes(locations)
        is_op = None
        if sightings:
            is_op = np.fromiter(map(_IS_NOT_NONE, types), bool, count)
            pick = _picker(np.flatnonzero(is_op).tolist()) if sightings != count else lambda items: ()
            types, attrs, grad_fns, tape_sets, backwards, seqs, scopes = map(
                pick, (types, attrs, grad_fns, tape_sets, backwards, seqs, scopes))
        ops = len(tape_sets)
        if attrs_codes is None and attrs.count(_EMPTY) == ops:
            attrs = None
        custom = [i for i, g in enumerate(grad_fns) if g is not None] if grad_fns.count(None) != ops else ()
        leaves = self._new_leaves(in_ids, in_counts, out_ids, out_counts, count) if len(in_ids) else None
        leaf_values = leaf_shapes = leaf_dtypes = None
        if leaves is not None:
            leaf_values, shapes, dtypes = _arrays([in_values[i] for i in leaves[1].tolist()])
            leaf_shapes, leaf_dtypes = self._codes(self.shapes, shapes), self._codes(self.dtypes, dtypes)
        return (out_counts, out_ids, out_values, self._codes(self.shapes, out_shapes),
                self._codes(self.dtypes, out_dtypes), in_counts, in_values, in_ids, _packed(location_codes, np.int32),
                is_op, _packed(self._codes(self.types, types), np.int32), _packed(self._codes(self.scopes, scopes), np.int32),
                tape_sets, _packed(backwards, np.int8), _packed(seqs, np.int64), attrs, custom, leaves, leaf_values,
                leaf_shapes, leaf_dtypes)

    def _new_leaves(self, in_ids, in_counts, out_ids, out_counts, count):
        """For the inputs not seen before, the first time each is met: (their records, their indices in the
        flat inputs) as int64 arrays; None if there are none."""
        table = self.tensors
        wanted = in_ids
        unknown = table.unknown(wanted)
        if not len(unknown):
            return None
        in_record = np.repeat(np.arange(count), in_counts)
        candidates = wanted[unknown]
        if out_ids:
            # An output of an earlier record of the batch is known by the time this record reads it.
            outs = np.asarray(out_ids, np.int64)
            out_record = np.repeat(np.arange(count), out_counts)
            if len(outs) > 1 and not (outs[1:] > outs[:-1]).all():  # ops' outputs are new ids: in order, mostly
                order = np.argsort(outs, kind="stable")
                outs, out_record = outs[order], out_record[order]
            at = np.minimum(np.searchsorted(outs, candidates), len(outs) - 1)
            made_before = (outs[at] == candidates) & (out_record[at] < in_record[unknown])
            if made_before.any():
                unknown = unknown[~made_before]
                candidates = candidates[~made_before]
                if not len(unknown):
                    return None
        _, first = np.unique(candidates, return_index=True)  # each new tensor once, where first met
        first.sort()
        unknown = unknown[first]
        return in_record[unknown], unknown

    def _index_rows(self, ids, base_row):
        """Rows by id: ids larger than every earlier one go on the sorted array, the others in ``late``."""
        table = self.tensors
        if not len(ids):
            return
        previous = table.ordered_ids[-1] if len(table.ordered_ids) else np.iinfo(np.int64).min
        running = np.maximum.accumulate(ids)
        before = np.empty_like(ids)
        before[0] = previous
        np.maximum(running[:-1], previous, out=before[1:])
        ordered = ids > before
        rows = np.arange(base_row, base_row + len(ids), dtype=np.int64)
        if ordered.all():
            table.ordered_ids.frombytes(ids.tobytes())
            table.ordered_rows.frombytes(rows.tobytes())
            return
        table.ordered_ids.frombytes(ids[ordered].tobytes())
        table.ordered_rows.frombytes(rows[ordered].tobytes())
        new_late = ids[~ordered]
        table.late.update(zip(new_late.tolist(), rows[~ordered].tolist()))
        # The sorted copy ``unknown`` searches, kept up to date by a merge (sorting the whole dict's keys
        # again each batch grew with the run: a training step adds a few late rows, its gradients).
        late_ids = table.late_ids
        if late_ids is not None and len(late_ids) + len(new_late) == len(table.late):
            table.late_ids = np.sort(np.concatenate((late_ids, new_late)))
        else:
            table.late_ids = None

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
                      self.locations[location] if location >= 0 else None, bool(self.backward[i]),
                      self.scopes.values[self.scope[i]].removesuffix("/"))

    def tensor(self, tensor_id, row, read_of=None):
        table = self.tensors
        shape = self.shapes.values[table.shape[row]]
        dtype = self.dtypes.values[table.dtype[row]]
        producer = table.producer[row]
        kind = table.kind[row]
        location = table.leaf_location[row] if kind != INTERMEDIATE else self.location[producer - 1]
        info = TensorInfo(tensor_id, KINDS[kind], shape, self._dtype_name(table.dtype[row]), producer=producer or None,
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
        found = {"shape": list(shape), "dtype": self._dtype_name(table.dtype[row]), "size": size}
        stats = table.stats(row)
        if stats is not None:
            low, high, mean, bad = stats
            found.update(min=float(low), max=float(high), mean=float(mean), nonfinite=int(bad),
                         norm=float(table.norm[row]))
        return found

    def rows_of(self, tensor_ids):
        """The row of each id (an int64 array; -1 for an id with no row), as ``TensorTable.row`` finds it."""
        table = self.tensors
        ids = np.asarray(tensor_ids, np.int64)
        rows = np.full(len(ids), -1, np.int64)
        if len(table.ordered_ids) and len(ids):
            ordered = np.frombuffer(table.ordered_ids, np.int64)
            at = np.minimum(np.searchsorted(ordered, ids), len(ordered) - 1)
            found = ordered[at] == ids
            del ordered
            rows[found] = np.frombuffer(table.ordered_rows, np.int64)[at[found]]
        else:
            found = np.zeros(len(ids), bool)
        late = table.late
        if late and not found.all():
            missing = ~found
            rows[missing] = [late.get(i, -1) for i in ids[missing].tolist()]
        return rows

    def stats_of(self, tensor_ids):
        """(min, max, mean, non-finite count) arrays for many tensors at once; NaN, NaN, NaN, -2 for one
        that is unknown, empty or not numeric."""
        table = self.tensors
        rows = self.rows_of(tensor_ids)
        if len(rows) and rows.max() >= len(table.nonfinite):
            table.flush()
        known = rows >= 0
        picked = rows[known]
        columns = []
        for column, missing in ((table.minimum, np.nan), (table.maximum, np.nan), (table.mean, np.nan),
                                (table.nonfinite, _NO_STATS)):
            out = np.full(len(rows), missing, np.int64 if column is table.nonfinite else np.float64)
            if len(picked):
                out[known] = np.frombuffer(column, out.dtype)[picked]
            columns.append(out)
        return tuple(columns)

    def summaries(self, tensor_ids):
        """``tensor_summary`` of many tensors at once (new dicts, one per id)."""
        table = self.tensors
        rows = self.rows_of(tensor_ids)
        if len(rows) and rows.max() >= len(table.nonfinite):
            table.flush()
        low, high, mean, bad = self.stats_of(tensor_ids)
        safe = np.maximum(rows, 0)
        norms = (np.frombuffer(table.norm, np.float64)[safe].tolist() if len(table.norm)
                 else [math.nan] * len(rows))
        shape_codes = np.frombuffer(table.shape, np.int32)[safe].tolist() if len(table.shape) else []
        dtype_codes = np.frombuffer(table.dtype, np.int32)[safe].tolist() if len(table.dtype) else []
        shapes, dtypes = self.shapes.values, self.dtypes.values
        names = {code: dtype_name(dtypes[code]) for code in set(dtype_codes)}
        sizes = {code: math.prod(shapes[code]) for code in set(shape_codes)}
        found = []
        for row, shape, dtype, lo, hi, me, nf, l2 in zip(rows.tolist(), shape_codes, dtype_codes, low.tolist(),
                                                         high.tolist(), mean.tolist(), bad.tolist(), norms):
            if row < 0:
                found.append({})
            elif nf == _NO_STATS:
                found.append({"shape": list(shapes[shape]), "dtype": names[dtype], "size": sizes[shape]})
            else:
                found.append({"shape": list(shapes[shape]), "dtype": names[dtype], "size": sizes[shape],
                              "min": lo, "max": hi, "mean": me, "nonfinite": nf, "norm": l2})
        return found

    def _dtype_name(self, code):
        """A dtype's name by its code (hashing a numpy dtype, as a dict keyed by dtypes does, is slow)."""
        names = self._dtype_names
        while len(names) <= code:
            names.append(dtype_name(self.dtypes.values[len(names)]))
        return names[code]

    def tensor_stats(self, tensor_id):
        """(min, max, mean, non-finite count) of a tensor, or None if unknown, empty or not numeric."""
        row = self.tensors.row(tensor_id)
        return None if row is None else self.tensors.stats(row)

    def tensor_summary(self, tensor_id):
        row = self.tensors.row(tensor_id)
        return {} if row is None else self.summary(row)


def _nothing():
    pass


class OpsView(Mapping):
    """op id -> OpInfo, made from the columns on first access; ``frozen`` ops at most (a snapshot)."""

    def __init__(self, store, frozen=None):
        self._store = store
        self._frozen = frozen
        self._made = {}

    def _count(self):
        if self._frozen is None:
            self._store.sync()
            return len(self._store.seq)
        return self._frozen

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
        if self._frozen is None:
            self._store.sync()
            return len(self._store.tensors)
        return self._frozen

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
