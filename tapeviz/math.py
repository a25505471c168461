"""``tapeviz.math``, as ``tf.math``: element-wise math, comparisons, logic and reductions."""
from tapeviz.ops.math_ops import (  # noqa: F401
    abs, acos, add, add_n, asin, atan, ceil, cos, cosh, divide, equal, erf, exp, expm1, floor, floordiv, floormod,
    greater, greater_equal, is_finite, is_inf, is_nan, less, less_equal, log, log1p, logical_and, logical_not,
    logical_or, logical_xor, maximum, minimum, mod, multiply, negative, not_equal, pow, realdiv, reciprocal, round,
    rsqrt, sigmoid, sign, sin, sinh, softplus, sqrt, square, squared_difference, subtract, tan, tanh, truediv,
)
from tapeviz.ops.nn_ops import log_softmax, softmax  # noqa: F401
from tapeviz.ops.reduction_ops import (  # noqa: F401
    argmax, argmin, reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_prod,
    reduce_sum,
)
from tapeviz.ops.xent_ops import log_sigmoid  # noqa: F401
from tapeviz.ops.index_ops import top_k  # noqa: F401
from tapeviz.ops.stat_ops import cumprod, cumsum, divide_no_nan, reduce_std, reduce_variance  # noqa: F401
from tapeviz.ops.more_math_ops import (  # noqa: F401
    atan2, cumulative_logsumexp, l2_normalize, multiply_no_nan, reciprocal_no_nan, reduce_euclidean_norm, softsign,
    xdivy, xlogy,
)
from tapeviz.ops.counting_ops import confusion_matrix, count_nonzero, in_top_k  # noqa: F401
from tapeviz.ops.segment_ops import (  # noqa: F401
    segment_max, segment_mean, segment_min, segment_sum, unsorted_segment_max, unsorted_segment_mean,
    unsorted_segment_min, unsorted_segment_sqrt_n, unsorted_segment_sum,
)
from tapeviz.ops.selection_ops import bincount  # noqa: F401
from tapeviz.ops.special_ops import digamma, erfinv, lgamma, ndtri, polygamma  # noqa: F401

__all__ = [name for name in dir() if not name.startswith("_")]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.math', name)
