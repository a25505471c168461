"""Inspection: record runs as plain data, explain every None, save and load tape files."""
from .explain import explain  # noqa: F401
from .model import Explanation, Run  # noqa: F401
from .recorder import Recorder, active_recorder, record  # noqa: F401
