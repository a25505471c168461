"""How public op functions turn their arguments into tensors and run: the shared front half of every op."""
import numpy as np

from tapeviz.core.context import observers, state
from tapeviz.core.errors import InvalidArgumentError
from tapeviz.core.execute import invalid_argument, record
from tapeviz.core.tensor import Tensor, Variable, convert_like, convert_to_tensor

# TF's names for dtypes in its "expected to be a float tensor" messages.
_TF_KIND_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def as_tensor(x):
    """One input as a Tensor: tensors pass, variables are read, anything else converted (float -> float32)."""
    kind = type(x)
    if kind is Tensor:
        return x
    if kind is Variable:
        return x._read()
    return convert_to_tensor(x)


def binary_inputs(op_type, x, y):
    """Both operands as Tensors of one dtype: a Python or numpy operand takes the tensor's dtype."""
    kind_x, kind_y = type(x), type(y)
    if kind_x is Tensor or kind_x is Variable:
        if kind_x is Variable:
            x = x._read()
        y = y if kind_y is Tensor else convert_like(y, x)
    elif kind_y is Tensor or kind_y is Variable:
        if kind_y is Variable:
            y = y._read()
        x = convert_like(x, y)
    elif isinstance(y, (Tensor, Variable)) and not isinstance(x, (Tensor, Variable)):
        # A subclass (a slice of a variable, ``v[0]``) meets a Python value: the value takes its dtype.
        y = convert_to_tensor(y)
        x = convert_like(x, y)
    else:
        x = convert_to_tensor(x)
        y = convert_like(y, x)
    dx, dy = x._value.dtype, y._value.dtype
    if dx is not dy and dx != dy:
        raise InvalidArgumentError(
            f"cannot compute {op_type} as input #1(zero-based) was expected to be a "
            f"{tf_type_name(dx)} tensor but is a {tf_type_name(dy)} tensor [Op:{op_type}]. "
            f"Cast one operand with tapeviz.cast(..., tapeviz.{dx.name}) so both have one dtype."
        )
    return x, y


def tf_type_name(np_dtype):
    """The name TF's kernels give a dtype in messages: float, double, half, int32, bool, string."""
    return "string" if np_dtype.kind in "US" else _TF_KIND_NAMES.get(np_dtype.name, np_dtype.name)


def not_allowed(op_type, x, allowed, fix="cast the input first, e.g. tapeviz.cast(x, tapeviz.float32)"):
    """TF's InvalidArgumentError for an op that has no kernel for x's dtype (sqrt of int32, sum of bool)."""
    name = tf_type_name(x._value.dtype)
    return InvalidArgumentError(
        f"Value for attr 'T' of {name} is not in the list of allowed values: {allowed} [Op:{op_type}]. "
        f"{op_type} has no kernel for {name} tensors: {fix}.")


def incompatible_shapes(op_type, x, y):
    return InvalidArgumentError(
        f"Incompatible shapes: {list(x._value.shape)} vs. {list(y._value.shape)} [Op:{op_type}]: {op_type} "
        f"cannot broadcast {x._value.dtype}{list(x._value.shape)} with {y._value.dtype}{list(y._value.shape)}; "
        "each dimension must be equal or 1 (reshape or expand_dims an operand).")


def kernel_error(op_type, inputs, error):
    """An error a numpy kernel raised, as the InvalidArgumentError TF's kernel raises."""
    if isinstance(error, InvalidArgumentError):
        return error
    if isinstance(error, TypeError):  # numpy refuses the dtype (boolean subtract or negative)
        return not_allowed(op_type, inputs[0], "numeric types")
    if len(inputs) == 2 and "broadcast" in str(error):
        return incompatible_shapes(op_type, *inputs)
    return invalid_argument(op_type, inputs, error)


# binary() and unary() inline execute(): they are the hottest paths in the library.
def binary(op_type, forward):
    """An element-wise op of two operands with numpy broadcasting."""
    def op(x, y, name=None):
        if type(x) is not Tensor or type(y) is not Tensor or x._value.dtype is not y._value.dtype:
            if type(y) is float and type(x) is Tensor and x._value.dtype.kind == "f":
                y = Tensor(x._value.dtype.type(y))  # ``t * 1.01``: convert_like's answer, without its checks
            else:
                x, y = binary_inputs(op_type, x, y)
        try:
            output = Tensor(forward(x._value, y._value))
        except (ValueError, TypeError) as error:
            raise kernel_error(op_type, (x, y), error) from None
        if state.tapes or observers:
            record(op_type, (x, y), (output,), None)
        return output
    op.__name__ = op_type
    op.__doc__ = f"Element-wise {op_type} (recorded as op type ``{op_type}``)."
    return op


def unary(op_type, forward, floating=False):
    """An element-wise op of one operand; ``floating=True`` for ops TF defines on floats only (sin, exp)."""
    def op(x, name=None):
        if type(x) is not Tensor:
            x = as_tensor(x)
        if floating and x._value.dtype.kind != "f":
            floating_only(op_type, x)
        try:
            output = Tensor(forward(x._value))
        except (ValueError, TypeError) as error:
            raise kernel_error(op_type, (x,), error) from None
        if state.tapes or observers:
            record(op_type, (x,), (output,), None)
        return output
    op.__name__ = op_type
    op.__doc__ = f"Element-wise {op_type} (recorded as op type ``{op_type}``)."
    return op


def floating_only(op_type, x):
    """Refuse integer input to ops that TF defines only for floating types (sin, exp, ...), as TF does."""
    if x._value.dtype.kind != "f":
        raise not_allowed(op_type, x, "half, float, double")


def np_value(x):
    return np.asarray(x._value)
