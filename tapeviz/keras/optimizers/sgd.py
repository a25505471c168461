"""``SGD``: plain gradient descent, with momentum and Nesterov momentum, as Keras 3 computes it."""
from .base import Optimizer, store, value_of


class SGD(Optimizer):
    """``v = v - lr * g`` or, with momentum, ``m = m * momentum - g * lr`` then ``v = v + m``."""

    default_learning_rate = 0.01

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum} "
                             f"(of type {type(momentum)}).")
        self.momentum = momentum
        self.nesterov = nesterov

    def slot_names_and_initial_values(self):
        return [("momentum", 0.0)] if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        value = value_of(variable)
        if self.momentum == 0:
            store(variable, value - gradient * learning_rate)
            return
        (slot,) = self.slots(variable)
        momentum = value.dtype.type(self.momentum)
        step = gradient * learning_rate
        m = value_of(slot) * momentum
        m -= step
        store(slot, m)
        if self.nesterov:
            update = m * momentum
            update -= step
            store(variable, value + update)
        else:
            store(variable, value + m)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
