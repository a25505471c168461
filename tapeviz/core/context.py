"""Recording state: which tapes record in this thread, and who observes the run.

Tapes are thread-local, as in TensorFlow: an op run in one thread is never recorded by a tape
opened in another. Observers (the inspection recorder) are process-wide and see every op; with
none installed, observing costs the hot path one empty-list test.
"""
import threading


class _ThreadState(threading.local):
    def __init__(self):
        self.tapes = []              # recording GradientTapes, outermost first
        self.variable_watchers = []  # callables told of every variable read (custom_gradient)
        self.name_scope = ""         # prefix of new variables' names, "outer/inner/" (tapeviz.name_scope)
        # While GradientTape.gradient runs its backward pass with observers installed and no tape
        # recording: a function that runs the pass again. Observers are not told of that pass's ops
        # one by one (about half of a training step's ops); one that needs them (the recorder, for a
        # NaN/Inf or all-zero gradient) clears this, calls it, and sees the ops then.
        self.rerun_backward = None
        # Forward mode with observers installed: (tangent propagator, entry) pairs whose tangents are computed
        # once the observers have seen the op (forward.push_due_tangents, called by execute.record).
        self.tangents_due = []
        self.tangent_ops_hidden = False  # while tangents are computed: observers see only ops something records


state = _ThreadState()
observers = []  # objects with the methods of tapeviz.inspection.recorder.Recorder; mutated in place


def notify(event, *args):
    """Tell every observer of ``event`` (callers test ``if observers:`` first, to stay cheap).

    An observer that fails is removed with a warning: inspecting a run must never break it.
    """
    for observer in list(observers):
        try:
            getattr(observer, event)(*args)
        except Exception as error:  # noqa: BLE001 - the user's program matters more than the recording
            import warnings
            observers.remove(observer)
            warnings.warn(f"tapeviz stopped recording this run: the recorder failed on {event}: "
                          f"{type(error).__name__}: {error}", RuntimeWarning, stacklevel=3)


def variable_accessed(variable):
    """Tell the recording tapes and watchers that ``variable`` was read (TF's variable_accessed)."""
    if variable.trainable:
        for tape in state.tapes:
            if tape._watch_accessed_variables:
                tape._watch_variable(variable)
                if observers:
                    notify("watched", tape, variable, "accessed variable")
    for watcher in state.variable_watchers:
        watcher(variable)
