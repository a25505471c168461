"""The inspector's state: the open run, the chosen tape, the selection. Views observe its signals.

The run itself is the plain-data inspection model; this object only says which part is in view.
"""
from PySide6 import QtCore

from .loader import index_run


class Session(QtCore.QObject):
    run_changed = QtCore.Signal(object)          # Run or None
    tape_changed = QtCore.Signal(int)            # tape id
    node_selected = QtCore.Signal(str)           # graph node key: "op:<id>" / "t:<id>"
    result_selected = QtCore.Signal(object, object, object)  # call, result, target id (None = all)
    accumulator_changed = QtCore.Signal(int)     # forward mode: an accumulator's graph is in view
    jvp_selected = QtCore.Signal(object, object)  # JvpCall, JvpResult

    def __init__(self):
        super().__init__()
        self.run = None
        self.index = None  # RunIndex: problems, per-tape counts
        self.tape_id = None
        self.accumulator_id = None   # the accumulator in view instead of a tape (forward mode)
        self.origin = ""   # the script or tape file the run came from

    def set_run(self, run, origin="", index=None):
        self.run, self.origin = run, origin
        self.index = index if index is not None or run is None else index_run(run)
        self.tape_id = next(iter(run.tapes), None) if run is not None else None
        # A forward-mode run with no tape opens on its first accumulator.
        self.accumulator_id = next(iter(run.accumulators), None) if run is not None and self.tape_id is None else None
        self.run_changed.emit(run)
        if self.tape_id is not None:
            self.tape_changed.emit(self.tape_id)
        elif self.accumulator_id is not None:
            self.accumulator_changed.emit(self.accumulator_id)

    def set_tape(self, tape_id):
        if self.run is not None and tape_id in self.run.tapes and (tape_id != self.tape_id
                                                                   or self.accumulator_id is not None):
            self.tape_id, self.accumulator_id = tape_id, None
            self.tape_changed.emit(tape_id)

    def set_accumulator(self, accumulator_id):
        """Show a ForwardAccumulator's ops in place of a tape's."""
        if self.run is not None and accumulator_id in self.run.accumulators and accumulator_id != self.accumulator_id:
            self.tape_id, self.accumulator_id = None, accumulator_id
            self.accumulator_changed.emit(accumulator_id)
