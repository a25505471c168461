"""``tapeviz.random``, as ``tf.random``: set_seed, uniform, normal, truncated_normal, shuffle, categorical,
``Generator`` and the stateless ops."""
from tapeviz.ops.random_ops import get_seed, normal, set_seed, shuffle, truncated_normal, uniform
from tapeviz.ops.index_ops import categorical  # noqa: E402

from tapeviz.ops.random_generator_ops import (  # noqa: E402
    Generator, get_global_generator, set_global_generator, stateless_normal, stateless_truncated_normal,
    stateless_uniform,
)

__all__ = ["set_seed", "get_seed", "uniform", "normal", "truncated_normal", "shuffle", "categorical", "Generator",
           "get_global_generator", "set_global_generator", "stateless_uniform", "stateless_normal",
           "stateless_truncated_normal"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.random', name)
