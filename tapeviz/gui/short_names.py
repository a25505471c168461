"""Short names for scoped variables, as people say them: ``sequential/dense_1/kernel:0`` is ``dense_1/kernel``.

A box, a list cell or a legend has room for a few words; cutting a long name in the middle
("sequent…ernel:0") hides exactly the part that tells variables apart. The meaningful part is the
tail: the layer and the weight. The ``:0`` output index says nothing when every variable has one.
Full names stay in tooltips and search. Pure functions, no Qt.
"""
import re

_OUTPUT_INDEX = re.compile(r":\d+$")


def without_output_index(name):
    """``dense/kernel:0`` -> ``dense/kernel`` (a variable's only output needs no number)."""
    return _OUTPUT_INDEX.sub("", name)


def short_name(name, parts=2):
    """The last ``parts`` scope components of ``name``, without its output index."""
    return "/".join(without_output_index(name).split("/")[-parts:])


def short_names(names):
    """name -> its shortest tail of at least two components that no other name in ``names`` shares.

    ``model_a/dense/kernel:0`` and ``model_b/dense/kernel:0`` keep their model's scope; a name that
    is already short stays as it is (without ``:0``)."""
    names = list(dict.fromkeys(names))
    result = {}
    pending = {name: 2 for name in names}
    while pending:
        tails = {}
        for name, parts in pending.items():
            tails.setdefault(short_name(name, parts), []).append(name)
        still = {}
        for tail, owners in tails.items():
            for name in owners:
                depth = len(without_output_index(name).split("/"))
                if len(owners) == 1 or pending[name] >= depth:
                    result[name] = tail if len(owners) == 1 else without_output_index(name)
                else:
                    still[name] = pending[name] + 1
        pending = still
    return result
