"""``Adam`` and ``AdamW``, in Keras 3's arithmetic (float32, bias correction folded into the step size)."""
import numpy as np

from .base import Optimizer, store, value_of


class Adam(Optimizer):
    """Adam: ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``, ``w -= m alpha / (sqrt(v) + eps)``
    with ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`` at step ``t = iterations + 1``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def slot_names_and_initial_values(self):
        slots = [("momentum", 0.0), ("velocity", 0.0)]
        return slots + [("velocity_hat", 0.0)] if self.amsgrad else slots

    def update_step(self, gradient, variable, learning_rate):
        value = value_of(variable)
        kind = value.dtype.type
        slots = self.slots(variable)
        m_slot, v_slot = slots[0], slots[1]
        step = kind(value_of(self.iterations) + 1)
        beta_1_power = np.power(kind(self.beta_1), step)
        beta_2_power = np.power(kind(self.beta_2), step)
        alpha = kind(learning_rate) * np.sqrt(kind(1) - beta_2_power) / (kind(1) - beta_1_power)
        m, v = value_of(m_slot), value_of(v_slot)
        new_m = gradient - m       # m + (g - m)(1 - b1), in place on fresh arrays
        new_m *= kind(1 - self.beta_1)
        new_m += m
        new_v = np.square(gradient)
        new_v -= v
        new_v *= kind(1 - self.beta_2)
        new_v += v
        store(m_slot, new_m)
        store(v_slot, new_v)
        if self.amsgrad:
            new_v = np.maximum(value_of(slots[2]), new_v)
            store(slots[2], new_v)
        denominator = np.sqrt(new_v)
        denominator += kind(self.epsilon)
        update = new_m * alpha
        update /= denominator
        store(variable, value - update)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w -= w * weight_decay * lr`` before each Adam step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)
