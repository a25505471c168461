"""``tapeviz.dtypes``, as ``tf.dtypes``: the DType class, the dtypes by name, and as_dtype."""
from tapeviz.core.dtypes import (  # noqa: F401
    DType, as_dtype, bool_ as bool, double, float16, float32, float64, half, int8, int16, int32, int64, string, uint8,
)
from tapeviz.ops.array_ops import cast  # noqa: F401

__all__ = ["DType", "as_dtype", "bool", "cast", "double", "float16", "float32", "float64", "half", "int8", "int16",
           "int32", "int64", "string", "uint8"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.dtypes", name)
