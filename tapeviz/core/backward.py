"""The backward pass: from recorded ops, targets and seeds, the gradient for each source.

Rules are plain dictionary look-ups here (filled once from the plugins); the ops a rule runs are
themselves recorded by any tape still recording, which is how nested tapes give higher orders.
"""
import numpy as np

from . import registry
from .dtypes import FLOATING_NUMPY
from .errors import GradientRuleError
from .execute import execute
from .tensor import Tensor


def _add(a, b):
    return execute("AddV2", np.add, (a, b))


def reachable_ops(ops, source_ids):
    """The ops on some path from a source (in record order) and every tensor id such a path reaches."""
    reachable = set(source_ids)
    relevant = []
    for op in ops:
        for t in op.inputs:
            if t._id in reachable:
                relevant.append(op)
                reachable.update(out._id for out in op.outputs)
                break
    return relevant, reachable


def backward(ops, targets, seeds, source_ids):
    """Gradients keyed by source id (absent = unconnected) of sum(targets * seeds)."""
    relevant, reachable = reachable_ops(ops, source_ids)
    grads = {}
    for target, seed in zip(targets, seeds):
        if target._id in reachable:
            grads[target._id] = _add(grads[target._id], seed) if target._id in grads else seed
    rules, not_differentiable = registry.gradient_functions, registry.not_differentiable
    for op in reversed(relevant):
        outputs = op.outputs
        if len(outputs) == 1:  # the common case, kept lean: this loop runs once per recorded op
            out_id = outputs[0]._id
            grad = grads.get(out_id) if out_id in source_ids else grads.pop(out_id, None)
            if grad is None:
                continue
            out_grads = (grad,)
        else:
            out_grads = [grads.get(o._id) if o._id in source_ids else grads.pop(o._id, None) for o in outputs]
            if all(g is None for g in out_grads):
                continue
            out_grads = [Tensor(np.zeros_like(o._value)) if g is None else g for g, o in zip(out_grads, outputs)]
        rule = op.grad_fn or rules.get(op.type)
        if rule is None:
            if op.type in not_differentiable:
                continue
            raise registry.missing_rule_error(op.type)
        op._reachable = reachable
        try:
            in_grads = rule(op, *out_grads)
        finally:
            op._reachable = None
        inputs = op.inputs
        if type(in_grads) is not tuple and type(in_grads) is not list:
            in_grads = (in_grads,)
        if len(in_grads) != len(inputs):
            raise _rule_error(op, f"returned {len(in_grads)} gradients for {len(inputs)} inputs")
        for t, g in zip(inputs, in_grads):
            if g is None or t._id not in reachable:
                continue
            if type(g) is not Tensor:
                raise _rule_error(op, f"returned a {type(g).__name__}, not a Tensor or None")
            value, expected = g._value, t._value
            if value.dtype is not expected.dtype or value.shape != expected.shape:
                if value.dtype != expected.dtype or value.shape != expected.shape:
                    raise _rule_error(op, f"returned a gradient of {value.dtype}{list(value.shape)} for an input "
                                          f"of {expected.dtype}{list(expected.shape)}")
            previous = grads.get(t._id)
            grads[t._id] = g if previous is None else _add(previous, g)
    return grads


def _rule_error(op, problem):
    where = registry.describe_rule(op.type) if op.grad_fn is None else "a custom_gradient function"
    return GradientRuleError(f"The gradient rule for {op.type} ({where}) {problem}. Fix the rule so it returns "
                             "one gradient (or None) per input, each with its input's shape and dtype.")


def is_differentiable_dtype(value):
    return value.dtype in FLOATING_NUMPY
