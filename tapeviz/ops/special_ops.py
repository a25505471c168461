"""Special functions: ``math.lgamma``, ``math.digamma``, ``math.polygamma``, ``math.erfinv`` and
``math.ndtri``, under TensorFlow's op-type names ``Lgamma``, ``Digamma``, ``Polygamma``, ``Erfinv`` and
``Ndtri`` (rules in ``tapeviz.plugins.special_grad``: the gamma family's derivatives are the next
function, as in TF; erfinv's and ndtri's come from their outputs).

numpy has none of them: lgamma is Python's ``math.lgamma`` per element; digamma and polygamma shift
x up by the recurrence psi_n(x) = psi_n(x + 1) - (-1)^n n! / x^(n+1) until x >= 15, then sum the
asymptotic series (float64 throughout, about 1e-14 relative error), as the Cephes routines TF's
kernels come from do. erfinv starts from Giles's approximation and takes Newton steps on libm's erf
in float64; ndtri(p) is sqrt(2) * erfinv(2p - 1).
"""
import math

import numpy as np

from tapeviz.core.execute import execute

from ._dispatch import as_tensor, binary_inputs, floating_only

__all__ = []

_SHIFT_TO = 15.0
# Bernoulli numbers B_2 .. B_12 of the asymptotic series.
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)


def _lgamma(x):
    flat = np.asarray(x, np.float64).reshape(-1)
    out = np.array([math.inf if v <= 0 and v == math.floor(v) else
                    (math.lgamma(v) if math.isfinite(v) else (math.inf if not math.isnan(v) else math.nan))
                    for v in flat.tolist()])
    return out.reshape(np.shape(x)).astype(x.dtype)


def _shifted(x, n):
    """(x shifted up to at least _SHIFT_TO, the sum of the recurrence's terms on the way)."""
    x = np.array(x, np.float64)
    total = np.zeros_like(x)
    sign_factorial = (-1) ** n * math.factorial(n)
    low = x < _SHIFT_TO
    while low.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            total[low] -= (1.0 / x[low] if n == 0 else sign_factorial / x[low] ** (n + 1))
        x[low] += 1.0
        low = x < _SHIFT_TO
    return x, total


def _digamma_float64(x):
    x = np.asarray(x, np.float64)
    out = np.full(x.shape, np.nan)
    poles = (x <= 0) & (x == np.floor(x))
    reflect = (x < -1e3) & ~poles  # far left: the reflection formula instead of a long shift
    direct = np.isfinite(x) & ~poles & ~reflect
    if direct.any():
        shifted, total = _shifted(x[direct], 0)
        inverse_square = 1.0 / (shifted * shifted)
        series = sum(b / (2 * k) * inverse_square ** k for k, b in enumerate(_BERNOULLI, start=1))
        out[direct] = total + np.log(shifted) - 0.5 / shifted - series
    if reflect.any():
        y = x[reflect]
        out[reflect] = _digamma_float64(1.0 - y) - np.pi / np.tan(np.pi * y)
    out[np.isposinf(x)] = np.inf
    return out


def _polygamma_float64(n, x):
    """psi_n(x) for integer orders n >= 1 (any real x that is not a pole)."""
    x = np.asarray(x, np.float64)
    out = np.full(x.shape, np.nan)
    poles = (x <= 0) & (x == np.floor(x))
    direct = np.isfinite(x) & ~poles & (x > -1e3)
    if direct.any():
        shifted, total = _shifted(x[direct], n)
        # (-1)^(n+1) [ (n-1)!/x^n + n!/(2 x^(n+1)) + sum_k B_2k (2k+n-1)! / ((2k)! x^(2k+n)) ]
        series = math.factorial(n - 1) / shifted ** n + math.factorial(n) / (2 * shifted ** (n + 1))
        for k, b in enumerate(_BERNOULLI, start=1):
            series = series + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / shifted ** (2 * k + n)
        out[direct] = total + (-1) ** (n + 1) * series
    out[poles] = np.inf
    return out


def _digamma(x):
    return _digamma_float64(x).astype(x.dtype)


def _polygamma(a, x):
    a, x = np.broadcast_arrays(a, x)
    out = np.full(x.shape, np.nan)
    orders = np.unique(a)
    for order in orders.tolist():
        where = a == order
        if order == 0:
            out[where] = _digamma_float64(x[where])
        elif order > 0 and order == math.floor(order):
            out[where] = _polygamma_float64(int(order), x[where])
    return out.astype(x.dtype)


def lgamma(x, name=None):
    """log |Gamma(x)|, element-wise (op Lgamma); inf at 0 and the negative integers."""
    x = as_tensor(x)
    floating_only("Lgamma", x)
    return execute("Lgamma", _lgamma, (x,))


def digamma(x, name=None):
    """psi(x) = d/dx lgamma(x), element-wise (op Digamma); nan at 0 and the negative integers."""
    x = as_tensor(x)
    floating_only("Digamma", x)
    return execute("Digamma", _digamma, (x,))


def polygamma(a, x, name=None):
    """psi_a(x), the a-th derivative of digamma, element-wise (op Polygamma); ``a`` holds
    non-negative whole numbers of x's dtype (nan elsewhere, as in TF)."""
    a, x = binary_inputs("Polygamma", a, x)
    floating_only("Polygamma", x)
    return execute("Polygamma", _polygamma, (a, x))


_libm_erf = np.frompyfunc(math.erf, 1, 1)


def _erfinv_float64(x):
    x = np.asarray(x, np.float64)
    out = np.full(x.shape, np.nan)
    inside = np.abs(x) < 1
    y = x[inside]
    # Giles (2010), "Approximating the erfinv function": a start within 1e-7, then Newton on erf.
    w = -np.log((1.0 - y) * (1.0 + y))
    small = w < 5.0
    ws, wl = w - 2.5, np.sqrt(np.maximum(w, 5.0)) - 3.0
    p_small = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                          -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], ws)
    p_large = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                          -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], wl)
    z = np.where(small, p_small, p_large) * y
    for _ in range(3):
        error = np.asarray(_libm_erf(z), np.float64) - y
        z = z - error / (2.0 / math.sqrt(math.pi) * np.exp(-z * z))
    out[inside] = z
    out[x == 1] = np.inf
    out[x == -1] = -np.inf
    return out


def _erfinv(x):
    return _erfinv_float64(x).astype(x.dtype)


def _ndtri(p):
    return (math.sqrt(2.0) * _erfinv_float64(2.0 * np.asarray(p, np.float64) - 1.0)).astype(p.dtype)


def erfinv(x, name=None):
    """The inverse of erf on (-1, 1), element-wise (op Erfinv); +-inf at +-1, nan outside."""
    x = as_tensor(x)
    floating_only("Erfinv", x)
    return execute("Erfinv", _erfinv, (x,))


def ndtri(x, name=None):
    """The inverse of the standard normal CDF on (0, 1), element-wise (op Ndtri)."""
    x = as_tensor(x)
    floating_only("Ndtri", x)
    return execute("Ndtri", _ndtri, (x,))
