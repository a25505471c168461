"""Loading tape files off the UI thread, and what the panels need computed once per run.

``start_loading(path)`` begins at once in a plain thread: ``tapeviz gui FILE`` calls it before
Qt is even imported, so reading the file overlaps starting the window. ``RunLoader`` hands the
result to the UI thread; a newer request (or ``cancel``) drops an older one's result unseen.
"""
import gc
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from PySide6 import QtCore

from tapeviz.inspection.tapefile import TapeFileError


@dataclass
class RunIndex:
    """Facts about a run every view needs, computed with it in the worker (linear in its events)."""
    problems: list
    groups: list
    problems_per_tape: dict
    calls_per_tape: dict
    watched_per_tape: dict
    problems_per_accumulator: dict = field(default_factory=dict)   # forward mode: None jvp results


def index_run(run):
    from .problems import problems_per_accumulator, problems_per_tape, run_problems

    problems, groups = run_problems(run)
    calls = {}
    for call in run.calls:
        calls[call.tape] = calls.get(call.tape, 0) + 1
    watched = {tape_id: set() for tape_id in run.tapes}
    resets = {tape_id: max(t.resets) if t.resets else -1 for tape_id, t in run.tapes.items()}
    for event in run.events:   # as Run.watched, for every tape in one pass
        if event.kind in ("watch", "accessed variable") and event.tape in watched and event.seq > resets[event.tape]:
            watched[event.tape].add(event.tensor)
    return RunIndex(problems, groups, problems_per_tape(problems), calls,
                    {tape_id: len(ids) for tape_id, ids in watched.items()}, problems_per_accumulator(problems))


def _load_and_index(path, progress=None):
    """Load and index with the cyclic garbage collector held off, then frozen over the result.

    A run is hundreds of thousands of objects; a full collection walks all of them while holding
    the GIL, on whichever thread happens to trigger it: the window froze for most of a second at a
    time. The run holds no reference cycles, so nothing is lost by keeping it out of collections
    (its memory is still freed by reference counting when the run is closed).
    """
    from tapeviz.inspection.tapefile import load

    start = time.perf_counter()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        run = load(path, progress=progress)
        index = index_run(run)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    return run, index, time.perf_counter() - start


def start_loading(path, progress=None):
    """A Future of ``(run, index, seconds)`` for ``path``, being loaded in a daemon thread
    (``progress``: as for ``tapefile.load``, called in that thread)."""
    future = Future()

    def work():
        try:
            future.set_result(_load_and_index(path, progress))
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(error)

    threading.Thread(target=work, name="tapeviz-load", daemon=True).start()
    return future


def index_in_thread(run):
    """A Future of ``(run, index, 0.0)`` for a run already in memory (one a script just recorded)."""
    future = Future()

    def work():
        try:
            future.set_result((run, index_run(run), 0.0))
        except BaseException as error:  # noqa: BLE001
            future.set_exception(error)

    threading.Thread(target=work, name="tapeviz-index", daemon=True).start()
    return future


class RunLoader(QtCore.QObject):
    loaded = QtCore.Signal(object, object, str)   # Run, RunIndex, where it came from
    failed = QtCore.Signal(str, str)              # message, path
    progress = QtCore.Signal(float, str)          # fraction of the file loaded, step (from the worker, queued)
    _arrived = QtCore.Signal(int, object, str)    # from the worker thread: generation, future, origin

    def __init__(self, parent=None):
        super().__init__(parent)
        self._generation = 0
        self._busy = False
        self._arrived.connect(self._deliver, QtCore.Qt.ConnectionType.QueuedConnection)

    def is_busy(self):
        return self._busy

    def load(self, path, future=None):
        """Load a tape file (or adopt a load already started for it); ``loaded`` or ``failed`` follows."""
        generation = self._generation + 1  # the one _watch gives this load

        def report(fraction, step):  # in the worker: a newer load or cancel() stops this one's reading
            if self._generation > generation:  # (it may report before _watch below has counted it)
                return False
            try:
                self.progress.emit(fraction, step)
            except RuntimeError:  # the window closed
                return False
        self._watch(future or start_loading(path, report), path)

    def index(self, run, origin):
        """Index a run already in memory off the UI thread; ``loaded`` follows."""
        self._watch(index_in_thread(run), origin)

    def _watch(self, future, origin):
        self._generation += 1
        self._busy = True
        generation = self._generation
        def arrived(done):
            try:
                self._arrived.emit(generation, done, origin)
            except RuntimeError:   # the window closed while the file loaded: nobody is waiting
                pass
        future.add_done_callback(arrived)

    def cancel(self):
        """Forget the load under way: its result, when it comes, is dropped."""
        self._generation += 1
        self._busy = False

    @QtCore.Slot(int, object, str)
    def _deliver(self, generation, future, origin):
        if generation != self._generation:
            return   # stale: a newer load or a cancel replaced it
        self._busy = False
        error = future.exception()
        if error is not None:
            message = str(error) if isinstance(error, TapeFileError) else \
                f"Cannot open {origin}: {type(error).__name__}: {error}"
            self.failed.emit(message, origin)
            return
        run, index, _ = future.result()
        self.loaded.emit(run, index, origin)
