"""Ops by op type, including those that plugins add: ``tapeviz.raw_ops.Cube(x)``.

Plugin ops are looked up when first used here, so importing tapeviz loads no plugin.
"""
from tapeviz.core import registry
from tapeviz.core.execute import execute
from tapeviz.ops._dispatch import as_tensor


def __getattr__(op_type):
    registry.ensure_loaded()
    forward = registry.forward_functions.get(op_type)
    if forward is None:
        raise AttributeError(f"tapeviz.raw_ops has no op type {op_type!r}: no installed plugin defines it. "
                             "Run `tapeviz plugins` to list the op types each plugin adds.")

    def op(*inputs, **attrs):
        return execute(op_type, forward, tuple(as_tensor(x) for x in inputs), attrs or None)

    op.__name__ = op_type
    return op
