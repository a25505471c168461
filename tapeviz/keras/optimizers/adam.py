"""``Adam`` and ``AdamW``, in Keras 3's arithmetic (float32, bias correction folded into the step size)."""
import numpy as np

from .base import Optimizer, private_value, store, value_of


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
        # Asked first, before this function holds the array itself: a non-persistent tape lets go of
        # the variable's value once it has given its gradients, and then the update can be in place.
        own = private_value(variable)
        value = value_of(variable)
        kind = value.dtype.type
        slots = self.slots(variable)
        m_slot, v_slot = slots[0], slots[1]
        step = kind(value_of(self.iterations) + 1)
        beta_1_power = np.power(kind(self.beta_1), step)
        beta_2_power = np.power(kind(self.beta_2), step)
        alpha = kind(learning_rate) * np.sqrt(kind(1) - beta_2_power) / (kind(1) - beta_1_power)
        # m += (g - m)(1 - b1) and v += (g^2 - v)(1 - b2), in place when the slots are private: the
        # same float32 operations, in the same order, as Keras's assign_add.
        m = _writable(m_slot)
        v = _writable(v_slot)
        scratch = np.subtract(gradient, m, out=np.empty(m.shape, m.dtype))
        scratch *= kind(1 - self.beta_1)
        m += scratch
        np.multiply(gradient, gradient, out=scratch)
        scratch -= v
        scratch *= kind(1 - self.beta_2)
        v += scratch
        store(m_slot, m)
        store(v_slot, v)
        if self.amsgrad:
            v = np.maximum(value_of(slots[2]), v)
            store(slots[2], v)
        denominator = np.sqrt(v, out=scratch)
        denominator += kind(self.epsilon)
        # (m alpha) / denominator, subtracted: Keras's order of operations.
        update = np.multiply(m, alpha, out=np.empty(m.shape, m.dtype))
        update /= denominator
        if own is not None:
            own -= update
            store(variable, own)
        else:
            np.subtract(value, update, out=update)
            store(variable, update)

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


def _writable(slot):
    """The slot's array to update in place, or a copy when someone else can see it."""
    value = private_value(slot)
    return value if value is not None else np.array(value_of(slot))  # np.array: 0-d scalars too
