"""Checks that a Run holds together, so every consumer (show, explain, the inspector) can trust it.

A tape file is data from outside: a loaded Run must have the types the model declares (an int
where an int belongs, never a string or a bool), and every id it mentions must name a tape, op
or tensor of the same run. ``check_run`` raises ``InvalidRun`` with one line saying what is wrong
and where (``op 17: input 99 is not a tensor of the run``). It looks at each item once, so it
costs a small fraction of loading.
"""
from itertools import chain
from operator import attrgetter, itemgetter

import numpy as np

from .model import (JVP_REASONS, AccumulatorInfo, Event, Explanation, GradientCall, GradientResult, JvpCall, JvpResult,
                    Location, OpInfo, Tangent, TapeInfo, TensorInfo)

# Kinds of arrays a tape file may hold: numbers and bools, never objects, strings or records.
ARRAY_KINDS = frozenset("biufc")
MAX_PLAIN_DEPTH = 16  # meta, attrs, options: plain JSON data, nested at most this deep
_NUMBER = (int, float)


class InvalidRun(ValueError):
    """The run does not hold together; the message says which item and what is wrong with it."""


def show(value, limit=60):
    """``value`` for an error message: repr'd (control characters escaped) and cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _a(kind):
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _fail(where, message):
    raise InvalidRun(f"{where}: {message}")


def _is_int(value):
    return type(value) is int


def _check_int(value, where, what, allow_none=False):
    if value is None and allow_none:
        return
    if type(value) is not int:
        _fail(where, f"{what} must be an integer{' or null' if allow_none else ''}, not {show(value)}")


def _check_str(value, where, what, allow_none=False):
    if value is None and allow_none:
        return
    if type(value) is not str:
        _fail(where, f"{what} must be a string{' or null' if allow_none else ''}, not {show(value)}")


def _check_bool(value, where, what, allow_none=False):
    if value is None and allow_none:
        return
    if type(value) is not bool:
        _fail(where, f"{what} must be true or false{' or null' if allow_none else ''}, not {show(value)}")


def _check_location(value, where, what="location"):
    if value is None:
        return
    if type(value) is not Location:
        _fail(where, f"{what} must be [file, line, function], not {show(value)}")
    if type(value.file) is not str or type(value.line) is not int or type(value.function) is not str:
        _fail(where, f"{what} must be [file, line, function], not {show([value.file, value.line, value.function])}")


def _check_ids(values, known, where, what, kind):
    """``values`` is a list of ints, each a key of ``known``."""
    if type(values) is not list:
        _fail(where, f"{what} must be a list of {kind} ids, not {show(values)}")
    for value in values:
        if type(value) is not int or value not in known:
            _fail(where, f"{what} mentions {show(value)}, which is not {_a(kind)} of the run")


def check_plain(value, where, what, depth=0):
    """JSON-like data: None, bool, int, float, str, lists of them, dicts with string keys."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return
    if depth >= MAX_PLAIN_DEPTH:
        _fail(where, f"{what} is nested more than {MAX_PLAIN_DEPTH} deep")
    if kind is list:
        for item in value:
            check_plain(item, where, what, depth + 1)
    elif kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                _fail(where, f"{what} has a key that is not a string: {show(key)}")
            check_plain(item, where, what, depth + 1)
    else:
        _fail(where, f"{what} holds {type(value).__name__} {show(value)}, not plain data")


def _check_array(value, where, what):
    if value is None:
        return
    if type(value) is not np.ndarray or value.dtype.kind not in ARRAY_KINDS:
        _fail(where, f"{what} must be a numeric array, not {show(value)}")


def _check_summary(summary, where, what="summary"):
    """The statistics kept for a value: {} or shape, dtype, size and, for numbers, min, max, mean, nonfinite
    and (since it is kept) norm."""
    if type(summary) is not dict:
        _fail(where, f"{what} must be a dict, not {show(summary)}")
    check_plain(summary, where, what)
    if not summary:
        return
    shape, dtype, size = summary.get("shape"), summary.get("dtype"), summary.get("size")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        _fail(where, f"{what} has shape {show(shape)}, not a list of sizes")
    _check_str(dtype, where, f"{what} dtype")
    _check_int(size, where, f"{what} size")
    for key in ("min", "max", "mean", "norm"):
        if key in summary and (type(summary[key]) not in _NUMBER):
            _fail(where, f"{what} {key} must be a number, not {show(summary[key])}")
    if ("min" in summary) != ("max" in summary) or ("min" in summary) != ("mean" in summary):
        _fail(where, f"{what} has some of min, max and mean but not all three")
    if "nonfinite" in summary:
        _check_int(summary["nonfinite"], where, f"{what} nonfinite")


def _check_keyed(table, cls, name):
    if type(table) is not dict:
        _fail(name, f"must be a table of {cls.__name__}, not {show(table)}")
    items = list(table.values())
    if set(map(type, items)) - {cls}:
        key = next(k for k, item in table.items() if type(item) is not cls)
        _fail(f"{name} {show(key)}", f"is not a {cls.__name__}")
    ids = list(map(attrgetter("id"), items))
    if set(map(type, ids)) - _INT or ids != list(table):
        for key, item in table.items():
            if type(item.id) is not int or item.id != key:
                _fail(f"{name} {show(key)}", f"is filed under id {show(key)} but says id {show(item.id)}")
    return items


# Whole-column checks: the types of one field of every item at once (C loops over map and set), and
# a walk item by item only to name the culprit when something is wrong. Loading a 10,000-op run
# spends a few milliseconds here instead of a tenth of a second.
_INT, _STR, _BOOL, _LIST = frozenset([int]), frozenset([str]), frozenset([bool]), frozenset([list])
_NONE = type(None)
_EXPECTED = {_INT: "an integer", _STR: "a string", _BOOL: "true or false", _LIST: "a list"}


def _column(items, attr, types, label, optional=False):
    values = list(map(attrgetter(attr), items))
    allowed = types | {_NONE} if optional else types
    if not set(map(type, values)) <= allowed:
        for item, value in zip(items, values):
            if type(value) not in allowed:
                _fail(label(item), f"{attr} must be {_EXPECTED[types]}{' or null' if optional else ''}, "
                                   f"not {show(value)}")
    return values


def _refs(items, attr, known, kind, label, optional=True):
    """A column of ids (or nulls) that must each name a ``kind`` in ``known``."""
    values = _column(items, attr, _INT, label, optional)
    wanted = set(values)
    wanted.discard(None)
    if not known.keys() >= wanted:
        for item, value in zip(items, values):
            if value is not None and value not in known:
                _fail(label(item), f"{attr} {show(value)} is not {_a(kind)} of the run")
    return values


def _id_lists(items, attr, known, kind, label):
    """A column of lists of ids that must each name a ``kind`` in ``known``."""
    lists = _column(items, attr, _LIST, label)
    flat = list(chain.from_iterable(lists))
    if not set(map(type, flat)) <= _INT or not known.keys() >= set(flat):
        for item, values in zip(items, lists):
            for value in values:
                if type(value) is not int or value not in known:
                    _fail(label(item), f"{attr} mentions {show(value)}, which is not {_a(kind)} of the run")
    return lists


def _locations(items, attr, label):
    values = list(map(attrgetter(attr), items))
    if not set(map(type, values)) <= {Location, _NONE}:
        for item, value in zip(items, values):
            _check_location(value, label(item), attr)
    unique = dict(zip(map(id, values), values))  # locations are shared by many items: check each once
    unique.pop(id(None), None)
    if unique:
        files, lines, functions = zip(*((v.file, v.line, v.function) for v in unique.values()))
        if not (set(map(type, files)) <= _STR and set(map(type, lines)) <= _INT and set(map(type, functions)) <= _STR):
            for item, value in zip(items, values):
                _check_location(value, label(item), attr)


def _shapes(items, attr, label, kind=tuple):
    shapes = list(map(attrgetter(attr), items))
    if set(map(type, shapes)) - {kind}:
        bad = next(i for i, s in zip(items, shapes) if type(s) is not kind)
        _fail(label(bad), f"{attr} must be a list of sizes, not {show(getattr(bad, attr))}")
    flat = list(chain.from_iterable(shapes))
    if not set(map(type, flat)) <= _INT or (flat and min(flat) < 0):
        for item, shape in zip(items, shapes):
            if not all(type(n) is int and n >= 0 for n in shape):
                _fail(label(item), f"{attr} must be a list of sizes, not {show(shape)}")


# Whole-column checks run on slices of this many items: one C call over 150,000 summaries held the
# GIL for 50-60 ms, stalling other threads (the inspector's window) while a file loads.
_SLICE = 16_384


def _summaries(items, label, attr="summary"):
    """Every item's summary: the usual ones (3, 7 or 8 keys) a column at a time, any other one by one."""
    for start in range(0, len(items), _SLICE):
        _summary_slice(items[start:start + _SLICE], label, attr)


def _summary_slice(items, label, attr):
    summaries = list(map(attrgetter(attr), items))

    def one_by_one():
        for item, summary in zip(items, summaries):
            _check_summary(summary, label(item), attr)

    if set(map(type, summaries)) - {dict}:
        return one_by_one()
    lengths = list(map(len, summaries))
    for keys, types in ((_NORMED_SUMMARY, _NORMED_TYPES), (_FULL_SUMMARY, _FULL_TYPES),
                        (_STANDARD_SUMMARY, _STANDARD_TYPES)):
        group = [s for s, n in zip(summaries, lengths) if n == len(keys)]
        if not group:
            continue
        try:
            columns = list(zip(*map(itemgetter(*keys), group)))
        except KeyError:
            return one_by_one()
        for column, allowed in zip(columns, types):
            if set(map(type, column)) - allowed:
                return one_by_one()
        sizes = list(chain.from_iterable(columns[0]))
        if set(map(type, sizes)) - _INT or (sizes and min(sizes) < 0):
            return one_by_one()
    for item, summary, length in zip(items, summaries, lengths):
        if length not in (0, 3, 7, 8):
            _check_summary(summary, label(item), attr)


_STANDARD_SUMMARY = ("shape", "dtype", "size")
_FULL_SUMMARY = _STANDARD_SUMMARY + ("min", "max", "mean", "nonfinite")
_NUMBER_TYPES = frozenset(_NUMBER)
_STANDARD_TYPES = (_LIST, _STR, _INT)
_FULL_TYPES = _STANDARD_TYPES + (_NUMBER_TYPES, _NUMBER_TYPES, _NUMBER_TYPES, _INT)
_NORMED_SUMMARY = _FULL_SUMMARY + ("norm",)
_NORMED_TYPES = _FULL_TYPES + (_NUMBER_TYPES,)


def _arrays(items, attr, label):
    values = [v for v in map(attrgetter(attr), items) if v is not None]
    if values and (set(map(type, values)) - {np.ndarray} or {v.dtype.kind for v in values} - ARRAY_KINDS):
        for item in items:
            _check_array(getattr(item, attr), label(item), attr)


def check_run(run, from_tables=False, progress=None):
    """Raise InvalidRun unless every field of ``run`` has its declared type and every id resolves.

    ``from_tables``: every string field of the ops, tensors and events was taken from a string
    table, and every location from a location table, both already checked (tape file versions 2
    and 3): those columns need no second look. ``progress``, if given, is called with the fraction
    of the checks done between the tables (it may raise to stop them).
    """
    def already_checked(*args, **kwargs):
        return None

    if progress is None:
        def progress(done):
            return None

    _strings = already_checked if from_tables else _column
    _locations_of = already_checked if from_tables else _locations
    tapes, ops, tensors = run.tapes, run.ops, run.tensors
    tape_items = _check_keyed(tapes, TapeInfo, "tape")
    op_items = _check_keyed(ops, OpInfo, "op")
    tensor_items = _check_keyed(tensors, TensorInfo, "tensor")

    for tape in tape_items:
        where = f"tape {tape.id}"
        _check_bool(tape.persistent, where, "persistent")
        _check_bool(tape.watch_accessed_variables, where, "watch_accessed_variables")
        _check_location(tape.location, where)
        if tape.parent is not None and (type(tape.parent) is not int or tape.parent not in tapes):
            _fail(where, f"parent {show(tape.parent)} is not a tape of the run")
        _check_ids(tape.ops, ops, where, "ops", "op")
        if type(tape.spans) is not list:
            _fail(where, f"spans must be a list, not {show(tape.spans)}")
        for span in tape.spans:
            if type(span) is not list or len(span) != 2 or type(span[0]) is not int \
                    or not (span[1] is None or type(span[1]) is int):
                _fail(where, f"span {show(span)} is not [enter seq, exit seq or null]")
        if type(tape.resets) is not list or not all(type(s) is int for s in tape.resets):
            _fail(where, f"resets must be a list of seqs, not {show(tape.resets)}")

    def op_label(op):
        return f"op {op.id}"

    progress(0.1)
    _column(op_items, "seq", _INT, op_label)
    _column(op_items, "backward", _BOOL, op_label)
    for attr in ("type", "rule", "rule_source", "scope"):
        _strings(op_items, attr, _STR, op_label)
    for attr in ("inputs", "outputs"):
        _id_lists(op_items, attr, tensors, "tensor", op_label)
    for attr in ("tapes", "recording_tapes", "paused_tapes"):
        _id_lists(op_items, attr, tapes, "tape", op_label)
    attrs = _column(op_items, "attrs", frozenset([dict]), op_label) if op_items else []
    for op, value in zip(op_items, attrs):
        if value:
            check_plain(value, op_label(op), "attrs")
    _locations_of(op_items, "location", op_label)

    def tensor_label(tensor):
        return f"tensor {tensor.id}"

    progress(0.4)
    _refs(tensor_items, "read_of", tensors, "tensor", tensor_label)

    for attr in ("kind", "dtype"):
        _strings(tensor_items, attr, _STR, tensor_label)
    _strings(tensor_items, "name", _STR, tensor_label, optional=True)
    _column(tensor_items, "trainable", _BOOL, tensor_label, optional=True)
    _shapes(tensor_items, "shape", tensor_label)
    producers = _refs(tensor_items, "producer", ops, "op", tensor_label)
    made, claimed = set(), set()
    for start in range(0, max(len(op_items), len(tensor_items)), _SLICE):  # slices: see _SLICE
        some_ops = op_items[start:start + _SLICE]
        made.update(zip([op.id for op in some_ops for _ in op.outputs],
                        chain.from_iterable(map(attrgetter("outputs"), some_ops))))
        claimed.update(zip(producers[start:start + _SLICE], map(attrgetter("id"), tensor_items[start:start + _SLICE])))
    claimed.discard((None, None))
    if not made >= {pair for pair in claimed if pair[0] is not None}:
        for tensor, producer in zip(tensor_items, producers):
            if producer is not None and tensor.id not in ops[producer].outputs:
                _fail(tensor_label(tensor), f"says op {producer} produced it, but that op's outputs do not include "
                                            "it")
    _arrays(tensor_items, "value", tensor_label)
    _summaries(tensor_items, tensor_label)
    _locations_of(tensor_items, "first_seen", tensor_label)

    progress(0.8)
    events = run.events
    if type(events) is not list:
        _fail("events", f"must be a list, not {show(events)}")
    if set(map(type, events)) - {Event}:
        _fail(f"event {next(n for n, e in enumerate(events) if type(e) is not Event)}", "is not an event")
    def event_label(event):  # only for an error message: find its number then
        return f"event {next(number for number, other in enumerate(events) if other is event)}"

    _column(events, "seq", _INT, event_label)
    _strings(events, "kind", _STR, event_label)
    _strings(events, "detail", _STR, event_label)
    _strings(events, "scope", _STR, event_label)
    _refs(events, "tape", tapes, "tape", event_label)
    _refs(events, "tensor", tensors, "tensor", event_label)
    _locations_of(events, "location", event_label)
    for event in events:
        if event.kind in ("assign", "assign_add", "assign_sub") and event.detail \
                and not (event.detail.isascii() and event.detail.isdigit() and len(event.detail) < 20):
            _fail(event_label(event), f"detail of an {event.kind} must be the assigned tensor's id, "
                                      f"not {show(event.detail)}")

    progress(0.9)
    if type(run.calls) is not list:
        _fail("calls", f"must be a list, not {show(run.calls)}")
    for number, call in enumerate(run.calls):
        _check_call(call, number, run)

    _check_forward(run)

    for name, table, check_key, check_value in (
            ("names", run.names, _is_int, lambda v: type(v) is str),
            ("sources", run.sources, lambda k: type(k) is str, lambda v: type(v) is str)):
        if type(table) is not dict:
            _fail(name, f"must be a dict, not {show(table)}")
        for key, value in table.items():
            if not check_key(key) or not check_value(value):
                _fail(name, f"entry {show(key)}: {show(value)} has the wrong type")
    if type(run.meta) is not dict:
        _fail("meta", f"must be a dict, not {show(run.meta)}")
    check_plain(run.meta, "meta", "meta")


def _check_call(call, number, run):
    where = f"gradient call {number}"
    if type(call) is not GradientCall:
        _fail(where, "is not a gradient call")
    _check_int(call.id, where, "id")
    _check_int(call.seq, where, "seq")
    if type(call.tape) is not int or call.tape not in run.tapes:
        _fail(where, f"tape {show(call.tape)} is not a tape of the run")
    _check_str(call.kind, where, "kind")
    _check_ids(call.targets, run.tensors, where, "targets", "tensor")
    _check_ids(call.sources, run.tensors, where, "sources", "tensor")
    _check_results(call, where, call.sources, GradientResult, "source")
    for result in call.results:
        if type(result.explanations) is not dict:
            _fail(where, f"explanations must be a dict, not {show(result.explanations)}")
        for target, explanation in result.explanations.items():
            if type(target) is not int or target not in call.targets:
                _fail(where, f"explains target {show(target)}, which is not one of the call's targets")
            _check_explanation(explanation, where, run)


def _check_spans(spans, where):
    if type(spans) is not list:
        _fail(where, f"spans must be a list, not {show(spans)}")
    for span in spans:
        if type(span) is not list or len(span) != 2 or type(span[0]) is not int \
                or not (span[1] is None or type(span[1]) is int):
            _fail(where, f"span {show(span)} is not [enter seq, exit seq or null]")


def _check_forward(run):
    """Forward mode: accumulators (primals, ops, tangents) and jvp calls, every id resolved."""
    accumulators, jvps = run.accumulators, run.jvps
    items = _check_keyed(accumulators, AccumulatorInfo, "accumulator")
    for info in items:
        where = f"accumulator {info.id}"
        _check_location(info.location, where)
        _check_ids(info.primals, run.tensors, where, "primals", "tensor")
        _check_ids(info.ops, run.ops, where, "ops", "op")
        _check_spans(info.spans, where)
        if type(info.tangents) is not dict:
            _fail(where, f"tangents must be a dict, not {show(info.tangents)}")
        for tensor_id, tangent in info.tangents.items():
            if type(tangent) is not Tangent:
                _fail(where, f"tangent {show(tangent)} is not a tangent")
            if type(tensor_id) is not int or tangent.tensor != tensor_id or tensor_id not in run.tensors:
                _fail(where, f"has a tangent for {show(tangent.tensor)}, which is not a tensor of the run")
            _check_int(tangent.tangent, where, "tangent id")
            _check_summary(tangent.summary, where, "tangent summary")
            _check_array(tangent.value, where, "tangent value")
    if type(jvps) is not list:
        _fail("jvps", f"must be a list, not {show(jvps)}")
    for number, call in enumerate(jvps):
        where = f"jvp call {number}"
        if type(call) is not JvpCall:
            _fail(where, "is not a jvp call")
        _check_int(call.id, where, "id")
        _check_int(call.seq, where, "seq")
        if type(call.accumulator) is not int or call.accumulator not in accumulators:
            _fail(where, f"accumulator {show(call.accumulator)} is not an accumulator of the run")
        _check_ids(call.targets, run.tensors, where, "targets", "tensor")
        _check_str(call.kind, where, "kind")
        _check_results(call, where, call.targets, JvpResult, "target")
        for result in call.results:
            _check_int(result.tangent, where, "result tangent", allow_none=True)
            if type(result.reason) is not str or (result.reason and result.reason not in JVP_REASONS):
                _fail(where, f"reason {show(result.reason)} is not one of {', '.join(sorted(JVP_REASONS))}")


def _check_results(call, where, subjects, result_type, subject):
    """What a gradient call and a jvp call share: plain options, a location, and one result per
    ``subject`` (source or target), each of ``result_type``, naming it, with a value and a summary."""
    if type(call.options) is not dict:
        _fail(where, f"options must be a dict, not {show(call.options)}")
    check_plain(call.options, where, "options")
    _check_location(call.location, where)
    if type(call.results) is not list or len(call.results) != len(subjects):
        _fail(where, f"must have one result per {subject} ({len(subjects)}), not {show(call.results)}")
    noun = "gradient" if result_type is GradientResult else "jvp"
    for result, expected in zip(call.results, subjects):
        if type(result) is not result_type:
            _fail(where, f"result {show(result)} is not a {noun} result")
        if getattr(result, subject) != expected:
            _fail(where, f"result for {show(getattr(result, subject))} does not match its {subject} {expected}")
        _check_bool(result.is_none, where, "is_none")
        _check_array(result.value, where, "result value")
        _check_summary(result.summary, where, "result summary")


def _check_explanation(explanation, where, run):
    if type(explanation) is not Explanation:
        _fail(where, f"explanation {show(explanation)} is not an explanation")
    for key in ("code", "sentence", "fix"):
        _check_str(getattr(explanation, key), where, f"explanation {key}")
    if type(explanation.evidence) is not list:
        _fail(where, f"explanation evidence must be a list, not {show(explanation.evidence)}")
    for item in explanation.evidence:
        if type(item) is not dict:
            _fail(where, f"evidence {show(item)} is not a dict")
        if "what" not in item:
            _fail(where, f"evidence {show(item)} says not what it is (no 'what')")
        _check_str(item["what"], where, "evidence 'what'")
        op, tensor = item.get("op"), item.get("tensor")
        if op is not None and (type(op) is not int or op not in run.ops):
            _fail(where, f"evidence names op {show(op)}, which is not an op of the run")
        if tensor is not None and type(tensor) is not int:
            _fail(where, f"evidence tensor must be an id, not {show(tensor)}")
        _check_location(item.get("location"), where, "evidence location")
        for key, value in item.items():
            if key != "location":
                check_plain(value, where, f"evidence {key}")

