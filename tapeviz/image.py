"""``tapeviz.image``, as ``tf.image``: ``resize`` (bilinear and nearest neighbour)."""
from tapeviz.ops.image_ops import ResizeMethod, resize  # noqa: F401

__all__ = ["resize", "ResizeMethod"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.image', name)
