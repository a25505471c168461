"""Gradient rules for Cumsum, Cumprod and DivNoNan, as TensorFlow's math_grad writes them.

All take a vectorized pass's gradients (``batched=True``): the scans' recorded axis (stored
non-negative) moves past the leading batch dimension; DivNoNan is element-wise.
"""
import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import stat_ops

from ._helpers import batch_dims, binary_cases, randn, unbroadcast


def _scan_attrs(op):
    return op.get_attr("axis"), op.get_attr("exclusive"), op.get_attr("reverse")


def _cumsum_grad(op, grad):
    axis, exclusive, reverse = _scan_attrs(op)
    return stat_ops.cumsum(grad, axis + batch_dims(), exclusive=exclusive, reverse=not reverse)


def _cumprod_grad(op, grad):
    # TF's rule divides by x, so it is undefined where x is 0 (as in TF).
    x = op.inputs[0]
    axis, exclusive, reverse = _scan_attrs(op)
    product = stat_ops.cumprod(x, axis, exclusive=exclusive, reverse=reverse)
    return stat_ops.cumsum(product * grad, axis + batch_dims(), exclusive=exclusive, reverse=not reverse) / x


def _div_no_nan_grad(op, grad):
    x, y = op.inputs
    grad_x = stat_ops.divide_no_nan(grad, y)
    grad_y = grad * stat_ops.divide_no_nan(stat_ops.divide_no_nan(-x, y), y)
    return unbroadcast(grad_x, x), unbroadcast(grad_y, y)


def _scan_cases(fn):
    cases = []
    for shape, axis in [((5,), 0), ((2, 3), 1), ((3, 2), 0)]:
        for exclusive, reverse in [(False, False), (True, False), (False, True), (True, True)]:
            cases.append(CheckCase(lambda x, a=axis, e=exclusive, r=reverse: fn(x, a, exclusive=e, reverse=r),
                                   (randn(*shape, seed=2, low=0.5, high=1.5),),
                                   name=f"{shape} axis {axis} exclusive={exclusive} reverse={reverse}"))
    return cases


@hookimpl
def register_gradients(register):
    register("Cumsum", _cumsum_grad, checks=_scan_cases(stat_ops.cumsum), batched=True, needs_inputs=False,
             needs_outputs=False)
    register("Cumprod", _cumprod_grad, batched=True, checks=_scan_cases(stat_ops.cumprod))
    by_zero = CheckCase(lambda x: stat_ops.divide_no_nan(x, tv.constant([0.0, 2.0], tv.float64)), (randn(2, seed=4),),
                        name="by zero")
    register("DivNoNan", _div_no_nan_grad, batched=True,
             checks=binary_cases(stat_ops.divide_no_nan, low=0.5, high=2.0) + [by_zero])
