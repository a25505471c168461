"""``tf.config``: the switches training code sets; tapeviz runs everything eagerly on the CPU.

``run_functions_eagerly`` is accepted and remembered (``functions_run_eagerly`` reports it), but
``tf.function`` runs eagerly either way: tapeviz has no graphs.
"""

__all__ = ["run_functions_eagerly", "functions_run_eagerly", "list_physical_devices", "list_logical_devices",
           "experimental_run_functions_eagerly"]

_settings = {"run_functions_eagerly": False}


def run_functions_eagerly(run_eagerly):
    """Accepted for compatibility: every tf.function already runs eagerly in tapeviz."""
    _settings["run_functions_eagerly"] = bool(run_eagerly)


experimental_run_functions_eagerly = run_functions_eagerly


def functions_run_eagerly():
    """What ``run_functions_eagerly`` was last set to (TensorFlow's answer; tapeviz runs eagerly regardless)."""
    return _settings["run_functions_eagerly"]


class PhysicalDevice:
    def __init__(self, name, device_type):
        self.name, self.device_type = name, device_type

    def __repr__(self):
        return f"PhysicalDevice(name='{self.name}', device_type='{self.device_type}')"


def list_physical_devices(device_type=None):
    """One CPU: tapeviz computes with numpy on the CPU only (an empty list for 'GPU')."""
    if device_type not in (None, "CPU"):
        return []
    return [PhysicalDevice("/physical_device:CPU:0", "CPU")]


def list_logical_devices(device_type=None):
    return [PhysicalDevice("/device:CPU:0", "CPU")] if device_type in (None, "CPU") else []
