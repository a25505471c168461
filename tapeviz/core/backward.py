"""The backward pass: from recorded ops, targets and seeds, the gradient for each source.

Rules are plain dictionary look-ups here (filled once from the plugins); the ops a rule runs are
themselves recorded by any tape still recording, which is how nested tapes give higher orders.
``backward`` is the ordinary pass; ``backward_batched`` runs many seeds at once (jacobians), each
gradient carrying a leading batch dimension (see ``tapeviz.core.batching``).
"""
import numpy as np

from . import registry, shape_ops
from .batching import DiagonalGradient, leading_batch_dims
from .dtypes import FLOATING_NUMPY
from .errors import GradientRuleError
from .execute import Operation, execute
from .tensor import Tensor


def _add(a, b):
    return execute("AddV2", np.add, (a, b))


def reachable_ops(entries, source_ids):
    """The tape entries on some path from a source (in record order) and every tensor id they reach."""
    reachable = set(source_ids)
    relevant = []
    for entry in entries:
        for tensor_id in entry[1]:
            if tensor_id in reachable:
                relevant.append(entry)
                reachable.update(entry[3])
                break
    return relevant, reachable


def backward(entries, targets, seeds, source_ids):
    """Gradients keyed by source id (absent = unconnected) of sum(targets * seeds)."""
    relevant, reachable = reachable_ops(entries, source_ids)
    grads = {}
    for target, seed in zip(targets, seeds):
        if target._id in reachable:
            grads[target._id] = _add(grads[target._id], seed) if target._id in grads else seed
    rules, not_differentiable = registry.gradient_functions, registry.not_differentiable
    # This loop runs once per recorded op: the one-output, one-input cases are kept lean.
    for entry in reversed(relevant):
        op_type, in_ids, in_values, out_ids, out_values, _, grad_fn = entry
        if len(out_ids) == 1:
            out_id = out_ids[0]
            grad = grads.get(out_id) if out_id in source_ids else grads.pop(out_id, None)
            if grad is None:
                continue
            out_grads = None
        else:
            out_grads = [grads.get(i) if i in source_ids else grads.pop(i, None) for i in out_ids]
            if all(g is None for g in out_grads):
                continue
            out_grads = [Tensor(np.zeros_like(v)) if g is None else g for g, v in zip(out_grads, out_values)]
        rule = grad_fn or rules.get(op_type)
        if rule is None:
            if op_type in not_differentiable:
                continue
            raise registry.missing_rule_error(op_type)
        op = Operation(entry, reachable)
        in_grads = rule(op, grad) if out_grads is None else rule(op, *out_grads)
        if type(in_grads) is not tuple and type(in_grads) is not list:
            in_grads = (in_grads,)
        if len(in_grads) != len(in_ids):
            raise _rule_error(op, f"returned {len(in_grads)} gradients for {len(in_ids)} inputs")
        for tensor_id, expected, g in zip(in_ids, in_values, in_grads):
            if g is None or tensor_id not in reachable:
                continue
            if type(g) is not Tensor:
                raise _rule_error(op, f"returned a {type(g).__name__}, not a Tensor or None")
            value = g._value
            if value.dtype is not expected.dtype or value.shape != expected.shape:
                if value.dtype != expected.dtype or value.shape != expected.shape:
                    raise _rule_error(op, f"returned a gradient of {value.dtype}{list(value.shape)} for an input "
                                          f"of {expected.dtype}{list(expected.shape)}")
            previous = grads.get(tensor_id)
            grads[tensor_id] = g if previous is None else _add(previous, g)
    return grads


def backward_batched(entries, targets, seeds, source_ids, vectorize=True):
    """Like ``backward`` for seeds with one leading batch dimension of B rows: gradients shaped (B, ...).

    Rules registered ``batched=True`` get the whole batch in one call; other rules (and custom
    gradients) are called once per row, and so are all rules when ``vectorize`` is False. A seed may
    be a ``DiagonalGradient`` (batch_jacobian's): rules with a diagonal rule keep it in that form,
    the first other rule gets it dense.
    """
    relevant, reachable = reachable_ops(entries, source_ids)
    first = seeds[0]
    rows = first.rows if type(first) is DiagonalGradient else first._value.shape[0]
    grads = {}
    for target, seed in zip(targets, seeds):
        if target._id in source_ids and type(seed) is Tensor and not seed._value.flags.writeable:
            seed = Tensor(np.array(seed._value))  # returned as the source's own gradient: the caller's copy
        if target._id in reachable:
            grads[target._id] = _accumulate(grads[target._id], seed) if target._id in grads else seed
    rules, not_differentiable, batch_aware, diagonal_rules = registry.gradient_functions, \
        registry.not_differentiable, registry.batch_aware, registry.diagonal_rules
    for entry in reversed(relevant):
        op_type, in_ids, in_values, out_ids, out_values, _, grad_fn = entry
        out_grads = [grads.get(i) if i in source_ids else grads.pop(i, None) for i in out_ids]
        if all(g is None for g in out_grads):
            continue
        rule = grad_fn or rules.get(op_type)
        if rule is None:
            if op_type in not_differentiable:
                continue
            raise registry.missing_rule_error(op_type)
        op = Operation(entry, reachable)
        in_grads = NotImplemented
        if type(out_grads[0]) is DiagonalGradient and len(out_grads) == 1:
            diagonal_rule = diagonal_rules.get(op_type) if vectorize and grad_fn is None else None
            if diagonal_rule is not None:
                with leading_batch_dims(1):
                    in_grads = _checked_diagonal(op, diagonal_rule(op, out_grads[0]), in_ids, in_values,
                                                 reachable, rows)
        if in_grads is NotImplemented:
            out_grads = [Tensor(np.zeros((rows,) + v.shape, v.dtype)) if g is None else
                         g.dense() if type(g) is DiagonalGradient else g for g, v in zip(out_grads, out_values)]
            if vectorize and grad_fn is None and op_type in batch_aware:
                with leading_batch_dims(1):
                    in_grads = _checked(op, rule(op, *out_grads), in_ids, in_values, reachable, (rows,))
            else:
                in_grads = _row_by_row(op, rule, out_grads, rows, in_ids, in_values, reachable)
        for tensor_id, g in zip(in_ids, in_grads):
            if g is not None:
                previous = grads.get(tensor_id)
                grads[tensor_id] = g if previous is None else _accumulate(previous, g)
    for tensor_id in source_ids:
        if type(grads.get(tensor_id)) is DiagonalGradient:
            dense = grads[tensor_id].dense()
            # the seed's read-only broadcast, returned as a source's own gradient: the caller's copy
            grads[tensor_id] = dense if dense._value.flags.writeable else Tensor(np.array(dense._value))
    return grads


def _accumulate(previous, g):
    """previous + g, each a batched Tensor or a DiagonalGradient: diagonal stays diagonal only if both are."""
    if type(previous) is DiagonalGradient:
        if type(g) is DiagonalGradient:
            return previous.add(g)
        previous = previous.dense()
    return _add(previous, g.dense() if type(g) is DiagonalGradient else g)


def _checked_diagonal(op, in_grads, in_ids, in_values, reachable, rows):
    """A diagonal rule's gradients: NotImplemented (it declines), or one per input, each a DiagonalGradient
    with its input's shape and dtype, a checked (rows, ...) Tensor or None."""
    if in_grads is NotImplemented:
        return in_grads
    if type(in_grads) is not tuple and type(in_grads) is not list:
        in_grads = (in_grads,)
    dense = [None if type(g) is DiagonalGradient else g for g in in_grads]
    checked = _checked(op, dense, in_ids, in_values, reachable, (rows,))
    for index, (tensor_id, expected, g) in enumerate(zip(in_ids, in_values, in_grads)):
        if type(g) is not DiagonalGradient or tensor_id not in reachable:
            continue
        if g.dtype != expected.dtype or g.shape != expected.shape or g.rows != rows:
            raise _rule_error(op, f"returned a diagonal gradient of {g.dtype}{list(g.shape)} with {g.rows} rows "
                                  f"for an input of {expected.dtype}{list(expected.shape)} in a pass of {rows} rows")
        checked[index] = g
    return checked


def _row_by_row(op, rule, out_grads, rows, in_ids, in_values, reachable):
    """A rule that takes one ordinary gradient, called once per row; its results stacked into batches."""
    with leading_batch_dims(0):
        results = [_checked(op, rule(op, *[shape_ops.row(g, i) for g in out_grads]), in_ids, in_values,
                            reachable, ()) for i in range(rows)]
    stacked = []
    for index, expected in enumerate(in_values):
        column = [result[index] for result in results]
        if all(g is None for g in column):
            stacked.append(None)
        else:
            stacked.append(shape_ops.stack([Tensor(np.zeros_like(expected)) if g is None else g for g in column]))
    return stacked


def _checked(op, in_grads, in_ids, in_values, reachable, batch_shape):
    """The rule's gradients, one per input (None where unneeded), each checked for type, shape and dtype."""
    if type(in_grads) is not tuple and type(in_grads) is not list:
        in_grads = (in_grads,)
    if len(in_grads) != len(in_ids):
        raise _rule_error(op, f"returned {len(in_grads)} gradients for {len(in_ids)} inputs")
    checked = []
    for tensor_id, expected, g in zip(in_ids, in_values, in_grads):
        if g is None or tensor_id not in reachable:
            checked.append(None)
            continue
        if type(g) is not Tensor:
            raise _rule_error(op, f"returned a {type(g).__name__}, not a Tensor or None")
        value = g._value
        if value.dtype != expected.dtype or value.shape != batch_shape + expected.shape:
            if batch_shape:
                raise _rule_error(op, f"returned a gradient of {value.dtype}{list(value.shape)} in a vectorized "
                                      f"pass of {batch_shape[0]} rows, for an input of {expected.dtype}"
                                      f"{list(expected.shape)} (expected {list(batch_shape + expected.shape)}). "
                                      "A rule registered with batched=True must keep the gradient's leading "
                                      "batch dimension (tapeviz.core.batching.batch_dims() says how many); register it "
                                      "without batched=True to have it called once per row instead")
            raise _rule_error(op, f"returned a gradient of {value.dtype}{list(value.shape)} for an input "
                                  f"of {expected.dtype}{list(expected.shape)}")
        checked.append(g)
    return checked


def _rule_error(op, problem):
    where = registry.describe_rule(op.type) if op.grad_fn is None else "a custom_gradient function"
    return GradientRuleError(f"The gradient rule for {op.type} ({where}) {problem}. Fix the rule so it returns "
                             "one gradient (or None) per input, each with its input's shape and dtype.")


def is_differentiable_dtype(value):
    return value.dtype in FLOATING_NUMPY
