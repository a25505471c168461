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
# Op type -> (indices of the inputs whose values its rule reads, the same for outputs), each a
# frozenset, or None for "all of them"; only for rules that read less than every value, filled by
# the registry. A recorded op keeps a shape-and-dtype stand-in for each large value, input or
# output, that its rule never reads, so the tape does not keep it alive (TF's
# ops_which_dont_need_inputs / ops_which_dont_need_outputs, decided per index as TF does).
values_read = {}
STAND_IN_MIN_BYTES = 16384
STAND_IN_CACHE_SIZE = 4096  # shapes; a program that makes more gets fresh views past this many
_ZEROS = {}
_STAND_INS = {}


class Operation:
    """One recorded op, as a gradient function sees it: ``.type``, ``.inputs``, ``.outputs``, ``.get_attr``.

    Made from a tape entry when a rule needs it; its tensors carry the recorded ids, so ops a rule
    runs on them are recorded by outer tapes (higher orders). Tensors are made on first access:
    most rules never look at their op's outputs.
    """

    __slots__ = ("_entry", "_inputs", "_outputs", "_reachable")

    def __init__(self, entry, reachable=None):
        self._entry = entry
        self._inputs = self._outputs = None
        self._reachable = reachable

    @property
    def type(self):
        return self._entry[0]

    @property
    def attrs(self):
        return self._entry[5] or _NO_ATTRS

    @property
    def grad_fn(self):
        return self._entry[6]  # set only for custom_gradient ops, which carry their own rule

    @property
    def inputs(self):
        if self._inputs is None:
            entry = self._entry
            ids = entry[1]
            if len(ids) == 1:  # the usual cases, inlined: this runs once per op in every backward pass
                tensor = _new_tensor(Tensor)
                tensor._value, tensor._id = entry[2][0], ids[0]
                self._inputs = (tensor,)
            elif len(ids) == 2:
                x, y = _new_tensor(Tensor), _new_tensor(Tensor)
                (x._value, y._value), (x._id, y._id) = entry[2], ids
                self._inputs = (x, y)
            else:
                self._inputs = tuple(map(_tensor, entry[1], entry[2]))
        return self._inputs

    @property
    def outputs(self):
        if self._outputs is None:
            self._outputs = tuple(map(_tensor, self._entry[3], self._entry[4]))
        return self._outputs

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
        return tuple(i for i, tensor_id in enumerate(self._entry[1]) if tensor_id not in reachable)

    def __repr__(self):
        return f"<Operation {self.type} inputs={len(self.inputs)} outputs={len(self.outputs)}>"


def execute(op_type, forward, inputs, attrs=None):
    """Run ``forward`` on the inputs' values (attrs as keywords) and return one output Tensor."""
    try:
        if len(inputs) == 2:  # most ops: no list of values to build
            x, y = inputs
            value = forward(x._value, y._value) if attrs is None else forward(x._value, y._value, **attrs)
        elif attrs is None:
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
    """Add the op to every recording tape that watches one of its floating inputs (TF's ShouldRecord).

    A tape keeps an entry of ids and numpy values, not the Tensor objects: a plain tuple of such
    things is untracked by Python's garbage collector, so a long tape costs no collection time
    (holding Tensors made a 100,000-op tape twice as slow per op as a short one).
    """
    entry = None
    recorded_on = [] if observers else None
    for tape in state.tapes:
        ids = tape._ids
        for t in inputs:
            if t._id in ids and t._value.dtype in FLOATING_NUMPY:
                if entry is None:
                    entry = _entry(op_type, inputs, outputs, attrs, grad_fn)
                tape._ops.append(entry)
                for out in outputs:
                    ids.add(out._id)
                if recorded_on is not None:
                    recorded_on.append(tape)
                break
    if observers and (recorded_on or (state.rerun_backward is None and not state.tangent_ops_hidden)):
        for observer in observers:
            observer.op_executed(op_type, inputs, outputs, attrs or _NO_ATTRS, grad_fn, recorded_on)
        if state.tangents_due:   # forward mode: the op's tangents, computed now that observers have seen it
            from .forward import push_due_tangents
            push_due_tangents(entry)
    return entry


def _entry(op_type, inputs, outputs, attrs, grad_fn):
    """(type, input ids, input values, output ids, output values, attrs, grad_fn): what a tape keeps."""
    if len(inputs) == 1:
        x = inputs[0]
        in_ids, in_values = (x._id,), (x._value,)
    elif len(inputs) == 2:
        x, y = inputs
        in_ids, in_values = (x._id, y._id), (x._value, y._value)
    else:
        in_ids, in_values = tuple([t._id for t in inputs]), tuple([t._value for t in inputs])
    if len(outputs) == 1:
        out = outputs[0]
        out_ids, out_values = (out._id,), (out._value,)
    else:
        out_ids, out_values = tuple([t._id for t in outputs]), tuple([t._value for t in outputs])
    reads = values_read.get(op_type)
    if reads is not None:  # the rule reads less than every value: drop the large ones it does not read
        inputs_read, outputs_read = reads
        if outputs_read is not None:
            for value in out_values:  # scalars and small arrays, the usual case, end the loop at once
                if value.nbytes >= STAND_IN_MIN_BYTES:
                    out_values = _without_unread(out_values, outputs_read)
                    break
        if inputs_read is not None:
            for value in in_values:
                if value.nbytes >= STAND_IN_MIN_BYTES:
                    in_values = _without_unread(in_values, inputs_read)
                    break
    return (op_type, in_ids, in_values, out_ids, out_values, attrs, grad_fn)


def _without_unread(values, indices_read):
    """``values`` with each large one whose index is not in ``indices_read`` replaced by its stand-in."""
    return tuple([v if i in indices_read else _stand_in(v) for i, v in enumerate(values)])


def _tensor(tensor_id, value):
    tensor = _new_tensor(Tensor)
    tensor._value = value
    tensor._id = tensor_id
    return tensor


_new_tensor = object.__new__


def _stand_in(value):
    """``value``'s shape and dtype with no memory of its own (zero strides over one zero).

    Stand-ins are read-only, so one per shape and dtype serves every entry: a training loop makes
    the same few shapes each step, and a dictionary hit costs a tenth of making a view.
    """
    if value.nbytes < STAND_IN_MIN_BYTES:
        return value
    key = (value.shape, value.dtype)
    view = _STAND_INS.get(key)
    if view is None:
        zero = _ZEROS.get(value.dtype)
        if zero is None:
            zero = _ZEROS[value.dtype] = np.zeros((), value.dtype)
        # np.ndarray over one zero with zero strides: what np.broadcast_to makes, at a fifth of its cost.
        view = np.ndarray(value.shape, value.dtype, zero, 0, (0,) * value.ndim)
        view.flags.writeable = False
        if len(_STAND_INS) < STAND_IN_CACHE_SIZE:
            _STAND_INS[key] = view
    return view


def invalid_argument(op_type, inputs, error):
    shapes = ", ".join(f"{t._value.dtype}{list(t._value.shape)}" for t in inputs)
    return InvalidArgumentError(f"{op_type} cannot run on inputs ({shapes}): {error}")
