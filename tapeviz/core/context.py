"""Per-thread recording state: which tapes are recording and who wants to hear of variable reads.

Tapes are thread-local, as in TensorFlow: an op run in one thread is never recorded by a tape
opened in another.
"""
import threading


class _ThreadState(threading.local):
    def __init__(self):
        self.tapes = []              # recording GradientTapes, outermost first
        self.variable_watchers = []  # callables told of every variable read (custom_gradient)


state = _ThreadState()


def variable_accessed(variable):
    """Tell the recording tapes and watchers that ``variable`` was read (TF's variable_accessed)."""
    if variable.trainable:
        for tape in state.tapes:
            if tape._watch_accessed_variables:
                tape._watch_variable(variable)
    for watcher in state.variable_watchers:
        watcher(variable)
