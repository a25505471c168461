"""Why a gradient that exists is NaN/Inf, or exactly zero: the op that did it, its line, the values, the fix.

For a non-finite gradient: the first op of the backward pass whose inputs were all finite and whose
output was not, the forward op whose gradient rule ran it (the forward op that made or took a value
that op read: rules compute from their op's inputs and outputs), that op's input values (from
their summaries) and the usual fix. If the target itself is NaN/Inf, or the backward pass only
carried non-finite values along, the forward pass made them: then the first forward op that did is
named, or the update that wrote NaN into a variable it read, or the data that came in with NaN.
For an exactly-zero gradient: an op on the path that blocks every element (a ReLU whose units are
all inactive, a saturated tanh/sigmoid, clip_by_value outside its range, a zero factor), as a
warning; zeros are followed back to where they began (zero weights, x - mean(x) over one example).

Runs only for results whose summary says non-finite or all-zero, so finite gradients cost nothing.
"""
import bisect

from .explain import _evidence, _path_ops, calls_function, cone, describe
from .model import Explanation

BACKWARD_LIMIT = 20000  # backward-pass ops looked at, at most, before a call
EVENT_LIMIT = 20000  # events looked back through, at most, for the update that made a variable NaN/Inf
_UPDATES = ("assign", "assign_add", "assign_sub")

_DOUBLE_WHERE = ("use the double-where trick: first make the input safe where it is bad, then mask the "
                 "result: `safe = tf.where(x > 0, x, 1.0); y = tf.where(x > 0, {f}(safe), 0.0)` (a single "
                 "tf.where still sends NaN through the branch not taken)")
_NONFINITE = {
    # op type -> (code, what happened given the input range, fix)
    # TF's sqrt and rsqrt gradients are 0 wherever no gradient comes in (TF 2.21: the gradient of
    # tf.where(x > 0, tf.sqrt(x), 0.0) at x = 0 is 0), so for them, unlike log, pow or a division, one
    # tf.where is enough.
    "Sqrt": ("NONFINITE_SQRT_AT_ZERO", "sqrt at 0: its gradient 0.5 / sqrt(x) is infinite at x = 0",
             "keep the gradient away from the zeros: `tf.where(x > 0, tf.sqrt(x), 0.0)` is enough for sqrt (its "
             "gradient is 0 wherever no gradient reaches it), or add a small epsilon: tf.sqrt(x + 1e-12)"),
    "Rsqrt": ("NONFINITE_SQRT_AT_ZERO", "rsqrt at 0: 1 / sqrt(x) and its gradient are infinite at x = 0",
              "add a small epsilon: tf.math.rsqrt(x + 1e-12), or mask the zeros out with "
              "`tf.where(x > 0, tf.math.rsqrt(x), 0.0)`"),
    "Log": ("NONFINITE_LOG_OF_ZERO", "log of 0 (or of a negative number): its gradient 1 / x is infinite at 0",
            "use tf.math.log1p(x) for log(1 + x), clip the input (tf.maximum(x, 1e-7)), or compute the loss from "
            "logits (log_softmax) instead of log(softmax)"),
    "RealDiv": ("NONFINITE_DIVIDE_BY_ZERO", "x / 0: the denominator is 0 somewhere",
                "use tf.math.divide_no_nan(x, y), or keep the denominator away from 0 (y + epsilon)"),
    "Reciprocal": ("NONFINITE_DIVIDE_BY_ZERO", "1 / 0: the input is 0 somewhere",
                   "use tf.math.divide_no_nan(1.0, x), or keep the input away from 0"),
    "Exp": ("NONFINITE_EXP_OVERFLOW", "exp overflow: exp(x) is infinite for x above about 88 in float32",
            "clip the input (tf.clip_by_value / tf.minimum), or use a stable form: tf.nn.softplus, "
            "tf.reduce_logsumexp, log_softmax"),
    "Pow": ("NONFINITE_POW_AT_ZERO", "x ** p at x = 0 with p < 1: its gradient p * x ** (p - 1) is infinite",
            _DOUBLE_WHERE.format(f="(lambda v: v ** p)") + ", or add a small epsilon"),
}
_GENERIC = ("NONFINITE_GRADIENT", "the op's gradient is not finite for these values",
            "keep the op's inputs in its finite range (clipping, an epsilon), or clip gradients with "
            "tf.clip_by_global_norm")


def _range(run, tensor_id):
    info = run.tensors.get(tensor_id)
    if info is None or "min" not in info.summary:
        return None
    return info.summary["min"], info.summary["max"]


def _finite(run, tensor_id):
    info = run.tensors.get(tensor_id)
    return info is None or not info.summary.get("nonfinite")


def _values_text(run, op):
    parts = []
    for index, tensor_id in enumerate(op.inputs):
        found = _range(run, tensor_id)
        if found is not None:
            low, high = found
            parts.append(f"input {index} is {low:.6g}" if low == high else f"input {index} ranges over "
                         f"[{low:.6g}, {high:.6g}]")
    return "; ".join(parts)


def _backward_ops(run, call):
    """The ops the backward pass of ``call`` ran, in order: those just before it, at its line."""
    ops = run.ops
    count = len(ops)
    if not count or not (1 in ops and count in ops):
        return []
    ids = range(1, count + 1)
    last = bisect.bisect_left(ids, call.seq, key=lambda i: ops[i].seq)
    found = []
    for op_id in range(last, max(0, last - BACKWARD_LIMIT), -1):
        op = ops[op_id]
        if not op.backward and op.location != call.location:
            break
        found.append(op)
    return found[::-1]


def _named(op):
    """An op in a sentence: its type, and the layer (name scope) it ran in, as several layers share a line."""
    return f"{op.type} (in {op.scope})" if op.scope else op.type


def _made_by(run, tensor_id, types, depth=3):
    """The type among ``types`` of the op that made ``tensor_id``, looking back a few ops (1 - sigmoid(z))."""
    frontier = [tensor_id]
    for _ in range(depth):
        ops = [run.ops.get(run.tensors[t].producer) for t in frontier
               if t in run.tensors and run.tensors[t].producer is not None]
        ops = [op for op in ops if op is not None]
        for op in ops:
            if op.type in types:
                return op.type
        frontier = [i for op in ops for i in op.inputs]
    return None


def _nonfinite_leaves(run, forward_ops):
    """The values the forward pass took in (made by no op of it) that hold NaN/Inf: data, constants."""
    made = {o for op in forward_ops for o in op.outputs}
    found = []
    for op in forward_ops:
        for tensor_id in op.inputs:
            if tensor_id not in made and tensor_id not in found and not _finite(run, tensor_id):
                found.append(tensor_id)
    return found


def _first_nonfinite(run, ops):
    for op in ops:
        if any(not _finite(run, o) for o in op.outputs) and all(_finite(run, i) for i in op.inputs):
            return op
    return None


def _rule_owner(culprit, forward_ops):
    """The forward op whose gradient rule most likely ran ``culprit``: one that made or took a value it read.

    Prefers ops whose gradient is known to blow up (sqrt, log, division, pow...), then the op that
    made the value over one that took it, then the latest.
    """
    read = set(culprit.inputs)
    best, best_score = None, None
    for op in forward_ops:
        made, took = any(o in read for o in op.outputs), any(i in read for i in op.inputs)
        if not (made or took):
            continue
        score = (op.type in _NONFINITE, made, op.seq)
        if best_score is None or score > best_score:
            best, best_score = op, score
    return best


def diagnose(run, call, result):
    """An Explanation of kind "nonfinite" or "zero" for a gradient result, or None."""
    summary = result.summary
    if summary.get("nonfinite"):
        return _nonfinite(run, call, result)
    if summary.get("min") == 0 and summary.get("max") == 0:
        return _blocked_zero(run, call, result)
    return None


def _nonfinite(run, call, result):
    src = describe(run, result.source)
    forward_ops = {}
    for target in call.targets:
        forward_ops.update((op.id, op) for op in cone(run, target, call.seq))
    forward_ops = sorted(forward_ops.values(), key=lambda op: op.seq)
    # A target that is NaN/Inf itself: the forward pass made it, and every NaN of the backward pass
    # follows from that (a 0 / 0 in a normalization, not the sqrt beside it whose gradient blew up).
    target_nonfinite = any(not _finite(run, t) for t in call.targets)
    culprit = None if target_nonfinite else _first_nonfinite(run, _backward_ops(run, call))
    forward = _rule_owner(culprit, forward_ops) if culprit is not None else None
    where = "backward"
    if forward is None:
        forward = _first_nonfinite(run, forward_ops)
        where = "forward"
        if forward is None:
            came_in = _nonfinite_leaves(run, forward_ops)
            if came_in:
                info = run.tensors[came_in[0]]
                count = info.summary.get("nonfinite")
                held = f" holds {count} NaN/Inf value{'s' if count != 1 else ''}" if count else " holds NaN/Inf"
                return Explanation(
                    "NONFINITE_INPUT", f"The gradient with respect to {src} is NaN/Inf because a value that went into "
                    f"the forward pass already was: {describe(run, came_in[0])}{held} (data with a missing value?); "
                    "no op made it.",
                    "Clean the data before training (np.isnan / np.isfinite on the arrays; drop or fill the missing "
                    "values), or check it with tf.debugging.check_numerics where it enters.",
                    [_evidence(f"{describe(run, i)} holds NaN/Inf", tensor=i, location=run.tensors[i].first_seen)
                     for i in came_in[:2]] + [_evidence("the gradient call", location=call.location)],
                    kind="nonfinite")
            return Explanation(
                "NONFINITE_INPUT", f"The gradient with respect to {src} is NaN/Inf, and no recorded op turned finite "
                "values into non-finite ones: a non-finite value went in (data, a variable or an output gradient).",
                "Check the inputs and the variables for NaN/Inf (tf.debugging.check_numerics, np.isfinite).",
                [_evidence("the gradient call", location=call.location)], kind="nonfinite")
    poisoned = _poisoned_variable(run, forward) if where == "forward" else None
    if poisoned is not None:
        return _variable_holds_nonfinite(run, call, src, forward, *poisoned)
    code, what, fix = _NONFINITE.get(forward.type, _GENERIC)
    activation = _made_by(run, forward.inputs[0], ("Sigmoid", "Softmax")) if forward.type == "Log" else None
    if activation == "Sigmoid":
        fix = ("compute the loss from the logits, before the sigmoid: tf.nn.sigmoid_cross_entropy_with_logits(labels, "
               "logits) (or BinaryCrossentropy(from_logits=True)), which never takes log(0); or clip the input: "
               "tf.math.log(tf.maximum(p, 1e-7))")
    elif activation == "Softmax":
        fix = ("compute the loss from the logits, before the softmax: tf.nn.log_softmax(logits) or "
               "tf.nn.softmax_cross_entropy_with_logits (CategoricalCrossentropy(from_logits=True)); or clip the "
               "input: tf.math.log(tf.maximum(p, 1e-7))")
    if forward.type == "Sqrt" and calls_function(forward.location, "norm"):
        fix = ("the sqrt inside tf.norm has an infinite gradient where the vector is 0 (two equal embeddings): "
               "write tf.sqrt(tf.reduce_sum(tf.square(x), axis) + 1e-12) instead, or " + fix)
    values = _values_text(run, forward)
    line = f" at line {forward.location.line}" if forward.location else ""
    if where == "backward":
        sentence = (f"The gradient with respect to {src} is NaN/Inf. The backward pass first turned finite values "
                    f"into non-finite ones in {culprit.type}, which the gradient of {_named(forward)}{line} ran: {what}"
                    + (f" ({values})." if values else "."))
        evidence = [_evidence(f"{forward.type} in the forward pass" + (f": {values}" if values else ""), forward),
                    _evidence(f"{culprit.type} in its gradient made the first NaN/Inf", culprit)]
    else:
        sentence = (f"The gradient with respect to {src} is NaN/Inf because the forward pass already was: "
                    f"{_named(forward)}{line} turned finite values into non-finite ones: {what}"
                    + (f" ({values})." if values else "."))
        evidence = [_evidence(f"{forward.type} made the first NaN/Inf" + (f": {values}" if values else ""), forward)]
    return Explanation(code, sentence, fix[0].upper() + fix[1:] + ".", evidence, kind="nonfinite")


def _poisoned_variable(run, op):
    """(variable id, the last update before ``op`` or None) if ``op`` read a variable that held NaN/Inf.

    A variable's summary is its value when first seen. A read of it (ReadVariableOp) that came out
    NaN/Inf says it held NaN/Inf; a variable used directly says so through the value its last update
    wrote (an optimizer applying a NaN gradient), when that value was a tensor."""
    variables = []
    for tensor_id in op.inputs:
        info = run.tensors.get(tensor_id)
        if info is not None and (info.kind == "variable" or info.read_of is not None):
            variables.append(info.read_of if info.read_of is not None else tensor_id)
    if not variables:
        return None
    read = op.type == "ReadVariableOp"
    events = run.events
    last = bisect.bisect_left(events, op.seq, key=lambda e: e.seq)
    for index in range(last - 1, max(-1, last - 1 - EVENT_LIMIT), -1):
        event = events[index]
        if event.kind in _UPDATES and event.tensor in variables:
            if read:
                return event.tensor, event
            value = run.tensors.get(int(event.detail)) if event.detail else None
            if value is not None and value.summary.get("nonfinite"):
                return event.tensor, event
    return (variables[0], None) if read else None


def _variable_holds_nonfinite(run, call, src, read, variable_id, update):
    """The forward pass read a variable that an earlier update (an optimizer step) had made NaN/Inf."""
    name = describe(run, variable_id)
    read_line = f" at line {read.location.line}" if read.location else ""
    if update is None:
        return Explanation(
            "NONFINITE_INPUT", f"The gradient with respect to {src} is NaN/Inf because {name} held NaN/Inf when the "
            f"forward pass read it{read_line}, and no recorded update put it there: it was made so.",
            "Check the variable's initial value (np.isfinite) and what assigned it before recording began.",
            [_evidence(f"{read.type} read {name} here", read)], kind="nonfinite")
    # No step number here: the same story at every later step is one explanation, folded.
    update_line = f" at line {update.location.line}" if update.location else ""
    return Explanation(
        "NONFINITE_INPUT", f"The gradient with respect to {src} is NaN/Inf because {name} already held NaN/Inf when "
        f"the forward pass read it{read_line}: an update{update_line} ({update.kind}) wrote NaN/Inf into it at an "
        "earlier step. The first step whose gradient was NaN/Inf says which op made it.",
        "Fix the earlier step's NaN/Inf gradient (its warning says which op made it); meanwhile skip updates "
        "whose gradients are not finite (tf.debugging.check_numerics, or tf.math.is_finite before "
        "apply_gradients), or clip gradients with tf.clip_by_global_norm.",
        [_evidence(f"{update.kind} wrote NaN/Inf into {name}", tensor=variable_id, location=update.location),
         _evidence(f"{read.type} read {name} here", read)], kind="nonfinite")


def _variable_read(run, tensor_id):
    """The variable a tensor is a read of (named as the variable in sentences), or None."""
    info = run.tensors.get(tensor_id)
    if info is None:
        return None
    if info.read_of is not None:
        return info.read_of
    producer = run.ops.get(info.producer) if info.producer is not None else None
    return producer.inputs[0] if producer is not None and producer.type == "ReadVariableOp" else None


# A zero factor zeroes the other factor's gradient.
_PRODUCTS = ("Mul", "MatMul", "BatchMatMulV2", "BatchMatMul", "BatchMatMulV3")


def _zero_origin(run, tensor_id, limit=64):
    """(op, variable): where the all-zero value ``tensor_id`` began. Walks back through producers whose
    output is all zero while one of their inputs is too; gives the first op that made zeros from inputs
    that are not (``x - mean(x)``, a ReLU), or the variable that is all zero (a read of it)."""
    current = tensor_id
    for _ in range(limit):
        info = run.tensors.get(current)
        if info is None:
            return None, None
        if info.kind == "variable" or info.read_of is not None:
            return None, info.read_of if info.read_of is not None else current
        op = run.ops.get(info.producer) if info.producer is not None else None
        if op is None:
            return None, None  # a zero constant: data, a mask, a loss weight
        if op.type == "ReadVariableOp" and op.inputs:
            return None, op.inputs[0]
        zero_inputs = [i for i in op.inputs if _range(run, i) == (0, 0)]
        if not zero_inputs:
            return op, None
        current = zero_inputs[0]
    return None, None


_CANCELLING = ("Sub", "AddV2", "Add")  # ops that make exact zeros of values that are not: x - mean(x)


def _centered(run, op):
    line = f" at line {op.location.line}" if op.location else ""
    return (f"{_named(op)}{line} made it exactly 0 from values that cancel, as x - mean(x) does when the mean is "
            "over a batch of one example (or over values that are all equal)")


def _blocking(run, op, on_path=()):
    """(code, what) if ``op`` passes an exactly-zero gradient for every element, from the values' summaries.
    ``on_path``: the tensors the gradient flows back to (the source and what it feeds)."""
    found = _range(run, op.inputs[0]) if op.inputs else None
    out = _range(run, op.outputs[0]) if op.outputs else None
    if op.type in _PRODUCTS and any(i in on_path for i in op.inputs):
        zero_factor = next((i for i in op.inputs if i not in on_path and _range(run, i) == (0, 0)), None)
        if zero_factor is not None:
            name = describe(run, _variable_read(run, zero_factor) or zero_factor)
            origin, variable = _zero_origin(run, zero_factor)
            if origin is not None and origin.type in ("Relu", "Relu6"):  # the layer after a dead ReLU
                line = f" at line {origin.location.line}" if origin.location else ""
                return "ZERO_RELU_INACTIVE", (f"the other factor, {name}, is exactly zero: every unit of the "
                                              f"ReLU{line} that made it is inactive")
            if origin is not None and origin.type in _CANCELLING:
                return "ZERO_CENTERED", f"the other factor, {name}, is exactly zero: {_centered(run, origin)}"
            direct = _variable_read(run, zero_factor) is not None
            if variable is not None and (op.type != "Mul" or not direct):
                held = "" if direct else f": {describe(run, variable)} is all zero"
                return "ZERO_WEIGHTS", f"the other factor, {name}, is all zero (a layer initialized with zeros?){held}"
            return "ZERO_MULTIPLIED_BY_ZERO", f"the other factor, {name}, is exactly zero"
    if op.type in ("Relu", "Relu6") and found == (0, 0):
        origin, variable = _zero_origin(run, op.inputs[0])
        if origin is not None and origin.type in _CANCELLING:
            return "ZERO_CENTERED", ("its input is exactly 0 everywhere, where a ReLU's gradient is 0: "
                                     + _centered(run, origin))
        if variable is not None:
            return "ZERO_WEIGHTS", (f"its input is exactly 0 everywhere, where a ReLU's gradient is 0: "
                                    f"{describe(run, variable)} before it is all zero")
    if op.type in ("Relu", "Relu6") and found is not None and found[1] <= 0:
        return "ZERO_RELU_INACTIVE", f"every unit of this ReLU is inactive (its input is at most {found[1]:.6g})"
    if op.type == "Tanh" and out is not None and out[0] == out[1] and abs(out[0]) == 1:
        return "ZERO_SATURATED", f"tanh is saturated: every output is exactly {out[0]:g} at float precision"
    if op.type == "Sigmoid" and out is not None and (out[0] >= 1 or out[1] <= 0):
        return "ZERO_SATURATED", f"sigmoid is saturated: every output is exactly {out[0]:g} at float precision"
    if op.type == "ClipByValue" and found is not None and len(op.inputs) == 3:
        low, high = _range(run, op.inputs[1]), _range(run, op.inputs[2])
        if low is not None and high is not None and (found[0] > high[1] or found[1] < low[0]):
            return "ZERO_CLIPPED", (f"clip_by_value clips every element: the input [{found[0]:.6g}, {found[1]:.6g}] "
                                    f"lies outside [{low[0]:.6g}, {high[1]:.6g}]")
    return None


_ZERO_FIXES = {
    "ZERO_CENTERED": "Normalize over more than one example (a batch size above 1), or normalize each example over "
                     "its features (LayerNormalization) instead of over the batch.",
    "ZERO_WEIGHTS": "Initialize weights randomly (a Keras initializer such as glorot_uniform, or "
                    "tf.random.normal(shape) * 0.1), not with zeros: with all-zero weights every unit computes 0 "
                    "and passes no gradient, so "
                    "the layers never start learning (biases may start at zero).",
    "ZERO_RELU_INACTIVE": "Check the layer's initialization and learning rate (dead ReLUs), or use tf.nn.leaky_relu "
                          "/ tf.nn.elu, which pass a gradient for negative inputs.",
    "ZERO_SATURATED": "Scale the inputs down (normalize, smaller initial weights), or compute the loss from logits "
                      "instead of from a saturated activation.",
    "ZERO_MULTIPLIED_BY_ZERO": "Check the factor (a loss weight or mask of 0 switches this term off): if that is "
                               "meant, the zero gradient is right.",
    "ZERO_CLIPPED": "Check the clipping range against the values, or clip with a smooth function that passes a "
                    "gradient outside the range.",
}


def _blocked_zero(run, call, result):
    src = describe(run, result.source)
    for target in call.targets:
        path = _path_ops(cone(run, target, call.seq), {result.source}, target)
        on_path = {result.source, *(o for op in path for o in op.outputs)}
        for op in path:
            found = _blocking(run, op, on_path)
            if found is not None:
                code, what = found
                line = f" at line {op.location.line}" if op.location else ""
                return Explanation(
                    code, f"The gradient with respect to {src} is exactly zero: {_named(op)}{line} passes no gradient "
                    f"because {what}.", _ZERO_FIXES[code], [_evidence(what, op)], kind="zero")
    return None
