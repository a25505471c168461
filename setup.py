"""The one compiled part of tapeviz, optional: the recorder's per-op path in C.

Everything else is in pyproject.toml. Where the extension cannot be built (no compiler, no Python
headers, CPython older than 3.11 or free-threaded, PyPy), installing goes on without it and tapeviz records with the
Python path alone (tapeviz/inspection/recorder.py), which gives the same recording, only slower.
"""
import glob
import platform
import sys
import sysconfig

from setuptools import Extension, setup

extensions = []
# Free-threaded CPython is left to the Python path: the C path relies on the GIL to append a record
# and take its seq number as one step, and on borrowed references from dicts.
free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
if platform.python_implementation() == "CPython" and sys.version_info >= (3, 11) and not free_threaded:
    sources = sorted(glob.glob("tapeviz/inspection/recordfast_c/*.c"))
    extensions.append(Extension("tapeviz.inspection._recordfast", sources,
                                depends=["tapeviz/inspection/recordfast_c/recordfast.h"], optional=True))

setup(ext_modules=extensions)
