"""``custom_gradient``: a function that supplies its own gradient, recorded as one op."""
import functools
import inspect

from . import nest
from .context import observers, state
from .execute import record
from .tensor import Tensor, convert_to_tensor


def custom_gradient(f=None):
    """Decorate ``f(*x) -> (y, grad_fn)``; ``grad_fn(*dy)`` returns one gradient per input.

    If ``f`` reads trainable variables, ``grad_fn(*dy, variables=None)`` must return
    ``(grads_for_inputs, grads_for_variables)``.
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        inputs = [convert_to_tensor(a) for a in args]
        read = {}
        watcher = lambda variable: read.setdefault(variable._id, variable)  # noqa: E731
        paused, state.tapes[:] = state.tapes[:], []
        state.variable_watchers.append(watcher)
        try:
            result, grad_fn = f(*inputs, **kwargs)
        finally:
            state.variable_watchers.remove(watcher)
            state.tapes[:] = paused
        variables = [v for v in read.values() if v.trainable]
        takes_variables = "variables" in inspect.signature(grad_fn).parameters or any(
            p.kind is p.VAR_KEYWORD for p in inspect.signature(grad_fn).parameters.values())
        if variables and not takes_variables:
            raise TypeError("If using @custom_gradient with a function that uses variables, then grad_fn must "
                            "accept a keyword argument 'variables'.")
        flat = [convert_to_tensor(y) for y in nest.flatten(result)]
        outputs = tuple(Tensor(y._value) for y in flat)  # fresh identities, like TF's identity outputs
        for variable in variables:
            variable._read()  # the tapes now see the reads that f made while they were paused
        recorded_inputs = inputs + [v._snapshot for v in variables]

        def rule(op, *dys):
            if variables:
                grads, var_grads = grad_fn(*dys, variables=variables)
                grads = nest.flatten(grads) if isinstance(grads, (list, tuple)) else [grads]
                var_grads = list(var_grads)
                if len(var_grads) != len(variables):
                    raise ValueError(f"custom_gradient: grad_fn returned {len(var_grads)} variable gradients for "
                                     f"{len(variables)} variables.")
            else:
                grads = grad_fn(*dys)
                grads, var_grads = (list(grads) if isinstance(grads, (list, tuple)) else [grads]), []
            if len(grads) != len(inputs):
                raise ValueError(f"custom_gradient: grad_fn returned {len(grads)} gradients for {len(inputs)} "
                                 f"inputs of {f.__name__}; it must return one per input.")
            return [None if g is None else convert_to_tensor(g) for g in grads + var_grads]

        if state.tapes or observers:
            record("CustomGradient", recorded_inputs, outputs, {"function": f.__name__}, grad_fn=rule)
        return nest.pack_sequence_as(result, list(outputs))

    return decorated
