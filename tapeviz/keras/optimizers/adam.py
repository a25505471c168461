"""``Adam`` and ``AdamW``, in Keras 3's arithmetic (float32, bias correction folded into the step size)."""
import numpy as np

from .base import Optimizer, private_value, store, value_of
from .blocks import Scratch, contiguous_writable, flat_blocks


class Adam(Optimizer):
    """Adam: ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``, ``w -= m alpha / (sqrt(v) + eps)``
    with ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`` at step ``t = iterations + 1``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self._scratch = Scratch()

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
        step = kind(value_of(self.iterations) + 1)
        beta_1_power = np.power(kind(self.beta_1), step)
        beta_2_power = np.power(kind(self.beta_2), step)
        alpha = kind(learning_rate) * np.sqrt(kind(1) - beta_2_power) / (kind(1) - beta_1_power)
        # The moments are updated in place when the slots are private (a copy otherwise); the weights
        # too, else the new weights go to a new array, as assign would give them.
        m, v = _writable(slots[0]), _writable(slots[1])
        v_hat = _writable(slots[2]) if self.amsgrad else None
        if own is None or not own.flags.c_contiguous:
            target = np.empty(value.shape, value.dtype)
            source = np.ascontiguousarray(value).reshape(-1)
        else:
            target = own
            source = own.reshape(-1)
        g = np.ascontiguousarray(gradient).reshape(-1)
        m_flat, v_flat, target_flat = m.reshape(-1), v.reshape(-1), target.reshape(-1)
        v_hat_flat = v_hat.reshape(-1) if v_hat is not None else None
        one_minus_beta_1, one_minus_beta_2, epsilon = kind(1 - self.beta_1), kind(1 - self.beta_2), kind(self.epsilon)
        for start, stop in flat_blocks(g.size):
            gb, mb, vb = g[start:stop], m_flat[start:stop], v_flat[start:stop]
            scratch, update = self._scratch.pair(value.dtype, stop - start)
            # Keras's order: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); then v_hat = max(v_hat, v);
            # w -= (m alpha) / (sqrt(v) + eps).
            np.subtract(gb, mb, out=scratch)
            scratch *= one_minus_beta_1
            mb += scratch
            np.multiply(gb, gb, out=scratch)
            scratch -= vb
            scratch *= one_minus_beta_2
            vb += scratch
            if v_hat_flat is not None:
                vb = np.maximum(v_hat_flat[start:stop], vb, out=v_hat_flat[start:stop])
            np.sqrt(vb, out=scratch)
            scratch += epsilon
            np.multiply(mb, alpha, out=update)
            update /= scratch
            np.subtract(source[start:stop], update, out=target_flat[start:stop])
        store(slots[0], m)
        store(slots[1], v)
        if v_hat is not None:
            store(slots[2], v_hat)
        store(variable, target)

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
    """The slot's array to update in place, or a C-contiguous copy when someone else can see it."""
    value = private_value(slot)
    if value is None:
        return np.array(value_of(slot), order="C")  # np.array: 0-d scalars too
    return contiguous_writable(value)
