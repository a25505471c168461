"""Forward-mode (JVP) rules for the ops that dominate real programs, registered with ``register.forward``.

Forward mode works without them (tangents are then derived from each op's gradient rule by the
double-backward trick); these make the common ops cost one or two ops per tangent instead of a tape
and a backward pass. A rule ``jvp(op, *tangents)`` gets one tangent per input (None for an input
without one) and returns the tangent of each output, computed with tapeviz ops so that tapes and
outer accumulators can differentiate it again. Rules read only the values their op's gradient rule
reads (``needs_inputs`` / ``needs_outputs``): the tape may keep nothing else. Ops whose gradient
rules handle kinks and edges specially (Abs, Sqrt, Pow, Maximum, ...) have none: their tangents come
from those rules, so forward mode follows them exactly, as TF's forward mode follows its gradients.
"""
import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl
from tapeviz.ops import array_ops as A, reduction_ops as R
from tapeviz.ops.linalg_ops import matmul
from tapeviz.ops.nn_ops import relu_grad


def _out_shape(op, index=0):
    return op._entry[4][index].shape


def _full(t, op):
    """A tangent of an input that broadcasts, at the shape of the op's output."""
    shape = _out_shape(op)
    return t if t._value.shape == shape else A.broadcast_to(t, shape)


def _sum(op, *terms):
    """The tangent of a sum of the inputs (AddV2, AddN): the sum of the tangents there are."""
    present = [t for t in terms if t is not None]
    if not present:
        return None
    total = present[0]
    for t in present[1:]:
        total = total + t
    return _full(total, op)


def _sub(op, tx, ty):
    return _sum(op, tx, None if ty is None else -ty)


def _mul(op, tx, ty):
    x, y = op.inputs
    return _sum(op, None if tx is None else tx * y, None if ty is None else x * ty)


def _div(op, tx, ty):
    x, y = op.inputs
    return _sum(op, None if tx is None else tx / y, None if ty is None else -ty * x / (y * y))


def _zeros_for(tangents, op):
    return [t if t is not None else tv.zeros_like(x) for t, x in zip(tangents, op.inputs)]


def _matmul_jvp(flag_a, flag_b):
    def jvp(op, ta, tb):
        a, b = op.inputs
        fa, fb = op.get_attr(flag_a), op.get_attr(flag_b)
        return _sum(op, None if ta is None else matmul(ta, b, transpose_a=fa, transpose_b=fb),
                    None if tb is None else matmul(a, tb, transpose_a=fa, transpose_b=fb))
    return jvp


UNARY = {
    "Neg": lambda op, t: -t,
    "Identity": lambda op, t: t,
    "Square": lambda op, t: t * 2.0 * op.inputs[0],
    "Exp": lambda op, t: t * op.outputs[0],
    "Log": lambda op, t: t / op.inputs[0],
    "Sin": lambda op, t: t * tv.cos(op.inputs[0]),
    "Cos": lambda op, t: -t * tv.sin(op.inputs[0]),
    "Tanh": lambda op, t: t * (1.0 - op.outputs[0] * op.outputs[0]),
    "Sigmoid": lambda op, t: t * op.outputs[0] * (1.0 - op.outputs[0]),
    "Relu": lambda op, t: relu_grad(t, op.outputs[0]),
}

LINEAR = {  # ops linear in their one input: the same op on the tangent
    "Reshape": lambda op, t: A.reshape(t, _out_shape(op)),
    "Squeeze": lambda op, t: A.reshape(t, _out_shape(op)),
    "ExpandDims": lambda op, t: A.reshape(t, _out_shape(op)),
    "Transpose": lambda op, t: A.transpose(t, op.get_attr("axes")),
    "BroadcastTo": lambda op, t: A.broadcast_to(t, op.get_attr("shape")),
    "Sum": lambda op, t: R.reduce_sum(t, axis=op.get_attr("axis"), keepdims=op.get_attr("keepdims")),
    "Mean": lambda op, t: R.reduce_mean(t, axis=op.get_attr("axis"), keepdims=op.get_attr("keepdims")),
    "StridedSlice": lambda op, t: A._getitem(t, op.get_attr("key")),
}


def _softmax_jvp(op, t):
    y = op.outputs[0]
    return y * (t - R.reduce_sum(t * y, axis=op.get_attr("axis"), keepdims=True))


def _log_softmax_jvp(op, t):
    return t - R.reduce_sum(t * tv.exp(op.outputs[0]), axis=op.get_attr("axis"), keepdims=True)


def _select_jvp(op, tcondition, tx, ty):
    condition, x, y = op.inputs
    tx = tv.zeros_like(x) if tx is None else tx
    ty = tv.zeros_like(y) if ty is None else ty
    return _full(A.where(condition, tx, ty), op)


def _relu_grad_jvp(op, tg, tfeatures):
    # ReluGrad(g, features) = g * (features > 0): linear in g, piecewise constant in the features.
    return None if tg is None else relu_grad(tg, op.inputs[1])


def _pack_jvp(op, *tangents):
    return A.stack(_zeros_for(tangents, op), axis=op.get_attr("axis"))


def _concat_jvp(op, *tangents):
    return A.concat(_zeros_for(tangents, op), op.get_attr("axis"))


@hookimpl
def register_gradients(register):
    for op_type, rule in {**UNARY, **LINEAR}.items():
        register.forward(op_type, rule)
    register.forward("AddV2", _sum)
    register.forward("Sub", _sub)
    register.forward("Mul", _mul)
    register.forward("RealDiv", _div)
    register.forward("AddN", _sum)
    register.forward("ReluGrad", _relu_grad_jvp)
    register.forward("Pack", _pack_jvp)
    register.forward("Softmax", _softmax_jvp)
    register.forward("LogSoftmax", _log_softmax_jvp)
    register.forward("SelectV2", _select_jvp)
    register.forward("ConcatV2", _concat_jvp)
    register.forward("MatMul", _matmul_jvp("transpose_a", "transpose_b"))
    register.forward("BatchMatMulV2", _matmul_jvp("adj_x", "adj_y"))
