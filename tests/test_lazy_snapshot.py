"""A recording's events and gradient calls are made when they are first read (LazyList): a snapshot read
later, or never, is the snapshot read at once, and to its readers the lists are lists."""
import bisect
import copy
import pickle

import numpy as np

import tapeviz as tf
from tapeviz.inspection.lazylist import LazyList
from tapeviz.inspection.tapefile import load, save

from recording_helpers import recorder_must_not_fail  # noqa: F401  (autouse fixture)
from test_recording_batches import canonical, program


def _lazy(items):
    import threading

    return LazyList(lambda: list(items), threading.RLock())


def test_a_lazy_list_reads_as_the_list_of_its_items():
    items = [3, 1, 2]
    assert _lazy(items) == items and items == _lazy(items) and _lazy(items) == _lazy(items)
    assert not _lazy(items) != items and _lazy(items) != [3, 1]
    assert len(_lazy(items)) == 3 and bool(_lazy(items)) and not _lazy([])
    assert list(_lazy(items)) == items and list(reversed(_lazy(items))) == [2, 1, 3]
    assert _lazy(items)[1] == 1 and _lazy(items)[-1] == 2 and _lazy(items)[1:] == [1, 2]
    assert 2 in _lazy(items) and _lazy(items).index(2) == 2 and _lazy(items).count(1) == 1
    assert [0] + _lazy(items) == [0, 3, 1, 2] and _lazy(items) + [4] == [3, 1, 2, 4]
    assert _lazy(items) + _lazy([4]) == [3, 1, 2, 4] and _lazy([1]) * 2 == [1, 1]
    assert sorted(_lazy(items)) == [1, 2, 3] and tuple(_lazy(items)) == (3, 1, 2) and max(_lazy(items)) == 3
    assert _lazy([1, 2]) < _lazy([1, 3]) and [1, 2] < _lazy([1, 3]) and repr(_lazy(items)) == "[3, 1, 2]"
    ordered = _lazy([1, 3, 5, 7])
    assert bisect.bisect_left(ordered, 5) == 2 and bisect.bisect_right(ordered, 6, key=lambda v: v) == 3
    extended = [9]
    extended.extend(_lazy(items))
    assert extended == [9, 3, 1, 2]
    changed = _lazy(items)
    changed.append(4)
    changed[0] = 0
    del changed[1]
    assert changed == [0, 2, 4] and items == [3, 1, 2]
    for made in (copy.copy(_lazy(items)), copy.deepcopy(_lazy(items)), pickle.loads(pickle.dumps(_lazy(items))),
                 _lazy(items).copy(), _lazy(items)[:]):
        assert type(made) is list and made == items
    assert type(_lazy(items))(iter(items)) == items  # made from items, as dataclasses.asdict copies a list


def _record(steps_after):
    """The batches program recorded; a snapshot taken after it and another ``steps_after`` programs later,
    read only then (and the first one read at once, for comparison)."""
    early = tf.Variable([1.0, 2.0, 3.0], name="early")
    with tf.record() as recorder:
        with np.errstate(all="ignore"):
            program(early)
            read_now = recorder.snapshot()
            now = canonical(read_now)
            later = recorder.snapshot()
            for _ in range(steps_after):
                program(early)
    return now, later, recorder


def test_a_snapshot_read_after_more_recording_is_the_snapshot_it_was():
    now, later, recorder = _record(2)
    assert list.__len__(later.events) == 0 and list.__len__(later.calls) == 0  # nothing made until read
    assert canonical(later) == now
    assert now["calls"] and now["events"] and any(r[4] for c in now["calls"] for r in c[8])  # explained Nones
    # The live run sees every call and event, those of the later programs too, and its first ones as the
    # snapshot has them.
    live = canonical(recorder.snapshot())
    assert len(live["calls"]) == 3 * len(now["calls"]) and len(live["events"]) == 3 * len(now["events"])
    assert live["calls"][:len(now["calls"])] == now["calls"] and live["events"][:len(now["events"])] == now["events"]


def test_the_live_run_read_during_recording_and_a_saved_snapshot_agree(tmp_path):
    early = tf.Variable([1.0, 2.0, 3.0], name="early")
    with tf.record() as recorder:
        with np.errstate(all="ignore"):
            program(early)
            live_calls = len(recorder.run.calls)  # the live run's calls are made now, before any snapshot
            live_events = [(e.seq, e.kind, e.tape, e.tensor) for e in recorder.run.events]
            program(early)
    run = recorder.snapshot()
    assert len(run.calls) == 2 * live_calls and [(e.seq, e.kind, e.tape, e.tensor)
                                                  for e in run.events][:len(live_events)] == live_events
    assert canonical(load(save(run, tmp_path / "run.tapeviz")))["calls"] == canonical(run)["calls"]


def test_snapshots_read_while_two_threads_record_are_whole_and_in_order():
    import threading

    def work(scale):
        w = tf.Variable(np.float32(scale), name=f"w{scale}")
        for _ in range(60):
            with tf.GradientTape() as tape:
                loss = w * w
            w.assign_sub(0.01 * tape.gradient(loss, w))

    with tf.record() as recorder:
        threads = [threading.Thread(target=work, args=(s,)) for s in (1.0, 2.0)]
        for thread in threads:
            thread.start()
        seen = []
        while any(thread.is_alive() for thread in threads):
            run = recorder.snapshot()
            seen.append((len(run.calls), [e.seq for e in run.events], [c.seq for c in run.calls],
                         len(recorder.run.events)))
        for thread in threads:
            thread.join()
        run = recorder.snapshot()
    assert len(run.calls) == 120 and all(not r.is_none and r.summary for c in run.calls for r in c.results)
    for calls, event_seqs, call_seqs, live_events in seen:
        assert event_seqs == sorted(event_seqs) and call_seqs == sorted(call_seqs) and calls == len(call_seqs)
        assert live_events >= len(event_seqs)
    assert [e.seq for e in run.events] == sorted(e.seq for e in run.events)
