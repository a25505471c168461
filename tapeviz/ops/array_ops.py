"""Shape, layout and selection ops (reshape, concat, slicing, gather, where, cast, ...) and tensor creation.

Forward computations only, under TensorFlow's op-type names; every gradient rule lives in
``tapeviz.plugins.array_grad``. Creation ops make plain constants: nothing to differentiate.
"""
import builtins
import operator

import numpy as np

from tapeviz.core import dtypes
from tapeviz.core.context import state
from tapeviz.core.errors import InvalidArgumentError, UnimplementedError
from tapeviz.core.execute import execute, execute_multi
from tapeviz.core.tensor import Tensor, Variable, constant_tensor, convert_like, convert_to_tensor, slice_of_variable

from ._dispatch import as_tensor, binary_inputs
from .operators import install
from .reduction_ops import reduce_sum  # noqa: F401 - lived here first; core and plugins import it from here

__all__ = ["constant", "reshape", "stack", "unstack", "concat", "split", "squeeze", "expand_dims", "transpose",
           "tile", "broadcast_to", "pad", "reverse", "slice", "gather", "boolean_mask", "one_hot", "where", "cast", "identity", "stop_gradient", "clip_by_value",
           "ones", "zeros", "ones_like", "zeros_like", "fill", "eye", "linspace", "range", "shape", "size", "rank",
           "newaxis"]

newaxis = None


# Layout ---------------------------------------------------------------------------------------------
def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor; Python floats become float32 and ints int32 unless ``dtype`` says otherwise.

    A variable is copied through numpy, so the result is never connected to it (as in TF); a tensor of
    the asked dtype comes back as it is, unless ``shape`` makes a new one.
    """
    if isinstance(value, Variable):
        value = value.numpy()
    tensor = constant_tensor(value, dtype=dtype)  # tensors in a list give their values, not a Pack op
    if shape is not None:
        value = tensor._value
        shape = tuple(shape)
        if value.size == 1:
            value = np.broadcast_to(value.reshape(()), shape).copy()
        elif value.size == int(np.prod(shape)):
            value = value.reshape(shape)
        else:
            raise TypeError(f"Eager execution of tapeviz.constant with unsupported shape: value has "
                            f"{value.size} elements, shape {list(shape)} needs {int(np.prod(shape))}.")
        tensor = Tensor(value)
    return tensor


def reshape(tensor, shape, name=None):
    return execute("Reshape", np.reshape, (as_tensor(tensor),), {"shape": _dims(shape)})


def _pack(*xs, axis):
    return np.stack(xs, axis=axis)


def stack(values, axis=0, name=None):
    return execute("Pack", _pack, _same_dtype("Pack", values), {"axis": axis})


def _unpack(x, axis):
    return tuple(np.moveaxis(x, axis, 0))


def unstack(value, num=None, axis=0, name=None):
    value = as_tensor(value)
    if not value.ndim:
        raise InvalidArgumentError("Unpack: unstack needs a tensor of rank >= 1, got a scalar (shape []).")
    return execute_multi("Unpack", _unpack, (value,), {"axis": axis})


def _concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


def concat(values, axis, name=None):
    return execute("ConcatV2", _concat, _same_dtype("ConcatV2", values), {"axis": int(axis)})


def _split(x, size_splits, axis):
    return np.split(x, np.cumsum(size_splits)[:-1], axis=axis)


def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """Split into ``n`` equal parts (op Split) or parts of the given sizes, one may be -1 (op SplitV)."""
    value, axis = as_tensor(value), int(axis)
    dim = value.shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)):
        n = int(num_or_size_splits)
        if n <= 0 or dim % n:
            raise InvalidArgumentError(f"Split: Number of ways to split should evenly divide the split dimension, but got split_dim "
                             f"{axis} (size = {dim}) and num_split {n}.")
        return execute_multi("Split", _split, (value,), {"size_splits": (dim // n,) * n, "axis": axis})
    sizes = [int(s) for s in np.asarray(num_or_size_splits).reshape(-1)]
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
    if sum(sizes) != dim or builtins.min(sizes) < 0:
        raise InvalidArgumentError(f"SplitV: Determined shape must either match input shape along split_dim exactly if fully "
                         f"specified, or be less than the size of the input along split_dim if not fully "
                         f"specified: sizes {list(num_or_size_splits)} for dimension {axis} of size {dim}.")
    return execute_multi("SplitV", _split, (value,), {"size_splits": tuple(sizes), "axis": axis})


def squeeze(input, axis=None, name=None):  # noqa: A002 - TF's name
    x = as_tensor(input)
    if axis is not None:
        axis = tuple(_axes(axis))
        for a in axis:
            if not -x.ndim <= a < x.ndim or x.shape[a] != 1:
                raise InvalidArgumentError(f"Squeeze: Can not squeeze dim[{a}], expected a dimension of 1, got "
                                 f"{x.shape[a] if -x.ndim <= a < x.ndim else 'no such dimension'} "
                                 f"(input shape {list(x.shape)}).")
    return execute("Squeeze", np.squeeze, (x,), {"axis": axis})


def expand_dims(input, axis, name=None):  # noqa: A002 - TF's name
    return execute("ExpandDims", np.expand_dims, (as_tensor(input),), {"axis": int(axis)})


def transpose(a, perm=None, conjugate=False, name=None):
    a = as_tensor(a)
    perm = tuple(builtins.range(a.ndim - 1, -1, -1)) if perm is None else _dims(perm)
    if sorted(p % builtins.max(a.ndim, 1) for p in perm) != list(builtins.range(a.ndim)):
        raise InvalidArgumentError(f"Transpose: perm must be a permutation of 0..{a.ndim - 1} for a tensor of "
                                   f"shape {list(a.shape)}, got {list(perm)}.")
    return execute("Transpose", np.transpose, (a,), {"axes": perm})


def tile(input, multiples, name=None):  # noqa: A002 - TF's name
    x, multiples = as_tensor(input), _dims(multiples)
    if len(multiples) != x.ndim:
        raise InvalidArgumentError(f"Tile: Expected multiples argument to be a vector of length {x.ndim} but got length "
                         f"{len(multiples)} (input shape {list(x.shape)}).")
    return execute("Tile", np.tile, (x,), {"reps": multiples})


def _broadcast_to(x, shape):
    # A copy, as a read-only view would surprise .numpy() users; copyto broadcasts by numpy's rules
    # (and raises as np.broadcast_to does) at a third of np.broadcast_to(...).copy()'s cost.
    out = np.empty(shape, x.dtype)
    np.copyto(out, x)
    return out


def broadcast_to(input, shape, name=None):  # noqa: A002 - TF's name
    return execute("BroadcastTo", _broadcast_to, (as_tensor(input),), {"shape": _dims(shape)})


def _pad(x, paddings, constant_values):
    return np.pad(x, paddings, constant_values=constant_values)


def _mirror_pad(x, paddings, mode):
    return np.pad(x, paddings, mode=mode.lower())


def _mirror_pad_grad(grad, paddings, mode):
    # Each padded position copies one source position: add every gradient entry back to its source.
    shape = [n - before - after for n, (before, after) in zip(grad.shape, paddings)]
    sources = [np.pad(np.arange(n), pair, mode=mode.lower()) for n, pair in zip(shape, paddings)]
    out = np.zeros(shape, grad.dtype)
    np.add.at(out, np.ix_(*sources), grad)
    return out


def mirror_pad_grad(grad, paddings, mode):
    """MirrorPad's gradient: ``grad`` folded back onto the unpadded shape (TF's MirrorPadGrad)."""
    return execute("MirrorPadGrad", _mirror_pad_grad, (as_tensor(grad),), {"paddings": paddings, "mode": mode})


def mirror_pad(tensor, paddings, mode):
    """REFLECT or SYMMETRIC padding (TF's MirrorPad); ``paddings`` as ``pad`` takes them."""
    return execute("MirrorPad", _mirror_pad, (as_tensor(tensor),), {"paddings": paddings, "mode": mode})


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """``tensor`` with ``paddings[i] = [before, after]`` entries added around dimension i: CONSTANT fills
    with ``constant_values``, REFLECT mirrors without the edge, SYMMETRIC with it (mode in any case)."""
    x = as_tensor(tensor)
    mode = str(mode).upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError('Value of argument `mode` expected to be one of "CONSTANT", "REFLECT", or "SYMMETRIC". '
                         f"Received `mode` = {mode}")
    pairs = np.asarray(paddings._value if isinstance(paddings, Tensor) else paddings, dtype=np.int64)
    if pairs.shape != (x.ndim, 2) or np.any(pairs < 0):
        raise ValueError(f"paddings must be {x.ndim} non-negative [before, after] pairs for a tensor of shape "
                         f"{list(x.shape)}, got {pairs.tolist()}.")
    pairs = tuple(map(tuple, pairs.tolist()))
    if mode != "CONSTANT":
        offset = 0 if mode == "REFLECT" else 1  # REFLECT leaves the edge out, so it can copy one entry less
        for (before, after), n in zip(pairs, x.shape):
            if builtins.max(before, after) >= n + offset:
                relation, broken = ("less than", "not less than") if mode == "REFLECT" else (
                    "no greater than", "greater than")
                raise InvalidArgumentError(f"paddings must be {relation} the dimension size: {before}, {after} "
                                           f"{broken} {n} [Op:MirrorPad]")
        return mirror_pad(x, pairs, mode)
    return execute("PadV2", _pad, (x,), {"paddings": pairs, "constant_values": constant_values})


def reverse(tensor, axis, name=None):
    """``tensor`` with the order of entries along each of ``axis`` reversed (a strided slice with step -1)."""
    x = as_tensor(tensor)
    axes = {a % builtins.max(x.ndim, 1) for a in _axes(axis)}
    return _getitem(x, tuple(builtins.slice(None, None, -1 if i in axes else None) for i in builtins.range(x.ndim)))


def slice(input_, begin, size, name=None):  # noqa: A001 - TF's name
    """The block starting at ``begin`` of extent ``size`` (-1: to the end), as a strided slice."""
    begin, size = _dims(begin), _dims(size)
    return _getitem(input_, tuple(builtins.slice(b, None if n == -1 else b + n) for b, n in zip(begin, size)))


# Selection --------------------------------------------------------------------------------------------
def _gather(params, indices, axis):
    size = params.shape[axis]
    bad = (indices < 0) | (indices >= size)
    if np.any(bad):
        where_bad = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"indices{list(where_bad)} = {indices[where_bad]} is not in [0, {size})")
    return np.take(params, indices, axis=axis)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """params[..., indices, ...] along ``axis`` (default 0), as tf.gather; indices are ints in [0, size)."""
    params, indices = as_tensor(params), as_tensor(indices)
    if indices.dtype.is_floating or indices.dtype.is_bool:
        raise TypeError(f"gather needs integer indices, got {indices.dtype.name}; cast them with "
                        "tapeviz.cast(indices, tapeviz.int32).")
    if batch_dims:
        from .selection_ops import batch_gather  # late: selection_ops builds on this module
        return batch_gather(params, indices, axis, int(batch_dims))
    axis = 0 if axis is None else int(axis) % builtins.max(params.ndim, 1)
    return execute("GatherV2", _gather, (params, indices), {"axis": axis})


def boolean_mask(tensor, mask, axis=None, name=None):
    """The entries of ``tensor`` where ``mask`` (shaped like its leading dimensions) is True, as one
    flattened first dimension; composed of reshape and gather, which carry the gradient."""
    tensor, mask = as_tensor(tensor), as_tensor(mask)
    if not mask.dtype.is_bool or tuple(tensor.shape[:mask.ndim]) != tuple(mask.shape) or not mask.ndim:
        raise ValueError(f"boolean_mask needs a bool mask of rank >= 1 shaped like the tensor's leading "
                         f"dimensions; got mask {mask.dtype.name}{list(mask.shape)} for tensor {list(tensor.shape)}.")
    if axis:
        raise NotImplementedError("boolean_mask with axis != 0 is not supported yet; transpose first.")
    flat = reshape(tensor, (-1,) + tuple(tensor.shape[mask.ndim:]))
    # TF's composition (Where, Squeeze, GatherV2): the indices stay linked to the mask, so a mask computed
    # from the model (boolean_mask(x, logits > 0)) is named when it is the only path to the loss.
    return gather(flat, squeeze(_where_indices(reshape(mask, (-1,))), axis=1))


def one_hot(indices, depth, on_value=None, off_value=None, axis=-1, dtype=None, name=None):
    """A constant with ``on_value`` at each index along a new axis of length ``depth``; out-of-range
    indices give rows of ``off_value``."""
    indices_tensor = as_tensor(indices)
    indices = indices_tensor._value
    if indices.dtype.kind not in "iu":
        raise InvalidArgumentError(
            f"Value for attr 'TI' of {indices.dtype} is not in the list of allowed values: uint8, int8, int32, int64 "
            "[Op:OneHot]. one_hot needs integer indices: cast them with tapeviz.cast(indices, tapeviz.int32).")
    dtype = dtypes.as_dtype(dtype or (as_tensor(on_value).dtype if on_value is not None else dtypes.float32))
    on = 1 if on_value is None else on_value
    off = 0 if off_value is None else off_value
    def encode(index_values, depth, axis):
        hot = np.expand_dims(index_values, -1) == np.arange(depth)
        values = np.where(hot, on, off).astype(dtype.name)
        return np.moveaxis(values, -1, axis) if axis != -1 else values

    # An op (TF's OneHot): the result stays linked to the indices, so one_hot(argmax(logits)) in a loss
    # is explained by the argmax, not as a loss that does not use the model.
    return execute("OneHot", encode, (indices_tensor,), {"depth": int(depth), "axis": int(axis)})


def _scatter_add(grad, indices, axis, shape):
    out = np.zeros(shape, grad.dtype)
    np.add.at(out, (builtins.slice(None),) * axis + (indices,), grad)  # add.at: repeated indices accumulate
    return out


def gather_grad(grad, indices, axis, shape):
    """Scatter-add ``grad`` into zeros of ``shape`` at ``indices`` along ``axis``: GatherV2's gradient."""
    return execute("GatherV2Grad", _scatter_add, (grad, indices), {"axis": axis, "shape": tuple(shape)})


def _strided_slice(x, key):
    return x[key]


def _index(value, what):
    if value is None:
        return None
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), tapeviz.newaxis (`None`) and scalar "
                        f"int32/int64 tensors are valid indices, got {value!r} as {what}. To pick elements by a "
                        "list of indices use tapeviz.gather.") from None


def _key(key):
    """A numpy basic-indexing key (ints, slices, None, ...) for a TF-style index: what StridedSlice takes."""
    # A list is a tuple of indices, as TF reads it: x[[0, 1]] is x[0, 1] (use gather to pick elements).
    items = tuple(key) if isinstance(key, (tuple, list)) else (key,)
    out = []
    for item in items:
        if item is None or item is Ellipsis:
            out.append(item)
        elif isinstance(item, builtins.slice):
            out.append(builtins.slice(_index(item.start, "a slice start"), _index(item.stop, "a slice stop"),
                                      _index(item.step, "a slice step")))
        else:
            out.append(_index(item, "an index"))
    return tuple(out)


def _getitem(tensor, key):
    tensor = as_tensor(tensor)
    if type(key) is list:
        try:
            return execute("StridedSlice", _strided_slice, (tensor,), {"key": _key(key)})
        except InvalidArgumentError as error:
            raise InvalidArgumentError(f"Index out of range using input dim {len(key) - 1}; input has only "
                                       f"{tensor.ndim} dims [Op:StridedSlice]: x[{key}] is read as x"
                                       f"[{', '.join(map(str, key))}], as in TF. To pick elements by a list of "
                                       f"indices use tapeviz.gather. ({error})") from None
    return execute("StridedSlice", _strided_slice, (tensor,), {"key": _key(key)})


def _strided_slice_grad(grad, shape, key):
    out = np.zeros(shape, grad.dtype)
    out[key] = grad
    return out


def strided_slice_grad(grad, shape, key):
    """``grad`` written into zeros of ``shape`` at ``key``: StridedSlice's gradient."""
    return execute("StridedSliceGrad", _strided_slice_grad, (grad,), {"shape": tuple(shape), "key": key})


def _true_indices(condition):
    return np.argwhere(condition).astype(np.int64)


def _where_indices(condition):
    """The int64 coordinates of the true entries (TF's op Where, not differentiable): an op, so a path
    from the model through the condition to the loss is seen, and named, rather than lost."""
    return execute("Where", _true_indices, (condition,))


def where(condition, x=None, y=None, name=None):
    """``x`` where ``condition`` else ``y`` (broadcasting; op SelectV2); with one argument, the true indices."""
    condition = as_tensor(condition)
    if not condition.dtype.is_bool:
        raise TypeError(f"where needs a bool condition, got {condition.dtype.name}; compare first, e.g. "
                        "tapeviz.where(x > 0, x, y).")
    if x is None and y is None:
        return _where_indices(condition)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    x, y = binary_inputs("SelectV2", x, y)
    return execute("SelectV2", np.where, (condition, x, y))


def _clip(t, lo, hi):
    # TF's order, minimum then maximum: with clip_value_min > clip_value_max every entry is the min.
    out = np.maximum(np.minimum(t, hi), lo)
    if out.shape != np.shape(t):
        raise ValueError(f"clip_value_min and clip_value_max must broadcast to t's shape {list(np.shape(t))}, "
                         f"but they broadcast it to {list(out.shape)}.")
    return out


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    t, lo = binary_inputs("ClipByValue", t, clip_value_min)
    t, hi = binary_inputs("ClipByValue", t, clip_value_max)
    return execute("ClipByValue", _clip, (t, lo, hi))


# Dtypes and the identity ------------------------------------------------------------------------------------
def _cast(x, SrcT, DstT):  # noqa: N803 - TF's attribute names
    return x.astype(DstT)


def cast(x, dtype, name=None):
    """``x`` in ``dtype`` (floats to ints truncate toward zero); the same tensor if it has that dtype already."""
    x, dtype = as_tensor(x), dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    if (x.dtype is dtypes.string) != (dtype is dtypes.string):
        raise UnimplementedError(f"Cast {x.dtype.name} to {dtype.name} is not supported [Op:Cast]; tapeviz "
                                 "converts between numbers and bools only.")
    return execute("Cast", _cast, (x,), {"SrcT": x.dtype.name, "DstT": dtype.name})


def identity(input, name=None):  # noqa: A002 - TF's name
    return execute("Identity", np.asarray, (as_tensor(input),))


def identity_n(input, name=None):  # noqa: A002 - TF's name
    """An identity of each tensor in the list (each op Identity, so each gradient passes through)."""
    return [identity(t) for t in input]


def stop_gradient(input, name=None):  # noqa: A002 - TF's name
    """The same value, through which no gradient flows."""
    return execute("StopGradient", np.asarray, (as_tensor(input),))


# Creation (constants: no op is recorded; the *_like are ops) ----------------------------------------------
def ones(shape, dtype=dtypes.float32, name=None):
    if _shape_tensor(shape):  # ones(tf.shape(x)): Fill, as in TF, linked to the shape
        return fill(shape, Tensor(np.ones((), dtypes.as_dtype(dtype).name)))
    return Tensor(np.ones(_dims(shape), dtype=dtypes.as_dtype(dtype).name))


def zeros(shape, dtype=dtypes.float32, name=None):
    if _shape_tensor(shape):
        return fill(shape, Tensor(np.zeros((), dtypes.as_dtype(dtype).name)))
    return Tensor(np.zeros(_dims(shape), dtype=dtypes.as_dtype(dtype).name))


def _shape_tensor(shape):
    """Is ``shape`` a 1-D int32/int64 tensor (tf.shape(x))? Then it is Fill's dims input, not a constant."""
    return isinstance(shape, Tensor) and shape._value.ndim == 1 and shape._value.dtype.name in ("int32", "int64")


def _ones_like(value, dtype=None):
    return np.ones(value.shape, dtype=dtype or value.dtype)


def _zeros_like(value, dtype=None):
    return np.zeros(value.shape, dtype=dtype or value.dtype)


# The *_like, shape, size and rank are ops (TF's, none differentiable), not new constants: a loss that
# reaches the model only through them (mse(y, zeros_like(predictions))) is explained by the op.
def ones_like(input, dtype=None, name=None):  # noqa: A002 - TF's name
    attrs = {"dtype": dtypes.as_dtype(dtype).name} if dtype else None
    return execute("OnesLike", _ones_like, (as_tensor(input),), attrs)


def zeros_like(input, dtype=None, name=None):  # noqa: A002 - TF's name
    attrs = {"dtype": dtypes.as_dtype(dtype).name} if dtype else None
    return execute("ZerosLike", _zeros_like, (as_tensor(input),), attrs)


def _fill(dims, value):
    return np.full(tuple(dims.tolist()), value, dtype=value.dtype)


def fill(dims, value, name=None):
    """``dims`` filled with the scalar ``value`` (op Fill; its gradient reaches ``value``, as in TF)."""
    value = as_tensor(value)
    if value.ndim:
        raise InvalidArgumentError(f"value must be a scalar, got shape {list(value.shape)} [Op:Fill]; "
                                   "use tapeviz.broadcast_to to repeat a tensor.")
    given = dims
    dims = _dims(dims)
    if builtins.any(n < 0 for n in dims):
        raise InvalidArgumentError(f"dims must be non-negative, got {list(dims)} [Op:Fill].")
    # A shape tensor (tf.shape(x)) is the op's input itself, so the result stays linked to x, as in TF.
    dims = given if _shape_tensor(given) else Tensor(np.array(dims, np.int32))
    return execute("Fill", _fill, (dims, value))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    matrix = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=dtypes.as_dtype(dtype).name)
    if batch_shape is not None:
        matrix = np.broadcast_to(matrix, _dims(batch_shape) + matrix.shape).copy()
    return Tensor(matrix)


def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive, composed of ops as TF's
    ``linspace_nd`` composes it, so gradients reach both end points: ``stop`` takes ``start``'s dtype,
    integer end points give float64, vector end points broadcast and the values run along ``axis``."""
    start = as_tensor(start)
    stop = convert_like(stop, start) if not isinstance(stop, (Tensor, Variable)) else as_tensor(stop)
    if start.dtype is not stop.dtype:
        raise InvalidArgumentError(f"linspace needs start and stop of one dtype, got {start.dtype.name} and "
                                   f"{stop.dtype.name}; cast one with tapeviz.cast.")
    num = int(num._value) if isinstance(num, Tensor) else int(num)
    if num < 0:
        raise InvalidArgumentError(f"Requires num >= 0, got {num} [Op:LinSpace]; pass the number of values wanted.")
    if not _watched(start, stop):  # no tape can differentiate it: one constant, not seven ops in the inspector
        return Tensor(_linspace_values(start._value, stop._value, num, axis))
    if start.dtype.is_integer:  # TF divides integers as true division: float64
        start, stop = cast(start, dtypes.float64), cast(stop, dtypes.float64)
    shape = np.broadcast_shapes(start._value.shape, stop._value.shape)
    if start._value.shape != shape:
        start = broadcast_to(start, shape)
    if stop._value.shape != shape:
        stop = broadcast_to(stop, shape)
    axis = int(axis) % (len(shape) + 1)
    begin, end = expand_dims(start, axis), expand_dims(stop, axis)
    # TF's arithmetic: start + delta * i for the inner points, between the exact end points.
    steps = builtins.max(num - 1, 1)
    delta = (end - begin) / begin._value.dtype.type(steps)
    inner = np.arange(1, steps, dtype=begin._value.dtype)
    inner = inner.reshape([-1 if i == axis else 1 for i in builtins.range(begin.ndim)])
    values = concat([begin, begin + delta * Tensor(inner), end], axis=axis)
    if values.shape[axis] == num:
        return values
    return _getitem(values, (builtins.slice(None),) * axis + (builtins.slice(0, num),))


def _watched(*tensors):
    """True when a recording tape (or forward accumulator) watches one of ``tensors``."""
    return builtins.any(t._id in tape._ids for tape in state.tapes for t in tensors)


def _linspace_values(begin, end, num, axis):
    """linspace's values with numpy, in the arithmetic of the composed ops."""
    if begin.dtype.kind != "f":
        begin, end = begin.astype(np.float64), end.astype(np.float64)
    begin, end = np.broadcast_arrays(begin, end)
    axis = int(axis) % (begin.ndim + 1)
    begin, end = np.expand_dims(begin, axis), np.expand_dims(end, axis)
    dtype = begin.dtype
    delta = (end - begin) / dtype.type(builtins.max(num - 1, 1))
    steps = np.arange(1, builtins.max(num - 1, 1), dtype=dtype)
    steps = steps.reshape([-1 if i == axis else 1 for i in builtins.range(begin.ndim)])
    values = np.concatenate([begin, begin + delta * steps, end], axis=axis).astype(dtype)
    return np.take(values, np.arange(num), axis=axis)


def range(start, limit=None, delta=1, dtype=None, name=None):  # noqa: A001 - TF's name
    """[start, limit) in steps of ``delta``; ints give int32 and floats float32 unless ``dtype`` is given."""
    if limit is None:
        start, limit = 0, start
    values = [as_tensor(v)._value for v in (start, limit, delta)]
    if dtype is None:
        inferred = [v.dtype for v in values if v.dtype.kind == "f"] or [v.dtype for v in values]
        dtype = builtins.max(inferred, key=lambda d: d.itemsize)
    dtype = np.dtype(dtypes.as_dtype(dtype).name)
    start, limit, delta = (v.astype(dtype)[()] for v in values)
    if delta == 0 or (limit - start) * delta < 0:
        relation = "start <= limit when delta > 0" if delta > 0 else "start >= limit when delta < 0"
        raise InvalidArgumentError(f"Requires {relation}: {start}/{limit} [Op:Range]" if delta else
                                   f"Requires delta != 0: {delta} [Op:Range]")
    # TF's element count and values: start + i * delta in the output dtype (numpy's arange accumulates).
    count = int(np.ceil(np.abs((limit - start) / delta)))
    return Tensor((start + np.arange(count, dtype=dtype) * delta).astype(dtype))


def _shape(value, out_type):
    return np.array(value.shape, dtype=out_type)


def _size(value, out_type):
    return np.array(value.size, dtype=out_type)


def _rank(value):
    return np.int32(value.ndim)


def shape(input, out_type=dtypes.int32, name=None):  # noqa: A002 - TF's name
    return execute("Shape", _shape, (as_tensor(input),), {"out_type": dtypes.as_dtype(out_type).name})


def size(input, out_type=dtypes.int32, name=None):  # noqa: A002 - TF's name
    return execute("Size", _size, (as_tensor(input),), {"out_type": dtypes.as_dtype(out_type).name})


def rank(input, name=None):  # noqa: A002 - TF's name
    return execute("Rank", _rank, (as_tensor(input),))


# Helpers ------------------------------------------------------------------------------------------------------
def _dims(shape):
    """A shape (list, tuple, int or 1-D tensor) as a tuple of Python ints."""
    if type(shape) is tuple and all(type(n) is int for n in shape):  # what gradient rules pass: no conversion
        return shape
    if isinstance(shape, Tensor):
        shape = shape._value
    return tuple(int(n) for n in np.asarray(shape).reshape(-1))


def _axes(axis):
    return [int(a) for a in np.asarray(axis).reshape(-1)]


def _same_dtype(op_type, values):
    """The values as tensors of one dtype: Python values take the first tensor's dtype, as in TF."""
    values = list(values)
    if not values:
        raise ValueError(f"{op_type} needs at least one tensor, got an empty list.")
    like = next((as_tensor(v) for v in values if isinstance(v, (Tensor, Variable))), None)
    tensors = tuple(as_tensor(v) if like is None else convert_like(v, like) for v in values)
    first = tensors[0].dtype
    for i, t in enumerate(tensors):
        if t.dtype is not first:
            raise TypeError(f"{op_type} needs tensors of one dtype, but input 0 is {first.name} and input {i} is "
                            f"{t.dtype.name}; cast them with tapeviz.cast first.")
    return tensors


install("getitem", _getitem, reflected=False)


def _variable_getitem(variable, key):
    """``v[key]``: the slice of a read, which ``.assign(...)`` writes back into the variable (as in TF)."""
    return slice_of_variable(variable, _key(key), _getitem(variable, key))


Variable.__getitem__ = _variable_getitem
