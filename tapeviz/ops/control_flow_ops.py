"""Eager control flow and printing: ``tf.cond``, ``tf.case``, ``tf.switch_case``, ``tf.while_loop``,
``tf.print``, ``tf.is_tensor``.

Eagerly these are plain Python: ``cond`` calls one branch, ``while_loop`` loops, so tapes record
the ops each iteration actually runs (and gradients flow through them as through any Python
loop). ``tf.print`` formats tensors as TensorFlow does (``[1 2 ... 9]``, 6 significant digits
when they round-trip, else 9; booleans as 1/0) and writes to stderr unless told otherwise.
"""
import sys

import numpy as np

from tapeviz.core.tensor import Tensor, Variable, convert_to_tensor

__all__ = ["cond", "while_loop", "is_tensor"]  # ``print`` is exported by tapeviz/__init__ as ``tf.print``

_print = print


def is_tensor(x):
    """True for tapeviz tensors and variables (TF counts variables as tensor-like); False for numpy and numbers."""
    return isinstance(x, (Tensor, Variable))


def cond(pred, true_fn=None, false_fn=None, name=None):
    """``true_fn()`` if ``pred`` else ``false_fn()``: only the branch taken runs (and is recorded)."""
    if true_fn is None or false_fn is None:
        raise TypeError("cond needs both true_fn and false_fn (callables taking no arguments).")
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("true_fn and false_fn must be callables taking no arguments, e.g. lambda: x * 2.")
    pred_value = pred._value_for_read() if isinstance(pred, (Tensor, Variable)) else pred
    if np.ndim(pred_value) != 0:
        raise ValueError(f"cond's pred must be a scalar boolean, got shape {list(np.shape(pred_value))}; reduce it "
                         "first (reduce_all, reduce_any) or use tapeviz.where for an element-wise choice.")
    return true_fn() if bool(pred_value) else false_fn()


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """Repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``; returns the final loop variables.

    Numbers among the loop variables become tensors, as in TensorFlow; ``body`` must return the
    same number of values as it takes.
    """
    if not loop_vars:
        raise ValueError("'loop_vars' must be provided.")
    if not isinstance(loop_vars, (list, tuple)):
        raise TypeError("loop_vars must be a list or tuple of the loop's variables, e.g. [i] or (i, total).")
    values = type(loop_vars)(_as_loop_var(v) for v in loop_vars)
    iteration = 0
    while maximum_iterations is None or iteration < int(maximum_iterations):
        if not bool(cond(*values)):
            break
        result = body(*values)
        if not isinstance(result, (list, tuple)):
            if len(values) != 1:
                raise ValueError(f"while_loop's body returned one value for {len(values)} loop variables; return "
                                 "them all, in order.")
            result = type(values)([result])
        if len(result) != len(values):
            raise ValueError(f"while_loop's body returned {len(result)} values for {len(values)} loop variables; "
                             "return them all, in order.")
        values = type(result)(_as_loop_var(v) for v in result)
        iteration += 1
    return values


def _as_loop_var(value):
    if isinstance(value, (Tensor, Variable, list, tuple, dict)):
        return value
    return convert_to_tensor(value)


# -- tf.print ------------------------------------------------------------------------------------------
def _format_number(value):
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, np.floating):
        digits, fallback = (6, 9) if value.dtype.itemsize <= 4 else (15, 17)
        text = f"{value:.{digits}g}"
        if type(value)(text) != value and not np.isnan(value):
            text = f"{value:.{fallback}g}"
        return text
    if isinstance(value, (bytes, np.bytes_)):
        return '"' + value.decode("utf-8", "replace") + '"'
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _format_array(array, summarize, indent=0):
    if array.ndim == 0:
        return _format_number(array[()])
    size = array.shape[0]
    elide = summarize >= 0 and size > 2 * summarize
    indices = list(range(summarize)) + [None] + list(range(size - summarize, size)) if elide else list(range(size))
    if array.ndim == 1:
        return "[" + " ".join("..." if i is None else _format_number(array[i]) for i in indices) + "]"
    separator = "\n" * (array.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _format_array(array[i], summarize, indent + 1) for i in indices]
    return "[" + separator.join(parts) + "]"


def _format(value, summarize):
    if isinstance(value, (Tensor, Variable)):
        return _format_array(np.asarray(value._value_for_read()), summarize)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_format(item, summarize)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(item, summarize) for item in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_format(item, summarize) for item in value)
        return "(" + inner + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, np.ndarray):
        return _format_array(value, summarize)
    return str(value)


def print_(*inputs, output_stream=None, summarize=3, sep=" ", end="\n", name=None):
    """``tf.print``: tensors formatted as TensorFlow prints them, to stderr by default.

    ``output_stream`` may be ``sys.stdout``, ``sys.stderr``, any writable file object, or
    ``"file://path"`` (appended to). ``summarize`` elements are shown at each end of a long
    dimension (-1 shows all).
    """
    text = sep.join(_format(value, -1 if summarize is None else int(summarize)) for value in inputs) + end
    if isinstance(output_stream, str):
        if not output_stream.startswith("file://"):
            raise ValueError(f"output_stream must be a file object or 'file://path', got {output_stream!r}.")
        with open(output_stream[len("file://"):], "a", encoding="utf-8") as stream:
            stream.write(text)
        return None
    stream = sys.stderr if output_stream is None else output_stream
    stream.write(text)
    if hasattr(stream, "flush"):
        stream.flush()
    return None


def _scalar(value, what):
    value = value._value_for_read() if isinstance(value, (Tensor, Variable)) else value
    if np.ndim(value) != 0:
        raise ValueError(f"{what} must be a scalar, got shape {list(np.shape(value))}.")
    return value


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name=None):
    """The function of the first pair whose predicate is True, called; ``default`` when none is (an
    InvalidArgumentError without one, as TF's eager case raises)."""
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    if not pairs:
        raise ValueError("case needs at least one (predicate, callable) pair.")
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2 or not callable(pair[1]):
            raise TypeError("Each entry in pred_fn_pairs must be a 2-tuple (predicate, callable taking no "
                            f"arguments), got {pair!r}.")
    for pred, fn in pairs:  # eagerly TF calls the first whose predicate holds (exclusive is not checked)
        if bool(_scalar(pred, "case's predicate")):
            return fn()
    if default is None:
        from tapeviz.core.errors import InvalidArgumentError
        raise InvalidArgumentError("Input error: None of conditions evaluated as True: pass default= to say what "
                                   "case returns then.")
    return default()


def switch_case(branch_index, branch_fns, default=None, name=None):
    """``branch_fns[branch_index]()``: a list, or a dict of int keys; an index with no branch calls
    ``default`` (or, without one, the last branch), as in TF."""
    if not isinstance(branch_index, (Tensor, Variable)):
        raise TypeError(f"branch_index must be an int32 or int64 scalar tensor, got {branch_index!r}; wrap it in "
                        "tapeviz.constant(...).")
    if not branch_index.dtype.is_integer:
        raise TypeError(f"branch_index must be an int32 or int64 scalar tensor, got {branch_index.dtype.name}.")
    index = int(_scalar(branch_index, "branch_index"))
    branches = dict(branch_fns) if isinstance(branch_fns, dict) else dict(enumerate(branch_fns))
    if not branches:
        raise ValueError("switch_case needs at least one branch function.")
    if index in branches:
        return branches[index]()
    return (default if default is not None else branches[max(branches)])()
