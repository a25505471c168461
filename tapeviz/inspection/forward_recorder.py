"""Forward mode in a recording: each ``ForwardAccumulator``'s life, its tangents and its ``jvp`` calls.

A mixin of the Recorder (recorder.py), kept apart from its per-op hot path. An accumulator is not a
tape here: it gets an id of its own, and the tangent each op pushed becomes a row of a small table
of its own (``TangentTable``), summarized in bulk as the tensor table's values are, so a forward-mode
op costs a bounded amount (a few appends per output) and no array is kept beyond the recorder's
small-value budget. Which ops an accumulator pushed tangents through is found when a snapshot is
made, from the producers of the tensors that got a tangent.
"""
import itertools
import math
import threading
import weakref
from array import array

import numpy as np

from tapeviz.core.dtypes import FLOATING_NUMPY
from tapeviz.core.forward import _HelperTape
from tapeviz.core.tape import GradientTape

from .model import AccumulatorInfo, JvpCall, JvpResult, Tangent, dtype_name, summarize
from .names import names_at
from .store import _NO_STATS, TensorTable, one_value


def gradient_tapes(tapes):
    """The GradientTapes among the recording objects of a thread (accumulators and the helper tape of the
    double-backward trick sit in the same list, and are not tapes of the run)."""
    return [t for t in tapes if isinstance(t, GradientTape)]


class _TangentDepth(threading.local):
    value = 0   # how many tangent computations this thread is inside (nested accumulators nest them)


_tangent_depth = _TangentDepth()


def _recorded_by_others(recorded_on):
    """Did a GradientTape or an accumulator (not the double-backward helper) record this op?"""
    return any(type(t) is not _HelperTape for t in recorded_on) if recorded_on else False


class TangentTable:
    """One row per (accumulator, tensor) tangent: the tangent's id and its summary, made in bulk."""

    def __init__(self, store):
        self.store = store
        self.values = TensorTable()      # its summary columns; its id columns are not used
        self.values.dtypes_values = store.dtypes.values
        self.accumulator = array("q")
        self.tensor = array("q")         # the tensor with the tangent (a primal or an op's output)
        self.tangent = array("q")        # the tangent's own tensor id

    def add(self, accumulator_id, tensor_id, tangent):
        value = tangent._value
        if type(value) is not np.ndarray:
            value = np.asarray(value)
        store = self.store
        shape, dtype = store.shapes.codes.get(value.shape), store.dtypes.codes.get(value.dtype)
        if shape is None:
            shape = store.shapes.code(value.shape)
        if dtype is None:
            dtype = store.dtypes.code(value.dtype)
        row = self.values.add(tangent._id, value, 0, shape, dtype)
        self.accumulator.append(accumulator_id)
        self.tensor.append(tensor_id)
        self.tangent.append(tangent._id)
        return row

    def rows(self):
        """(accumulator id, tensor id) -> row, made when a snapshot needs it (a tensor given a new tangent
        keeps the last, as the accumulator does): no dictionary entry per op while recording."""
        return dict(zip(zip(self.accumulator, self.tensor), range(len(self.tensor))))

    def summaries(self):
        """Every row's summary dict, made from the columns in one pass (a snapshot makes them all)."""
        values = self.values
        values.flush()
        shapes, dtypes = self.store.shapes.values, self.store.dtypes.values
        heads = {}
        found = []
        for shape_code, dtype_code, low, high, mean, bad in zip(values.shape, values.dtype, values.minimum,
                                                                values.maximum, values.mean, values.nonfinite):
            head = heads.get((shape_code, dtype_code))
            if head is None:
                shape = shapes[shape_code]
                head = heads[(shape_code, dtype_code)] = (shape, dtype_name(dtypes[dtype_code]), math.prod(shape))
            summary = {"shape": list(head[0]), "dtype": head[1], "size": head[2]}
            if bad != _NO_STATS:
                summary.update(min=low, max=high, mean=mean, nonfinite=bad)
            found.append(summary)
        return found


class ForwardRecording:
    """The Recorder's observer methods for forward mode (``accumulator_*``, ``tangents_pushed``, ``jvp_computed``)."""

    def _forward_state(self):
        found = getattr(self, "_forward", None)
        if found is None:
            found = self._forward = {"ids": {}, "refs": {}, "infos": {}, "table": TangentTable(self.store),
                                     "jvps": [], "calls": itertools.count(1)}
        return found

    def _accumulator_id(self, accumulator):
        forward = self._forward_state()
        key = id(accumulator)
        found = forward["ids"].get(key)
        if found is None:
            found = forward["ids"][key] = len(forward["infos"]) + 1
            forward["infos"][found] = AccumulatorInfo(found)

            def forget(_, key=key, ids=forward["ids"], refs=forward["refs"]):
                ids.pop(key, None)
                refs.pop(key, None)
            forward["refs"][key] = weakref.ref(accumulator, forget)
        return found

    def _add_tangent(self, accumulator_id, tensor_id, tangent):
        self._forward["table"].add(accumulator_id, tensor_id, tangent)
        self._keep(("tangent", accumulator_id, tensor_id), tangent._value)

    def accumulator_created(self, accumulator, primals):
        from .recorder import user_location

        with self._lock:
            accumulator_id = self._accumulator_id(accumulator)
            info = self._forward["infos"][accumulator_id]
            info.location = location = user_location(3)
            for primal in primals:
                self._tensor(primal, location)
                info.primals.append(primal._id)
                tangent = accumulator._tangents.get(primal._id)
                if tangent is not None:
                    self._add_tangent(accumulator_id, primal._id, tangent)

    def accumulator_entered(self, accumulator):
        with self._lock:
            forward = self._forward_state()
            info = forward["infos"][self._accumulator_id(accumulator)]
            info.spans.append([next(self._seq), None])
            forward["active"] = forward.get("active", 0) + 1

    def accumulator_exited(self, accumulator):
        with self._lock:
            forward = self._forward_state()
            info = forward["infos"][self._accumulator_id(accumulator)]
            if info.spans and info.spans[-1][1] is None:
                info.spans[-1][1] = next(self._seq)
            forward["active"] = max(forward.get("active", 0) - 1, 0)
            if not forward["active"] and forward.get("filtering"):
                # No accumulator records now: ops go to the recorder's own op_executed again (the compiled
                # one where it is installed).
                forward["filtering"] = False
                unfiltered = forward.pop("unfiltered", None)
                if unfiltered is not None:
                    self.op_executed = unfiltered
                else:
                    self.__dict__.pop("op_executed", None)

    def tangents_started(self, accumulator, output_ids):
        """An op's tangents are about to be computed: its tangent ops that only the accumulator's helper sees
        (no tape, no other accumulator records them) are not kept; they are most of a forward-mode run's ops
        and nothing shows them. ``op_executed`` is swapped for a filter until no accumulator is active (set
        and removed once, not per op: changing an instance's attributes per op slowed every look-up on it)."""
        _tangent_depth.value += 1   # per thread: no lock needed
        forward = self._forward_state()
        if not forward.get("filtering"):
            with self._lock:
                forward["filtering"] = True
                forward["unfiltered"] = self.__dict__.get("op_executed")  # the compiled op path, if installed
                self.op_executed = self._tangent_op_executed

    def _tangent_op_executed(self, op_type, inputs, outputs, attrs, grad_fn, recorded_on):
        if _tangent_depth.value and not _recorded_by_others(recorded_on):
            return
        unfiltered = self._forward.get("unfiltered")
        if unfiltered is not None:
            unfiltered(op_type, inputs, outputs, attrs, grad_fn, recorded_on)
        else:
            type(self).op_executed(self, op_type, inputs, outputs, attrs, grad_fn, recorded_on)

    def tangents_pushed(self, accumulator, output_ids, tangents):
        """An op gave its outputs tangents (after the op itself was observed)."""
        _tangent_depth.value -= 1
        with self._lock:
            accumulator_id = self._accumulator_id(accumulator)
            for output_id, tangent in zip(output_ids, tangents):
                if tangent is not None:
                    self._add_tangent(accumulator_id, output_id, tangent)

    def jvp_computed(self, accumulator, targets, results, connected, unconnected):
        from .recorder import user_location

        with self._lock:
            forward = self._forward_state()
            accumulator_id = self._accumulator_id(accumulator)
            location = user_location(3)
            call = JvpCall(next(forward["calls"]), next(self._seq), accumulator_id, [t._id for t in targets],
                           {"unconnected_gradients": unconnected}, [], location)
            for target, result, has_tangent in zip(targets, results, connected):
                self._tensor(target, location)
                item = JvpResult(target._id, result is None)
                if not has_tangent:
                    item.reason = self._jvp_reason(forward["infos"][accumulator_id], target)
                if result is not None:   # its own summary: a jvp call is one per many ops, and needs no look-up
                    item.tangent, item.summary = result._id, summarize(result._value)
                    self._keep(("jvp", call.id, target._id), np.asarray(result._value))
                call.results.append(item)
            self.run.names.update(names_at(location, "jvp", call.targets, []))
            forward["jvps"].append(call)

    def _jvp_reason(self, info, target):
        """Why ``target`` has no tangent in the accumulator: its dtype, when it was made, or no path."""
        value = target._value_for_read()
        if np.asarray(value).dtype not in FLOATING_NUMPY:
            return "NOT_FLOATING"
        store = self.store
        row = store.tensors.row(target._id)
        producer = store.tensors.producer[row] if row is not None else 0
        if producer:
            seq = store.seq[producer - 1]
            if not any(start < seq and (end is None or seq < end) for start, end in info.spans):
                return "OUTSIDE_ACCUMULATOR"
        return "NOT_CONNECTED"

    def _producers(self, tensor_ids):
        """The op that made each tensor (0 for a leaf or an unknown id), looked up for all at once."""
        table = self.store.tensors
        ids = np.frombuffer(table.ordered_ids, np.int64) if len(table.ordered_ids) else np.zeros(0, np.int64)
        wanted = np.asarray(tensor_ids, np.int64)
        at = np.searchsorted(ids, wanted)
        inside = at < len(ids)
        found = np.zeros(len(wanted), bool)
        found[inside] = ids[at[inside]] == wanted[inside]
        rows = np.full(len(wanted), -1, np.int64)
        rows[found] = np.frombuffer(table.ordered_rows, np.int64)[at[found]]
        late = table.late
        for k in np.flatnonzero(~found):
            rows[k] = late.get(int(wanted[k]), -1)
        producer = np.frombuffer(table.producer, np.int64) if len(table.producer) else np.zeros(1, np.int64)
        return np.where(rows >= 0, producer[np.maximum(rows, 0)], 0).tolist()

    def forward_snapshot(self):
        """(accumulators, jvp calls) as plain data for a snapshot of the run (call with the lock held)."""
        forward = getattr(self, "_forward", None)
        if forward is None:
            return {}, []
        table, store, values = forward["table"], self.store, self._values
        summaries = table.summaries()
        tensors = store.tensors
        accumulators = {}
        for accumulator_id, live in forward["infos"].items():
            accumulators[accumulator_id] = AccumulatorInfo(accumulator_id, live.location, list(live.primals), [], {},
                                                           [list(s) for s in live.spans])
        rows = table.rows()
        producers = dict(zip(rows, self._producers([tensor_id for _, tensor_id in rows])))
        ops = {accumulator_id: set() for accumulator_id in accumulators}
        one = one_value
        for key, row in rows.items():
            accumulator_id, tensor_id = key
            summary = summaries[row]
            value = values.get(("tangent", accumulator_id, tensor_id))   # kept arrays are never written to
            accumulators[accumulator_id].tangents[tensor_id] = Tangent(
                tensor_id, table.tangent[row], summary, value if value is not None else one(summary))
            producer = producers[key]
            if producer:
                ops[accumulator_id].add(producer)
        for accumulator_id, op_ids in ops.items():
            accumulators[accumulator_id].ops = sorted(op_ids)
        calls = []
        for live in forward["jvps"]:
            results = []
            for r in live.results:
                value = values.get(("jvp", live.id, r.target))
                results.append(JvpResult(r.target, r.is_none, dict(r.summary), r.tangent,
                                         np.array(value) if value is not None else one_value(r.summary), r.reason))
            calls.append(JvpCall(live.id, live.seq, live.accumulator, list(live.targets), dict(live.options), results,
                                 live.location))
        return accumulators, calls
