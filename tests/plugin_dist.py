"""Fake installed distributions for plugin tests, with no build step and no install.

``importlib.metadata`` finds a distribution from a ``NAME-VERSION.dist-info`` directory holding
``METADATA`` and ``entry_points.txt`` on ``sys.path``; that is all a tapeviz plugin needs to be
discovered. Tests write one into a temporary directory and put that directory on ``sys.path``
(``monkeypatch.syspath_prepend``) or on a subprocess's ``PYTHONPATH``: the user's environment is
never touched, and no ``pip``, ``setuptools`` or ``wheel`` is involved.
"""
import os
import shutil
import textwrap
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def write_plugin_dist(site, dist_name, version="0.1", entry_points=None, modules=None, packages=None):
    """Write a distribution into ``site`` and return ``site``.

    ``entry_points``: {entry-point name: "module" or "module:attr"} in the ``tapeviz`` group;
    ``modules``: {module name: source}, written as ``site/<name>.py`` (dedented);
    ``packages``: {package name: directory to copy}, e.g. a fixture under ``tests/fixtures``.
    """
    site = Path(site)
    site.mkdir(parents=True, exist_ok=True)
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))
    for name, directory in (packages or {}).items():
        shutil.copytree(directory, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    info = site / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in (entry_points or {}).items())
    (info / "entry_points.txt").write_text(f"[tapeviz]\n{lines}")
    return site


def env_with_path(*directories, **extra):
    """``os.environ`` with ``directories`` in front of ``PYTHONPATH`` (for subprocesses)."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, directories), *filter(None, [env.get("PYTHONPATH")])])
    return env
