"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts, in box characters."""
import textwrap

import numpy as np

__all__ = ["print_summary"]

_WIDTHS = (31, 22, 13)  # the text width of Keras 3's three columns at its default line length


def _readable_size(size_in_bytes):
    units = ["B", "KB", "MB", "GB", "TB"]
    size, unit = float(size_in_bytes), 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{size:.2f} {units[unit]}"


def _count(variables):
    return int(sum(int(np.prod(v.shape)) for v in variables))


def _bytes(variables):
    return int(sum(int(np.prod(v.shape)) * v.dtype.as_numpy_dtype(0).itemsize for v in variables))


def _border(left, middle, right, line):
    return left + middle.join(line * (width + 2) for width in _WIDTHS) + right


def _row(cells, aligns, side="│"):
    wrapped = [textwrap.wrap(text, width) or [""] for text, width in zip(cells, _WIDTHS)]
    lines = []
    for i in range(max(len(w) for w in wrapped)):
        parts = []
        for column, width, align in zip(wrapped, _WIDTHS, aligns):
            text = column[i] if i < len(column) else ""
            parts.append(text.rjust(width) if align == "right" else text.ljust(width))
        lines.append(side + " " + f" {side} ".join(parts) + " " + side)
    return lines


def _output_shape(layer):
    shapes = getattr(layer, "_output_shapes", None)
    if not shapes:
        return "?"
    return ", ".join(str(tuple(s)) for s in shapes) if len(shapes) > 1 else str(tuple(shapes[0]))


def print_summary(model, print_fn=None):
    print_fn = print_fn or print
    lines = [f'Model: "{model.name}"',
             _border("┏", "┳", "┓", "━"),
             *_row(["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"], side="┃"),
             _border("┡", "╇", "┩", "━")]
    layers = list(model.layers)  # a functional model lists its InputLayer, a Sequential model does not
    for index, layer in enumerate(layers):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        lines += _row([f"{layer.name} ({type(layer).__name__})", _output_shape(layer), params],
                      ["left", "left", "right"])
        if index < len(layers) - 1:
            lines.append(_border("├", "┼", "┤", "─"))
    lines.append(_border("└", "┴", "┘", "─"))
    trainable, non_trainable = model.trainable_weights, model.non_trainable_weights
    optimizer_variables = list(getattr(model.optimizer, "variables", []) or []) if model.optimizer else []
    total = trainable + non_trainable + optimizer_variables
    lines.append(f" Total params: {_count(total):,} ({_readable_size(_bytes(total))})")
    lines.append(f" Trainable params: {_count(trainable):,} ({_readable_size(_bytes(trainable))})")
    lines.append(f" Non-trainable params: {_count(non_trainable):,} ({_readable_size(_bytes(non_trainable))})")
    if optimizer_variables:
        lines.append(f" Optimizer params: {_count(optimizer_variables):,} "
                     f"({_readable_size(_bytes(optimizer_variables))})")
    for line in lines:
        print_fn(line)
