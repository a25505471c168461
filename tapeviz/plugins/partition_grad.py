"""The gradient rule for DynamicStitch, as TensorFlow's data_flow_grad.py writes it: each data tensor
gets the output's gradient gathered at its indices (a row overwritten by a later one gets it too,
as in TF); the indices get None.

It takes a vectorized pass's gradients (``batched=True``): the gather runs after the batch dimension.
"""
import numpy as np

from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops import array_ops as A
from tapeviz.ops import partition_ops as P

from ._helpers import batch_dims, randn


def _dynamic_stitch_grad(op, grad):
    count = op.get_attr("count")
    indices = op.inputs[:count]
    return [None] * count + [A.gather(grad, index, axis=batch_dims()) for index in indices]


@hookimpl
def register_gradients(register):
    register("DynamicStitch", _dynamic_stitch_grad, batched=True,
             needs_outputs=False, checks=[
                 CheckCase(lambda a, b: P.dynamic_stitch([np.array([0, 2]), np.array([1, 3])], [a, b]),
                           (randn(2, seed=1), randn(2, seed=2)), name="vectors"),
                 CheckCase(lambda a, b: P.dynamic_stitch([np.array([[2], [0]]), np.array([1])], [a, b]),
                           (randn(2, 1, 3, seed=3), randn(1, 3, seed=4)), name="rows, 2-D indices")])
