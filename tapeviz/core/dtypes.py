"""Data types, named and grouped as TensorFlow names them, each backed by a numpy dtype."""
import numpy as np


class DType:
    """One element type: ``tapeviz.float32`` and friends."""

    __slots__ = ("name", "as_numpy_dtype", "is_floating", "is_integer", "is_bool", "is_unsigned", "size")

    is_complex = is_quantized = False  # tapeviz has neither complex nor quantized types

    def __init__(self, name):
        self.name = name
        numpy_dtype = np.dtype(object if name == "string" else name)
        self.as_numpy_dtype = np.bytes_ if name == "string" else numpy_dtype.type
        kind = numpy_dtype.kind
        self.is_floating = kind == "f"
        self.is_integer = kind in "iu"
        self.is_unsigned = kind == "u"
        self.is_bool = kind == "b"
        self.size = 0 if name == "string" else numpy_dtype.itemsize  # TF's size of a string is 0

    @property
    def base_dtype(self):
        return self

    real_dtype = base_dtype

    def __eq__(self, other):
        """Equal to itself, its name and its numpy type, as TF's (``tf.float32 == "float32"`` is True)."""
        if other is self:
            return True
        if isinstance(other, DType) or other is None:
            return False
        try:
            return as_dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.name)

    def __str__(self):
        return f"<dtype: '{self.name}'>"

    @property
    def min(self):
        return (np.finfo if self.is_floating else np.iinfo)(self.name).min

    @property
    def max(self):
        return (np.finfo if self.is_floating else np.iinfo)(self.name).max

    def __repr__(self):
        return f"tapeviz.{self.name}"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16, float32, float64 = DType("float16"), DType("float32"), DType("float64")
int8, int16, int32, int64 = DType("int8"), DType("int16"), DType("int32"), DType("int64")
uint8, bool_ = DType("uint8"), DType("bool")
string = DType("string")  # text tensors exist so that code using them runs; no op differentiates them
half, double = float16, float64

ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_)
_BY_NUMPY = {np.dtype(d.name): d for d in ALL}
_BY_NAME = {d.name: d for d in ALL + (string,)}
_BY_NAME.update(half=float16, double=float64)
# The floating numpy dtypes, for the recording test on the hot path (a set look-up).
FLOATING_NUMPY = frozenset(np.dtype(d.name) for d in ALL if d.is_floating)


def as_dtype(value):
    """Return the DType for a DType, its name, a numpy dtype or a numpy scalar type."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        if np.dtype(value).kind in "USO":
            return string
        return _BY_NUMPY[np.dtype(value)]
    except (TypeError, KeyError):
        names = ", ".join(sorted(_BY_NAME))
        raise TypeError(f"Cannot convert {value!r} to a tapeviz dtype; use one of: {names}.") from None


def from_numpy(np_dtype):
    """The DType of a numpy dtype; a clear error for dtypes tapeviz does not support."""
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        if np_dtype.kind in "USO":  # text tensors hold bytes objects, as TF's
            return string
        raise TypeError(
            f"numpy dtype {np_dtype} is not supported; tapeviz supports "
            + ", ".join(d.name for d in ALL) + ". Convert the array with .astype(...) first."
        ) from None
