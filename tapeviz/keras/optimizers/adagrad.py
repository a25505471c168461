"""``Adagrad``: steps scaled by the root of the running sum of squared gradients."""
import numpy as np

from .base import Optimizer, store, value_of


class Adagrad(Optimizer):
    """``a += g^2``; ``w -= lr g / sqrt(a + eps)``, with ``a`` starting at ``initial_accumulator_value``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def slot_names_and_initial_values(self):
        return [("accumulator", self.initial_accumulator_value)]

    def update_step(self, gradient, variable, learning_rate):
        value = value_of(variable)
        kind = value.dtype.type
        (accumulator,) = self.slots(variable)
        new_accumulator = value_of(accumulator) + np.square(gradient)
        store(accumulator, new_accumulator)
        store(variable, value - kind(learning_rate) * gradient / np.sqrt(new_accumulator + kind(self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
