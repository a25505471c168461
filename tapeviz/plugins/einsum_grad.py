"""The Einsum rule: each operand's gradient is another einsum of the output gradient with the others.

Letters an operand sums away on its own (``'ij->i'``'s ``j``) come back by broadcasting; an operand
that repeats a letter (a diagonal, ``'ii->i'``) has no rule here, and the error says so.

The rule takes a vectorized pass's gradients (``batched=True``): the rows get a letter of their
own, in front of the gradient's subscripts and of the result's, so it is still one einsum.
"""
import string

import tapeviz as tv
from tapeviz.core.hookspecs import hookimpl
from tapeviz.core.registry import CheckCase
from tapeviz.ops.einsum_ops import einsum

from ._helpers import batch_dims, randn


def _einsum_grad(op, grad):
    lhs, output = op.get_attr("equation").split("->")
    subscripts = lhs.split(",")
    inputs = op.inputs
    grads = []
    skip = op.skip_input_indices
    rows = ""  # a vectorized pass's batch letter, one the equation does not use
    if batch_dims():
        rows = next(c for c in string.ascii_letters if c not in op.get_attr("equation"))
    for i, (sub, x) in enumerate(zip(subscripts, inputs)):
        if i in skip:
            grads.append(None)
            continue
        if len(set(sub)) != len(sub):
            raise NotImplementedError(
                f"tapeviz has no gradient for einsum operands that repeat a subscript ({sub!r} in "
                f"{op.get_attr('equation')!r}); take the diagonal with tapeviz.linalg.diag_part instead.")
        others = [s for j, s in enumerate(subscripts) if j != i]
        reachable = set(output).union(*others) if others else set(output)
        kept = "".join(c for c in sub if c in reachable)
        equation = ",".join([rows + output] + others) + "->" + rows + kept
        g = einsum(equation, grad, *[t for j, t in enumerate(inputs) if j != i])
        if kept != sub:
            lead = grad._value.shape[:len(rows)]
            shape = [n if c in reachable else 1 for c, n in zip(sub, x.shape)]
            g = tv.broadcast_to(tv.reshape(g, lead + tuple(shape)), lead + tuple(x.shape))
        grads.append(g)
    return grads


@hookimpl
def register_gradients(register):
    register("Einsum", _einsum_grad, batched=True, needs_outputs=False, checks=[
        CheckCase(lambda a, b: einsum("ij,jk->ik", a, b), (randn(2, 3, seed=1), randn(3, 4, seed=2)), name="matmul"),
        CheckCase(lambda a, b: einsum("bij,bjk->bik", a, b), (randn(2, 2, 3, seed=3), randn(2, 3, 2, seed=4)),
                  name="batch matmul"),
        CheckCase(lambda a: einsum("ij->j", a), (randn(3, 4, seed=5),), name="column sums"),
        CheckCase(lambda a, b: einsum("i,j->ij", a, b), (randn(3, seed=6), randn(2, seed=7)), name="outer"),
        CheckCase(lambda a, b: einsum("ij,ij->", a, b), (randn(2, 3, seed=8), randn(2, 3, seed=9)), name="inner"),
        CheckCase(lambda a, b, c: einsum("ij,jk,kl->il", a, b, c),
                  (randn(2, 3, seed=10), randn(3, 2, seed=11), randn(2, 2, seed=12)), name="three operands"),
        CheckCase(lambda a, b: einsum("...ij,jk->...ik", a, b), (randn(2, 2, 3, seed=13), randn(3, 2, seed=14)),
                  name="ellipsis"),
        CheckCase(lambda a, b: einsum("ijk,k->i", a, b), (randn(2, 3, 2, seed=15), randn(2, seed=16)),
                  name="j summed in one operand"),
    ])
