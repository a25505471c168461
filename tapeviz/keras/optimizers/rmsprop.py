"""``RMSprop``: steps scaled by a moving average of squared gradients (optionally centred, with momentum)."""
import numpy as np

from .base import Optimizer, store, value_of


class RMSprop(Optimizer):
    """``s = rho s + (1 - rho) g^2``; ``w -= lr g / sqrt(s + eps)`` (``s - mean(g)^2`` when centred)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def slot_names_and_initial_values(self):
        slots = [("velocity", 0.0)]
        if self.momentum > 0:
            slots.append(("momentum", 0.0))
        if self.centered:
            slots.append(("average_gradient", 0.0))
        return slots

    def update_step(self, gradient, variable, learning_rate):
        value = value_of(variable)
        kind = value.dtype.type
        slots = iter(self.slots(variable))
        velocity = next(slots)
        momentum = next(slots) if self.momentum > 0 else None
        average = next(slots) if self.centered else None
        rho = kind(self.rho)
        new_velocity = rho * value_of(velocity) + kind(1 - self.rho) * np.square(gradient)
        store(velocity, new_velocity)
        if average is not None:
            new_average = rho * value_of(average) + kind(1 - self.rho) * gradient
            store(average, new_average)
            denominator = new_velocity - np.square(new_average) + kind(self.epsilon)
        else:
            denominator = new_velocity + kind(self.epsilon)
        increment = kind(learning_rate) * gradient / np.sqrt(denominator)
        if momentum is not None:
            new_momentum = kind(self.momentum) * value_of(momentum) + increment
            store(momentum, new_momentum)
            store(variable, value - new_momentum)
        else:
            store(variable, value - increment)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
