"""tapeviz: tape-based reverse-mode autodiff on numpy, with TensorFlow's GradientTape API.

``import tapeviz as tf`` runs TensorFlow GradientTape code; gradient rules arrive through pluggy
plugins (see ``tapeviz.core.hookspecs``).
"""
__version__ = "0.1.0"

from tapeviz.core.dtypes import (  # noqa: E402
    DType, as_dtype, bool_ as bool, double, float16, float32, float64, half, int8, int16, int32, int64, string, uint8,
)
from tapeviz.core.errors import GradientRuleError, InvalidArgumentError, OpError  # noqa: E402
from tapeviz.core.tensor import Tensor, TensorShape, Variable, convert_to_tensor  # noqa: E402
from tapeviz.core.tape import GradientTape, UnconnectedGradients  # noqa: E402
from tapeviz.core.custom_gradient import custom_gradient  # noqa: E402
from tapeviz.core.register import NotDifferentiable, RegisterGradient, no_gradient  # noqa: E402
from tapeviz.core.registry import CheckCase  # noqa: E402
from tapeviz import raw_ops  # noqa: E402
from tapeviz.module import Module, get_current_name_scope, name_scope  # noqa: E402
from tapeviz.ops.math_ops import *  # noqa: E402,F401,F403
from tapeviz.ops.array_ops import *  # noqa: E402,F401,F403
from tapeviz.ops.reduction_ops import *  # noqa: E402,F401,F403
from tapeviz.ops.linalg_ops import *  # noqa: E402,F401,F403
from tapeviz.ops.nn_ops import *  # noqa: E402,F401,F403
from tapeviz.ops.random_ops import *  # noqa: E402,F401,F403
from tapeviz import autodiff, errors, keras, linalg, math, nn, random  # noqa: E402,F401
from tapeviz import config, data  # noqa: E402,F401
from tapeviz.function import TensorSpec, function  # noqa: E402,F401
from tapeviz.ops.control_flow_ops import cond, is_tensor, print_ as print, while_loop  # noqa: E402,F401,A001
from tapeviz.ops.einsum_ops import einsum  # noqa: E402,F401
from tapeviz.ops.index_ops import argsort, gather_nd, meshgrid, repeat, scatter_nd, sort  # noqa: E402,F401
from tapeviz.ops.matrix_ops import tensordot  # noqa: E402,F401
from tapeviz.ops.stat_ops import (  # noqa: E402,F401
    clip_by_global_norm, cumprod, cumsum, divide_no_nan, reduce_std, reduce_variance,
)
from tapeviz.ops.selection_ops import (  # noqa: E402,F401
    roll, searchsorted, tensor_scatter_nd_add, tensor_scatter_nd_sub, tensor_scatter_nd_update, unique,
    unique_with_counts,
)
from tapeviz.ops.functional_ops import foldl, foldr, map_fn, scan, vectorized_map  # noqa: E402,F401
from tapeviz.ops.check_ops import (  # noqa: E402,F401
    assert_equal, assert_greater, assert_less, assert_rank, ensure_shape,
)
from tapeviz.ops.more_math_ops import atan2  # noqa: E402,F401
from tapeviz.ops.counting_ops import sequence_mask  # noqa: E402,F401
from tapeviz.ops.partition_ops import dynamic_partition, dynamic_stitch  # noqa: E402,F401
from tapeviz.ops.control_flow_ops import case, switch_case  # noqa: E402,F401
from tapeviz.ops.array_ops import identity_n  # noqa: E402,F401
from tapeviz import debugging, image  # noqa: E402,F401
from tapeviz import dtypes  # noqa: E402,F401
from tapeviz.inspection.recorder import record  # noqa: E402,F401
from tapeviz.core.tape import register_explainer as _register_explainer  # noqa: E402
from tapeviz.inspection.recorder import explain_tape as _explain_tape  # noqa: E402

_register_explainer(_explain_tape)  # the core's tape.explain, provided from above without an upward import

import os as _os  # noqa: E402
import warnings as _warnings  # noqa: E402

# numpy warns where TensorFlow's kernels are silent (log(0) is -inf, 0/0 is nan, exp(100) is inf in
# float32). The filter matches only warnings raised from tapeviz's op and rule code, so a user's own
# numpy calls still warn, and it costs ops nothing: filters are read only when a warning is raised.
_warnings.filterwarnings("ignore", category=RuntimeWarning,
                         module=r"tapeviz\.(ops|plugins)\.|tapeviz\.core\.(execute|backward)$")

if _os.environ.get("TAPEVIZ_RECORD"):
    from tapeviz.inspection.recorder import record_from_environment as _record_from_environment
    _record_from_environment()


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz', name)
