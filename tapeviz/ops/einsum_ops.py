"""``tf.einsum``: Einstein summation over any number of operands, recorded as TF's ``Einsum`` op.

An ellipsis is spelled out into letters before the op runs, so the recorded equation (and the
rule in ``tapeviz.plugins.einsum_grad``) never sees one.
"""
import string

import numpy as np

from tapeviz.core.execute import execute

from ._dispatch import as_tensor

__all__ = ["einsum"]


def _einsum(*operands, equation):
    return np.asarray(np.einsum(equation, *operands, optimize=len(operands) > 1))


def _spell_out(equation, ranks):
    """The equation with '...' replaced by letters, and an explicit output; validated against the ranks."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    subscripts = lhs.split(",")
    if len(subscripts) != len(ranks):
        raise ValueError(f"einsum equation {equation!r} names {len(subscripts)} operands but {len(ranks)} were given.")
    unused = [c for c in string.ascii_letters if c not in equation]
    longest = 0
    for sub, rank in zip(subscripts, ranks):
        explicit = len(sub.replace("...", ""))
        if "..." in sub:
            longest = max(longest, rank - explicit)
        elif explicit != rank:
            raise ValueError(f"einsum: subscripts {sub!r} name {explicit} dimensions but the operand has rank {rank}.")
    ellipsis = "".join(unused[:longest])
    spelled = []
    for sub, rank in zip(subscripts, ranks):
        if "..." in sub:
            count = rank - len(sub.replace("...", ""))
            sub = sub.replace("...", ellipsis[longest - count:] if count else "")
        spelled.append(sub)
    if arrow:
        rhs = rhs.replace("...", ellipsis)
    else:  # numpy's implicit output: the ellipsis, then the letters used once, in alphabetical order
        letters = "".join(spelled)
        rhs = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
    for c in rhs:
        if c not in "".join(spelled):
            raise ValueError(f"einsum: output subscript {c!r} does not appear in any input of {equation!r}.")
    return ",".join(spelled) + "->" + rhs


def einsum(equation, *inputs, **kwargs):
    """Einstein summation, e.g. ``einsum('ij,jk->ik', a, b)``; ellipses and implicit outputs as in numpy."""
    tensors = [as_tensor(x) for x in inputs]
    dtypes_seen = {t.dtype.name for t in tensors}
    if len(dtypes_seen) > 1:
        raise TypeError(f"einsum operands must share one dtype, got {sorted(dtypes_seen)}; cast them with "
                        "tapeviz.cast first.")
    spelled = _spell_out(equation, [t.ndim for t in tensors])
    return execute("Einsum", _einsum, tuple(tensors), {"equation": spelled})
