"""``tapeviz.image``, as ``tf.image``: ``resize`` (bilinear and nearest neighbour), flips, rotations,
crops and pads, standardization and dtype conversion, brightness, contrast and grayscale."""
from tapeviz.ops.image_ops import (  # noqa: F401
    ResizeMethod, adjust_brightness, adjust_contrast, central_crop, convert_image_dtype, crop_to_bounding_box,
    flip_left_right, flip_up_down, grayscale_to_rgb, pad_to_bounding_box, per_image_standardization,
    random_crop, random_flip_left_right, random_flip_up_down, resize, resize_with_crop_or_pad, rgb_to_grayscale,
    rot90,
)

__all__ = [name for name in dir() if not name.startswith("_")]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api('tapeviz.image', name)
