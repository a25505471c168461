"""Running an op: compute its value with numpy and, if a tape is watching an input, record it.

This is the per-op hot path. It does no registry look-up and calls no plugin: gradient rules are
found only when a tape runs backwards.
"""
import numpy as np

from .context import observers, state
from .dtypes import FLOATING_NUMPY
from .errors import InvalidArgumentError
from .tensor import Tensor

_NO_ATTRS = {}
# Op type -> (rule needs input values, rule needs output values), for rules that need less than all;
# filled by the registry. A recorded op with a large output keeps only shape-and-dtype stand-ins
# for the large values its rule never reads, so the tape does not keep them alive (TF's
# ops_which_dont_need_inputs).
values_not_needed = {}
STAND_IN_MIN_BYTES = 16384
_ZEROS = {}


class Operation:
    """One recorded op, as a gradient function sees it: ``.type``, ``.inputs``, ``.outputs``, ``.get_attr``."""

    __slots__ = ("type", "inputs", "outputs", "attrs", "grad_fn", "_reachable")

    def __init__(self, op_type, inputs, outputs, attrs, grad_fn=None):
        self.type = op_type
        self.inputs = inputs
        self.outputs = outputs
        self.attrs = attrs
        self.grad_fn = grad_fn  # set only for custom_gradient ops, which carry their own rule
        self._reachable = None

    def get_attr(self, name):
        try:
            return self.attrs[name]
        except KeyError:
            raise ValueError(f"Operation {self.type} has no attribute {name!r}; it has {sorted(self.attrs)}.") from None

    @property
    def skip_input_indices(self):
        """Indices of inputs whose gradient nobody asked for; rules may return None for them (as in TF)."""
        reachable = self._reachable
        if reachable is None:
            return ()
        return tuple(i for i, t in enumerate(self.inputs) if t._id not in reachable)

    def __repr__(self):
        return f"<Operation {self.type} inputs={len(self.inputs)} outputs={len(self.outputs)}>"


def execute(op_type, forward, inputs, attrs=None):
    """Run ``forward`` on the inputs' values (attrs as keywords) and return one output Tensor."""
    try:
        if attrs is None:
            value = forward(*[t._value for t in inputs])
        else:
            value = forward(*[t._value for t in inputs], **attrs)
    except (ValueError, IndexError) as error:
        raise invalid_argument(op_type, inputs, error) from None
    output = Tensor(value)
    if state.tapes or observers:
        record(op_type, tuple(inputs), (output,), attrs)
    return output


def execute_multi(op_type, forward, inputs, attrs=None):
    """Like ``execute`` for ops with several outputs (``split``, ``unstack``): returns a list."""
    try:
        values = forward(*[t._value for t in inputs], **(attrs or _NO_ATTRS))
    except (ValueError, IndexError) as error:
        raise invalid_argument(op_type, inputs, error) from None
    outputs = [Tensor(v) for v in values]
    if state.tapes or observers:
        record(op_type, tuple(inputs), tuple(outputs), attrs)
    return outputs


def record(op_type, inputs, outputs, attrs, grad_fn=None):
    """Add the op to every recording tape that watches one of its floating inputs (TF's ShouldRecord)."""
    op = None
    recorded_on = [] if observers else None
    for tape in state.tapes:
        ids = tape._ids
        for t in inputs:
            if t._id in ids and t._value.dtype in FLOATING_NUMPY:
                if op is None:
                    op = Operation(op_type, inputs, outputs, attrs or _NO_ATTRS, grad_fn)
                tape._ops.append(op)
                for out in outputs:
                    ids.add(out._id)
                if recorded_on is not None:
                    recorded_on.append(tape)
                break
    # Only ops with a large output qualify: one size test keeps the scalar hot path untouched.
    if op is not None and outputs[0]._value.nbytes >= STAND_IN_MIN_BYTES and op_type in values_not_needed:
        _drop_unneeded_values(op, values_not_needed[op_type])
    if observers:
        for observer in observers:
            observer.op_executed(op_type, inputs, outputs, attrs or _NO_ATTRS, op, recorded_on)
    return op


def _drop_unneeded_values(op, needs):
    needs_inputs, needs_outputs = needs
    if not needs_inputs:
        op.inputs = tuple(_stand_in(t) for t in op.inputs)
    if not needs_outputs:
        op.outputs = tuple(_stand_in(t) for t in op.outputs)


def _stand_in(tensor):
    """A tensor with ``tensor``'s id, shape and dtype but no memory of its own (a broadcast zero)."""
    value = tensor._value
    if value.nbytes < STAND_IN_MIN_BYTES:
        return tensor
    zero = _ZEROS.get(value.dtype)
    if zero is None:
        zero = _ZEROS[value.dtype] = np.zeros((), value.dtype)
    # np.ndarray over one zero with zero strides: what np.broadcast_to makes, at a fifth of its cost.
    view = np.ndarray(value.shape, value.dtype, zero, 0, (0,) * value.ndim)
    view.flags.writeable = False
    stand_in = Tensor(view)
    stand_in._id = tensor._id
    return stand_in


def invalid_argument(op_type, inputs, error):
    shapes = ", ".join(f"{t._value.dtype}{list(t._value.shape)}" for t in inputs)
    return InvalidArgumentError(f"{op_type} cannot run on inputs ({shapes}): {error}")
