"""``tapeviz.random``, as ``tf.random``: set_seed, uniform, normal, truncated_normal, shuffle."""
from tapeviz.ops.random_ops import get_seed, normal, set_seed, shuffle, truncated_normal, uniform
from tapeviz.ops.index_ops import categorical  # noqa: E402

__all__ = ["set_seed", "get_seed", "uniform", "normal", "truncated_normal", "shuffle", "categorical"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.random', name)
