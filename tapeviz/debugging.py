"""``tapeviz.debugging``, as ``tf.debugging``: ``check_numerics`` and the ``assert_*`` checks, run eagerly."""
from tapeviz.ops.check_ops import (  # noqa: F401
    assert_all_finite, assert_equal, assert_greater, assert_greater_equal, assert_integer, assert_less,
    assert_less_equal, assert_near, assert_negative, assert_non_negative, assert_non_positive, assert_none_equal,
    assert_positive, assert_rank, assert_rank_at_least, assert_rank_in, assert_scalar, assert_shapes, assert_type,
    check_numerics, is_numeric_tensor,
)

__all__ = [name for name in dir() if not name.startswith("_")]


def enable_check_numerics(stack_height_limit=30, path_length_limit=50):
    """Accepted for TF's API; tapeviz's explanations of NaN and Inf gradients (``tape.explain``) do this job."""


def disable_check_numerics():
    """Accepted for TF's API (see ``enable_check_numerics``)."""


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.debugging', name)
