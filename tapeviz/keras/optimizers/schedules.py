"""``keras.optimizers.schedules``: learning rates that change with the optimizer's step count.

A schedule is called with the step (the optimizer's ``iterations`` before the update) and
returns a float32 scalar tensor, computed as Keras 3 computes it (in float32).
"""
import numpy as np

from tapeviz.core.tensor import Tensor

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "serialize", "deserialize"]


def _step_value(step):
    return np.asarray(step._value_for_read() if hasattr(step, "_value_for_read") else step)


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(self, step)`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; ``staircase`` floors the exponent."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        if decay_steps <= 0:
            raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        f32 = np.float32
        p = f32(_step_value(step)) / f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return Tensor(np.asarray(f32(self.initial_learning_rate) * np.power(f32(self.decay_rate), f32(p)),
                                 np.float32))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` up to ``boundaries[i]``, then ``values[-1]``."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and values={values} "
                f"of length {len(values)}.")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        step = _step_value(step)
        value = self.values[-1]
        for boundary, candidate in zip(self.boundaries, self.values):
            if step <= boundary:
                value = candidate
                break
        dtype = np.float32 if isinstance(self.values[0], float) else np.asarray(self.values[0]).dtype
        return Tensor(np.asarray(value, dtype))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    classes = {"ExponentialDecay": ExponentialDecay, "PiecewiseConstantDecay": PiecewiseConstantDecay}
    return classes[config["class_name"]].from_config(config["config"])
