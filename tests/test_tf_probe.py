"""A probe of TF behaviours tutorials never print: every line tapeviz prints matches TensorFlow's.

``tests/fixtures/tf_probe/battery*.py`` print one gradient (or value, or error class) per expression;
``battery*.tf.out`` hold TensorFlow 2.21's lines. The few lines where tapeviz differs on purpose, or
lacks the op, are listed below with why, and what tapeviz prints there is asserted too.
"""
import ast
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

PROBE = pathlib.Path(__file__).parent / "fixtures" / "tf_probe"

# name -> (what tapeviz prints, why it is not TF's line)
DIFFERENCES = {
    "battery": {
        # TF's gradient of a gather from a variable is an IndexedSlices, which np.asarray refuses.
        "gather": ("[2.0, 0.0, 1.0]", "tapeviz gives the dense gradient (TF's IndexedSlices, densified)"),
        "complex?": ("ERR AttributeError", "tapeviz has no complex dtypes"),
    },
    "battery2": {
        "embedding": ("[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]", "dense gradient, where TF's is an IndexedSlices"),
    },
    "battery3": {
        # TF's oneDNN kernel fails with AbortedError; its plain CPU kernel raises InvalidArgumentError,
        # which tapeviz raises too (with "Size of out_backprop doesn't match computed").
        "conv_t_err": ("ERR InvalidArgumentError", "TF's oneDNN build aborts instead of naming the mismatch"),
    },
    "battery4": {},
}


def _lines(text):
    out = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if name:
            out[name] = rest.strip()
    return out


def _close(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(_close, a, b))
    if a is None or b is None:
        return a is None and b is None
    return bool(np.isclose(float(a), float(b), atol=2e-4, rtol=1e-4, equal_nan=True))


def _literal(text):
    """A printed result as Python values; nan and inf become strings that float() reads."""
    return ast.literal_eval(re.sub(r"(-?)\b(inf|nan)\b", r'"\1\2"', text))


def _same(ours, theirs):
    if theirs.startswith("ERR") or ours.startswith("ERR"):
        return ours.split()[:2] == theirs.split()[:2]
    if ours == theirs:
        return True
    try:
        return _close(_literal(ours), _literal(theirs))
    except (ValueError, SyntaxError):
        return False


@pytest.fixture(scope="module", params=["battery", "battery2", "battery3", "battery4"])
def probe(request):
    result = subprocess.run([sys.executable, str(PROBE / f"{request.param}.py"), "tv"], capture_output=True,
                            text=True, timeout=300, cwd=PROBE)
    assert result.returncode == 0, result.stderr
    expected = _lines((PROBE / f"{request.param}.tf.out").read_text())
    return request.param, _lines(result.stdout), expected


def test_every_line_is_tensorflows_or_a_listed_difference(probe):
    name, ours, theirs = probe
    assert set(ours) == set(theirs)
    differences = DIFFERENCES[name]
    wrong = [f"{case}: tapeviz {ours[case]!r}, TF {theirs[case]!r}" for case in theirs
             if case not in differences and not _same(ours[case], theirs[case])]
    assert not wrong, "\n".join(wrong)
    for case, (printed, _why) in differences.items():
        assert _same(ours[case], printed), f"{case}: tapeviz now prints {ours[case]!r}; update DIFFERENCES"
