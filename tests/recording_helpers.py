"""What the tests of recorded runs and their explanations share: the caller's line number, and a
fixture that turns a recorder stopping on an error into a failure."""
import inspect
import warnings

import pytest


def here():
    """The caller's line number (to check that evidence names the right line)."""
    return inspect.currentframe().f_back.f_lineno


@pytest.fixture(autouse=True)
def recorder_must_not_fail():
    """Autouse in each test module that imports it. The core drops a failing recorder with a
    RuntimeWarning and keeps going: make that a failure."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="tapeviz stopped recording", category=RuntimeWarning)
        yield
