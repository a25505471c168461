"""Gradient rules for shape, layout and selection ops: each undoes its op's data movement.

Every rule runs tapeviz ops, so its own gradient comes from the rules here (StridedSlice and
StridedSliceGrad, GatherV2 and GatherV2Grad, Split and ConcatV2 are each other's gradients).
"""
import numpy as np

from tapeviz.core.batching import elementwise
from tapeviz.core.execute import execute
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.core.tensor import Tensor
from tapeviz.ops import array_ops as A

from ._helpers import DeclaringReads, batch_dims, randn, skips, unbroadcast

# What the rules read beyond shapes and dtypes: the tape keeps nothing else. Most only move data
# back, reading shapes and attributes.
VALUES_READ = {
    "GatherV2": dict(needs_inputs=(1,)),       # the indices
    "GatherV2Grad": dict(needs_inputs=(1,)),   # the indices
    "SelectV2": dict(needs_inputs=(0,)),       # the condition
    "ClipByValue": dict(needs_inputs=True),    # x and both bounds
}


def _reshape_back(op, grad):
    return A.reshape(grad, grad._value.shape[:batch_dims()] + op.inputs[0]._value.shape)


def _reshape_diagonal(op, grad):
    """batch_jacobian's diagonal gradients through a reshape that keeps the first (batch) axis: each
    batch row's positions keep their row-major order, so the gradient stays diagonal, reshaped."""
    shape = op.inputs[0]._value.shape
    if not shape or shape[0] != grad.shape[0]:
        return NotImplemented
    return (grad.with_values(A.reshape(grad.values, shape)),)


def _axis(axis):
    """An op's axis attribute as an axis of its gradient, which may carry leading batch dimensions."""
    return axis + batch_dims() if axis >= 0 else axis


def _lead():
    """Indexing that keeps a vectorized pass's batch dimensions in front."""
    return (slice(None),) * batch_dims()


def _transpose_grad(op, grad):
    lead = batch_dims()
    inverse = np.argsort([p % max(grad.ndim - lead, 1) for p in op.get_attr("axes")])
    return A.transpose(grad, list(range(lead)) + [lead + int(p) for p in inverse])


def _tile_grad(op, grad):
    # Tiled index k*s + i sits at [k, i] of a (multiples, size) split of each axis: sum over the k's.
    shape, reps = op.inputs[0]._value.shape, op.get_attr("reps")
    lead = batch_dims()
    split = A.reshape(grad, list(grad._value.shape[:lead]) + [n for pair in zip(reps, shape) for n in pair])
    return A.reduce_sum(split, axis=tuple(range(lead, lead + 2 * len(shape), 2)))


def _pad_grad(op, grad):
    shape = op.inputs[0]._value.shape
    return grad[_lead() + tuple(slice(before, before + n) for (before, _), n in zip(op.get_attr("paddings"), shape))]


def _concat_grad(op, grad):
    axis = op.get_attr("axis")
    return A.split(grad, [t._value.shape[axis] for t in op.inputs], axis=_axis(axis))


def _gather_grad(op, grad):
    params, indices = op.inputs
    lead = grad._value.shape[:batch_dims()]
    return A.gather_grad(grad, indices, op.get_attr("axis") + len(lead), lead + params._value.shape), None


def _gather_grad_grad(op, grad):
    return A.gather(grad, op.inputs[1], axis=_axis(op.get_attr("axis"))), None


def _select_grad(op, grad):
    condition, x, y = op.inputs
    zeros = A.zeros_like(grad)
    return (None,
            None if skips(op, 1) else unbroadcast(A.where(condition, grad, zeros), x._value.shape),
            None if skips(op, 2) else unbroadcast(A.where(condition, zeros, grad), y._value.shape))


def _clip_grad(op, grad):
    # TF's clip_by_value is maximum(minimum(t, max), min), whose rules send a tie to t; so do these masks.
    # Masks are piecewise constant (derivative 0 wherever one exists), so constants are exact at every order.
    x, low, high = (t._value for t in op.inputs)
    capped = np.minimum(x, high)
    below = Tensor(np.broadcast_to(capped < low, x.shape))
    above = Tensor(np.broadcast_to((x > high) & (capped >= low), x.shape))
    zeros = A.zeros_like(grad)
    inside = A.where(Tensor(below._value | above._value), zeros, grad)
    return (inside,
            None if skips(op, 1) else unbroadcast(A.where(below, grad, zeros), low.shape),
            None if skips(op, 2) else unbroadcast(A.where(above, grad, zeros), high.shape))


def _fill_grad(op, grad):
    # TF's _FillGrad: every output element is the value, so its gradient is the sum of them all.
    lead = batch_dims()
    return None, A.reduce_sum(grad, axis=tuple(range(lead, grad._value.ndim)))


def _cast_grad(op, grad):
    floating = np.dtype(op.get_attr("SrcT")).kind == "f" and np.dtype(op.get_attr("DstT")).kind == "f"
    return A.cast(grad, op.get_attr("SrcT")) if floating else None


def _pass_through(op, grad):
    return grad


def _read_of_a_variable(x):
    # A read's input is a variable's current value; the check runs the op on a tensor in its place.
    return execute("ReadVariableOp", np.array, (x,))


def _lead_paddings(op):
    """The op's paddings, with none for the leading batch dimension a vectorized pass adds."""
    return ((0, 0),) * batch_dims() + tuple(tuple(p) for p in op.get_attr("paddings"))


@hookimpl
def register_gradients(register):
    # Every rule here takes gradients with a leading batch dimension (vectorized jacobians) unless it says not.
    register = DeclaringReads(register, VALUES_READ, default=dict(needs_inputs=False, needs_outputs=False, batched=True))
    register("Reshape", _reshape_back, batched=True, diagonal=_reshape_diagonal, checks=[
        CheckCase(lambda x: A.reshape(x, (3, 2)), (randn(2, 3),), name="(2, 3) to (3, 2)"),
        CheckCase(lambda x: A.reshape(x, (2, 6)), (randn(2, 3, 2),), name="(2, 3, 2) to (2, 6)"),
        CheckCase(lambda x: A.reshape(x, (-1,)), (randn(2, 2, 2),), name="flatten with -1"),
        CheckCase(lambda x: A.reshape(x, (1, 1)), (randn(),), name="scalar to (1, 1)")])
    register("Squeeze", _reshape_back, batched=True, diagonal=_reshape_diagonal, checks=[
        CheckCase(lambda x: A.squeeze(x), (randn(1, 3, 1),), name="all size-1 axes"),
        CheckCase(lambda x: A.squeeze(x, axis=-1), (randn(2, 1),), name="axis -1")])
    register("ExpandDims", _reshape_back, batched=True, diagonal=_reshape_diagonal, checks=[
        CheckCase(lambda x: A.expand_dims(x, 0), (randn(3),), name="axis 0"),
        CheckCase(lambda x: A.expand_dims(x, -1), (randn(2, 3),), name="axis -1")])
    register("Transpose", _transpose_grad, batched=True, checks=[
        CheckCase(lambda x: A.transpose(x), (randn(2, 3),), name="matrix"),
        CheckCase(lambda x: A.transpose(x, (1, 2, 0)), (randn(2, 3, 4),), name="perm (1, 2, 0)")])
    register("Tile", _tile_grad, batched=True, checks=[
        CheckCase(lambda x: A.tile(x, (2, 3)), (randn(2, 3),), name="(2, 3) tiled (2, 3)"),
        CheckCase(lambda x: A.tile(x, (3,)), (randn(2),), name="vector tiled 3")])
    register("BroadcastTo", lambda op, grad: unbroadcast(grad, op.inputs[0]._value.shape), batched=True, checks=[
        CheckCase(lambda x: A.broadcast_to(x, (2, 3)), (randn(3),), name="(3,) to (2, 3)"),
        CheckCase(lambda x: A.broadcast_to(x, (2, 4, 3)), (randn(4, 1),), name="(4, 1) to (2, 4, 3)"),
        CheckCase(lambda x: A.broadcast_to(x, (2,)), (randn(),), name="scalar")])
    register("PadV2", _pad_grad, batched=True, checks=[
        CheckCase(lambda x: A.pad(x, [[1, 2], [0, 1]], constant_values=3.0), (randn(2, 3),), name="(2, 3)"),
        CheckCase(lambda x: A.pad(x, [[2, 0]]), (randn(2),), name="vector")])
    # MirrorPad and MirrorPadGrad are each other's gradient (TF's _MirrorPadGrad, _MirrorPadGradGrad).
    register("MirrorPad", lambda op, grad: A.mirror_pad_grad(grad, _lead_paddings(op), op.get_attr("mode")),
             checks=[CheckCase(lambda x: A.pad(x, [[1, 2], [2, 0]], "REFLECT"), (randn(3, 4),), name="REFLECT"),
                     CheckCase(lambda x: A.pad(x, [[2, 2]], "SYMMETRIC"), (randn(3),), name="SYMMETRIC")])
    register("MirrorPadGrad", lambda op, grad: A.mirror_pad(grad, _lead_paddings(op), op.get_attr("mode")),
             checks=[CheckCase(lambda g: A.mirror_pad_grad(g, ((1, 2), (2, 0)), "REFLECT"), (randn(6, 6),),
                               name="REFLECT"),
                     CheckCase(lambda g: A.mirror_pad_grad(g, ((2, 2),), "SYMMETRIC"), (randn(7),), name="SYMMETRIC")])
    register("Pack", lambda op, grad: A.unstack(grad, axis=_axis(op.get_attr("axis"))), batched=True, checks=[
        CheckCase(lambda x, y: A.stack([x, y]), (randn(3), randn(3, seed=1)), name="axis 0"),
        CheckCase(lambda x, y: A.stack([x, y, x], axis=-1), (randn(2, 3), randn(2, 3, seed=1)), name="axis -1")])
    register("Unpack", lambda op, *grads: A.stack(grads, axis=_axis(op.get_attr("axis"))), batched=True, checks=[
        CheckCase(lambda x: A.unstack(x), (randn(3, 2),), name="axis 0"),
        CheckCase(lambda x: A.unstack(x, axis=1)[1], (randn(2, 3),), name="one output of axis 1")])
    register("ConcatV2", _concat_grad, batched=True, checks=[
        CheckCase(lambda x, y: A.concat([x, y], 0), (randn(2, 3), randn(1, 3)), name="axis 0"),
        CheckCase(lambda x, y: A.concat([x, y, x], -1), (randn(2, 1), randn(2, 3)), name="axis -1")])
    split_grad = lambda op, *grads: A.concat(grads, _axis(op.get_attr("axis")))  # noqa: E731
    register("Split", split_grad, batched=True, checks=[
        CheckCase(lambda x: A.split(x, 2, axis=1), (randn(3, 4),), name="2 ways on axis 1"),
        CheckCase(lambda x: A.split(x, 3)[2], (randn(3),), name="last part used")])
    register("SplitV", split_grad, batched=True, checks=[
        CheckCase(lambda x: A.split(x, [1, -1], axis=0), (randn(4, 2),), name="sizes [1, -1]")])
    register("GatherV2", _gather_grad, batched=True, checks=[
        CheckCase(lambda p: A.gather(p, [2, 0, 2]), (randn(3, 2),), name="repeated rows"),
        CheckCase(lambda p: A.gather(p, [[1, 0], [1, 1]], axis=1), (randn(2, 3),), name="2-D indices, axis 1")])
    register("GatherV2Grad", _gather_grad_grad, batched=True, checks=[
        CheckCase(lambda g: A.gather_grad(g, A.constant([2, 0, 2]), 0, (3, 2)), (randn(3, 2),), name="axis 0"),
        CheckCase(lambda g: A.gather_grad(g, A.constant([1, 1]), 1, (2, 3)), (randn(2, 2),), name="axis 1")])
    register("StridedSlice", lambda op, grad: A.strided_slice_grad(grad, grad._value.shape[:batch_dims()] +
                                                                   op.inputs[0]._value.shape, _lead() +
                                                                   op.get_attr("key")), batched=True, checks=[
        CheckCase(lambda x: x[1], (randn(3, 2),), name="int"),
        CheckCase(lambda x: x[::-2, 1:], (randn(5, 3),), name="negative step and slice"),
        CheckCase(lambda x: x[..., None, 0], (randn(2, 3),), name="ellipsis, newaxis, int"),
        CheckCase(lambda x: x[-1], (randn(4),), name="scalar out")])
    register("StridedSliceGrad", lambda op, grad: grad[_lead() + op.get_attr("key")], batched=True, checks=[
        CheckCase(lambda g: A.strided_slice_grad(g, (5, 3), (slice(None, None, -2), slice(1, None))),
                  (randn(3, 2),), name="negative step")])
    register("SelectV2", _select_grad, batched=True, checks=[
        CheckCase(lambda x, y: A.where(A.constant([True, False, True]), x, y), (randn(3), randn(3, seed=1)),
                  name="same shapes"),
        CheckCase(lambda x, y: A.where(A.constant([[True], [False]]), x, y), (randn(3), randn(2, 1)),
                  name="broadcast")])
    register("ClipByValue", _clip_grad, batched=True, checks=[
        CheckCase(lambda x: A.clip_by_value(x, -0.5, 0.5), (np.array([-1.3, -0.2, 0.1, 0.9, 2.0]),),
                  name="scalar bounds"),
        CheckCase(lambda x, lo, hi: A.clip_by_value(x, lo, hi),
                  (np.array([[-2.0, 0.3, 1.5], [0.1, -0.4, 3.0]]), np.array([-1.0, 0.0, 1.0]), np.array(2.0)),
                  name="tensor bounds, broadcast")])
    register("Cast", _cast_grad, batched=True, diagonal=elementwise(_cast_grad), checks=[
        # Only float64 keeps finite differences exact, so the float-to-float branch is tested in
        # tests/test_array_ops.py; this case takes the path through a cast to int (no gradient).
        CheckCase(lambda x: x * A.cast(A.cast(x, "int32"), "float64"), (np.array([0.3, 1.6, -2.2]),),
                  name="through int32")])
    register("Fill", _fill_grad, batched=True, checks=[
        CheckCase(lambda v: A.fill([2, 3], v), (randn(),), name="(2, 3)"),
        CheckCase(lambda v: A.fill([4], v) * A.constant([1.0, 2.0, 3.0, 4.0], "float64"), (randn(seed=1),),
                  name="(4,) weighted")])
    register("Identity", _pass_through, diagonal=elementwise(_pass_through),
             checks=[CheckCase(A.identity, (randn(2, 3),), name="(2, 3)")])
    # A read of a variable passes its gradient to the variable (TF's _ReadGrad).
    register("ReadVariableOp", _pass_through, diagonal=elementwise(_pass_through), needs_inputs=False,
             needs_outputs=False,
             checks=[CheckCase(_read_of_a_variable, (randn(2, 3),), name="(2, 3)")])
    register.not_differentiable("StopGradient")
    register.not_differentiable("Where")  # tf.where(condition) and boolean_mask: the true entries' coordinates
    register.not_differentiable("RandomShuffle")  # tf.random.shuffle: no gradient in TF either
    for op_type in ("ZerosLike", "OnesLike", "Shape", "Size", "Rank"):  # depend on the shape only, as in TF
        register.not_differentiable(op_type)
