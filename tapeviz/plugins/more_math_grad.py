"""Gradient rules for Atan2, Xlogy, Xdivy, Softsign, EuclideanNorm and CumulativeLogsumexp, as
TensorFlow's math_grad.py and nn_grad.py write them.

Every rule takes a vectorized pass's gradients (``batched=True``): the element-wise ones through
``unbroadcast``, the reductions and scans by keeping the leading batch dimension in front.
"""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import array_ops as A
from tapeviz.ops import math_ops as M
from tapeviz.ops import more_math_ops as MM

from ._helpers import DeclaringReads, batch_dims, binary_cases, randn, skips, unbroadcast


def _atan2_grad(op, grad):
    y, x = op.inputs
    grad_inverse = grad / (M.square(x) + M.square(y))
    return (None if skips(op, 0) else unbroadcast(x * grad_inverse, y),
            None if skips(op, 1) else unbroadcast(-y * grad_inverse, x))


def _not_zero(x):
    return A.cast(M.not_equal(x, A.zeros_like(x)), x.dtype)


def _xlogy_grad(op, grad):
    x, y = op.inputs
    return (None if skips(op, 0) else unbroadcast(MM.xlogy(_not_zero(x), y) * grad, x),
            None if skips(op, 1) else unbroadcast(MM.xdivy(x, y) * grad, y))


def _xdivy_grad(op, grad):
    x, y = op.inputs
    return (None if skips(op, 0) else unbroadcast(MM.xdivy(_not_zero(x), y) * grad, x),
            None if skips(op, 1) else unbroadcast(MM.xdivy(-x, y ** 2) * grad, y))


def _mul_no_nan_grad(op, grad):
    # TF's _MulNoNanGrad: x gets mul_no_nan(grad, y), y gets mul_no_nan(x, grad).
    x, y = op.inputs
    return (None if skips(op, 0) else unbroadcast(MM.multiply_no_nan(grad, y), x),
            None if skips(op, 1) else unbroadcast(MM.multiply_no_nan(x, grad), y))


def _softsign_grad(op, grad):
    return grad / M.square(1.0 + M.abs(op.inputs[0]))


def _euclidean_norm_grad(op, grad):
    # TF's _EuclideanNormGrad: x / (norm / grad), with the reduced axes kept so both broadcast over x.
    x, output = op.inputs[0], op.outputs[0]
    if not op.get_attr("keep_dims"):
        axes = op.get_attr("axis")
        kept = tuple(1 if i in axes else n for i, n in enumerate(x._value.shape))
        output = A.reshape(output, kept)
        grad = A.reshape(grad, grad._value.shape[:batch_dims()] + kept)
    return x / (output / grad)


def _safe_log_where(condition, value, lowest):
    """log(value) where ``condition``, else ``lowest``; the log never sees an entry it is not kept for,
    so the second order has no 0 * inf."""
    safe = A.where(condition, value, A.ones_like(value))
    return A.where(condition, M.log(safe), A.fill(value._value.shape, lowest))


def _cumulative_logsumexp_grad(op, grad):
    # TF's rule: the incoming gradient split into its positive and negative parts, each carried in
    # log space through a scan in the other direction.
    x, output = op.inputs[0], op.outputs[0]
    axis = op.get_attr("axis") + batch_dims()
    exclusive, reverse = op.get_attr("exclusive"), op.get_attr("reverse")
    lowest = np.finfo(grad._value.dtype).min
    zeros = A.zeros_like(grad)
    log_positive = _safe_log_where(M.greater(grad, zeros), grad, lowest)
    log_negative = _safe_log_where(M.less(grad, zeros), -grad, lowest)
    positive = M.exp(MM.cumulative_logsumexp(log_positive - output, axis=axis, reverse=not reverse,
                                             exclusive=exclusive) + x)
    negative = M.exp(MM.cumulative_logsumexp(log_negative - output, axis=axis, reverse=not reverse,
                                             exclusive=exclusive) + x)
    return positive - negative


def _away_from_zero(*shape, seed=5):
    x = randn(*shape, seed=seed)
    return x + np.where(x >= 0, 0.25, -0.25)


def _finite_part(output, axis, exclusive, reverse):
    """An exclusive scan's entry that sums nothing is -inf, where finite differences are nan: leave it out."""
    if not exclusive:
        return output
    return output[(slice(None),) * axis + (slice(None, -1) if reverse else slice(1, None),)]


def _scan_cases():
    cases = []
    for shape, axis in [((5,), 0), ((2, 3), 1), ((3, 2), 0)]:
        for exclusive, reverse in [(False, False), (True, False), (False, True), (True, True)]:
            cases.append(CheckCase(
                lambda x, a=axis, e=exclusive, r=reverse: _finite_part(
                    MM.cumulative_logsumexp(x, a, exclusive=e, reverse=r), a, e, r),
                (randn(*shape, seed=8),), name=f"{shape} axis {axis} exclusive={exclusive} reverse={reverse}"))
    return cases


def _norm_cases():
    return [CheckCase(lambda x: MM.reduce_euclidean_norm(x), (randn(2, 3, seed=1),), name="all axes"),
            CheckCase(lambda x: MM.reduce_euclidean_norm(x, axis=1), (randn(2, 3, seed=2),), name="axis 1"),
            CheckCase(lambda x: MM.reduce_euclidean_norm(x, axis=[0, 2], keepdims=True), (randn(2, 3, 2, seed=3),),
                      name="axes [0, 2], keepdims")]


# What the rules read beyond shapes and dtypes (the tape keeps nothing else).
VALUES_READ = {
    "Softsign": dict(needs_inputs=True, needs_outputs=False),
    "EuclideanNorm": dict(needs_inputs=True, needs_outputs=True),
    "CumulativeLogsumexp": dict(needs_inputs=True, needs_outputs=True),
}


@hookimpl
def register_gradients(register):
    register = DeclaringReads(register, VALUES_READ, default=dict(needs_outputs=False, batched=True))
    # atan2 is smooth away from the origin: the cases keep x positive.
    register("Atan2", _atan2_grad, checks=[
        CheckCase(MM.atan2, (randn(*a, seed=1), randn(*b, seed=2, low=0.5, high=2.0)), name=f"{a} with {b}")
        for a, b in [((3,), (3,)), ((2, 3), ()), ((2, 1), (1, 3))]])
    register("Xlogy", _xlogy_grad, checks=binary_cases(MM.xlogy, low=0.5, high=2.0) + [
        CheckCase(lambda y: MM.xlogy(A.constant([0.0, 1.5], "float64"), y), (randn(2, seed=3, low=0.5, high=2.0),),
                  name="x with a zero")])
    register("Xdivy", _xdivy_grad, checks=binary_cases(MM.xdivy, low=0.5, high=2.0) + [
        CheckCase(lambda y: MM.xdivy(A.constant([0.0, 1.5], "float64"), y), (randn(2, seed=3, low=0.5, high=2.0),),
                  name="x with a zero")])
    register("MulNoNan", _mul_no_nan_grad, checks=binary_cases(MM.multiply_no_nan) + [
        CheckCase(lambda x: MM.multiply_no_nan(x, A.constant([0.0, 1.5], "float64")), (randn(2, seed=3),),
                  name="y with a zero")])
    register("Softsign", _softsign_grad, checks=[
        CheckCase(MM.softsign, (_away_from_zero(*shape),), name=str(shape)) for shape in [(), (4,), (2, 3)]])
    register("EuclideanNorm", _euclidean_norm_grad, checks=_norm_cases())
    register("CumulativeLogsumexp", _cumulative_logsumexp_grad, checks=_scan_cases())

