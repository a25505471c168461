"""``tapeviz.nn``, as ``tf.nn``: activation functions and softmax."""
from tapeviz.ops.math_ops import sigmoid, softplus, tanh
from tapeviz.ops.nn_ops import elu, gelu, leaky_relu, log_softmax, relu, relu6, selu, softmax

__all__ = ["relu", "relu6", "elu", "selu", "leaky_relu", "gelu", "softmax", "log_softmax", "sigmoid", "tanh",
           "softplus"]

from tapeviz.ops.xent_ops import (  # noqa: E402
    l2_loss, log_sigmoid, sigmoid_cross_entropy_with_logits, silu, softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits, swish,
)
from tapeviz.ops.conv_ops import avg_pool, avg_pool2d, conv2d, max_pool, max_pool2d  # noqa: E402
from tapeviz.ops.stat_ops import moments  # noqa: E402
from tapeviz.ops.index_ops import top_k  # noqa: E402

__all__ += ["moments", "top_k"]
__all__ += ["conv2d", "max_pool2d", "avg_pool2d", "max_pool", "avg_pool"]
__all__ += ["softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
            "sigmoid_cross_entropy_with_logits", "log_sigmoid", "silu", "swish", "l2_loss"]

from tapeviz.ops.more_math_ops import l2_normalize, softsign  # noqa: E402
from tapeviz.ops.nn_layer_ops import batch_normalization, bias_add, dropout, embedding_lookup  # noqa: E402

__all__ += ["softsign", "l2_normalize", "bias_add", "dropout", "embedding_lookup", "batch_normalization"]
from tapeviz.ops.conv_composite_ops import (  # noqa: E402
    atrous_conv2d, avg_pool1d, conv1d, conv2d_transpose, depth_to_space, depthwise_conv2d, max_pool1d,
    separable_conv2d, space_to_depth,
)
from tapeviz.ops.nn_layer_ops import (  # noqa: E402
    compute_average_loss, crelu, local_response_normalization, log_poisson_loss, lrn, normalize_moments,
    scale_regularization_loss, weighted_moments,
)
from tapeviz.ops.counting_ops import in_top_k  # noqa: E402

__all__ += ["conv1d", "conv2d_transpose", "depthwise_conv2d", "space_to_depth", "depth_to_space", "max_pool1d",
            "avg_pool1d", "separable_conv2d", "atrous_conv2d", "weighted_moments", "normalize_moments", "crelu",
            "compute_average_loss", "scale_regularization_loss", "log_poisson_loss", "in_top_k",
            "local_response_normalization", "lrn"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.nn', name)
