"""``SimpleRNN``, ``LSTM`` and ``GRU``: recurrent layers over (batch, time, features) inputs, as Keras 3.

Each runs its cell once per time step in Python, with tapeviz ops, so a tape records every step (the
inspector folds the repeated steps into one block) and gradients flow back through time as TF's do.
The weights and the step arithmetic are Keras 3's: ``kernel`` (features, k * units),
``recurrent_kernel`` (units, k * units) and ``bias``, gates in Keras's order (LSTM: input, forget,
cell, output; GRU: update, reset, candidate, with ``reset_after=True``: a bias of shape (2, 3 * units)).
"""
from tapeviz.ops import array_ops

from .. import activations, initializers
from .base import InputSpec, Layer

__all__ = ["SimpleRNN", "LSTM", "GRU"]


class _Recurrent(Layer):
    """What the three layers share: arguments, weights, the loop over time and what it returns."""

    GATES = 1          # blocks of ``units`` columns in the kernels
    STATES = 1         # states carried from step to step (LSTM: h and c)

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        for unused in ("dropout", "recurrent_dropout"):
            if kwargs.pop(unused, 0.0):
                raise ValueError(f"{type(self).__name__} in tapeviz supports {unused}=0 only; add a Dropout layer "
                                 "before or after it instead.")
        for unused in ("kernel_constraint", "recurrent_constraint", "bias_constraint", "activity_regularizer",
                       "seed", "time_major", "zero_output_for_mask", "use_cudnn"):
            kwargs.pop(unused, None)
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a positive integer, got "
                             f"{units!r}.")
        if go_backwards or stateful:
            raise ValueError(f"{type(self).__name__} in tapeviz supports go_backwards=False and stateful=False "
                             "only: reverse the sequence with tapeviz.reverse, and carry states with "
                             "initial_state=...")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.return_sequences, self.return_state = return_sequences, return_state
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' needs the last dimension of its input "
                             f"(the features) to be known; got input shape {tuple(input_shape)}.")
        width = self.GATES * self.units
        self.kernel = self.add_weight(shape=(features, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, width), initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer, name="recurrent_kernel")
        self.bias = (self.add_weight(shape=self._bias_shape(), initializer=self._bias_initializer(),
                                     regularizer=self.bias_regularizer, name="bias") if self.use_bias else None)
        self.input_spec = InputSpec(ndim=3, axes={-1: int(features)})
        self.built = True

    def _bias_shape(self):
        return (self.GATES * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def get_initial_state(self, batch_size):
        """Zero states for ``batch_size`` sequences (Keras 3 takes the batch size, not a tensor)."""
        if not isinstance(batch_size, int):
            try:
                batch_size = int(batch_size)
            except (TypeError, ValueError):
                raise TypeError(f"{type(self).__name__}.get_initial_state takes the batch size (an int), as in Keras 3 "
                                f"(TF 2.21), got {type(batch_size).__name__}; pass tf.shape(x)[0].") from None
        return [array_ops.zeros((batch_size, self.units))] * self.STATES

    def call(self, inputs, initial_state=None, training=None, mask=None):
        if mask is not None:
            raise ValueError(f"{type(self).__name__} in tapeviz does not take a mask; pad or trim the sequences.")
        steps = int(inputs.shape[1])
        if steps == 0:
            raise ValueError(f"{type(self).__name__} needs at least one time step; got input shape "
                             f"{tuple(inputs.shape)}.")
        if initial_state is None:
            zeros = array_ops.zeros((int(inputs.shape[0]), self.units), dtype=inputs.dtype)
            states = [zeros] * self.STATES
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != self.STATES:
                raise ValueError(f"{type(self).__name__} takes {self.STATES} initial state(s), got {len(states)}.")
        outputs = []
        for t in range(steps):
            output, states = self._step(inputs[:, t, :], states)
            outputs.append(output)
        last = outputs[-1]
        result = array_ops.stack(outputs, axis=1) if self.return_sequences else last
        return [result] + states if self.return_state else result

    def get_config(self):
        return {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "use_bias": self.use_bias}


class SimpleRNN(_Recurrent):
    """``h = activation(x @ kernel + h @ recurrent_kernel + bias)``."""

    def _step(self, x_t, states):
        (h,) = states
        z = x_t @ self.kernel + h @ self.recurrent_kernel
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z)
        return h, [h]


class LSTM(_Recurrent):
    """Keras 3's LSTM: gates i, f, c, o; ``c = f * c + i * tanh(c~)``, ``h = o * tanh(c)``; the forget
    gate's bias starts at 1 (``unit_forget_bias``)."""

    GATES, STATES = 4, 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def forget_bias_one(shape, dtype=None):
            return array_ops.concat([base((units,), dtype=dtype), initializers.Ones()((units,), dtype=dtype),
                                     base((2 * units,), dtype=dtype)], axis=0)
        return forget_bias_one

    def _step(self, x_t, states):
        h, c = states
        z = x_t @ self.kernel + h @ self.recurrent_kernel
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = array_ops.split(z, 4, axis=1)
        i, f, o = self.recurrent_activation(z_i), self.recurrent_activation(z_f), self.recurrent_activation(z_o)
        c = f * c + i * self.activation(z_c)
        h = o * self.activation(c)
        return h, [h, c]


class GRU(_Recurrent):
    """Keras 3's GRU with ``reset_after=True``: ``h = z * h + (1 - z) * tanh(x_h + r * (h @ U_h + b_h))``."""

    GATES = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", reset_after=True, **kwargs):
        if not reset_after:
            raise ValueError("GRU in tapeviz supports reset_after=True only (Keras 3's default).")
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self):
        return (2, 3 * self.units)

    def _step(self, x_t, states):
        (h,) = states
        matrix_x = x_t @ self.kernel
        matrix_inner = h @ self.recurrent_kernel
        if self.use_bias:
            matrix_x = matrix_x + self.bias[0]
            matrix_inner = matrix_inner + self.bias[1]
        x_z, x_r, x_h = array_ops.split(matrix_x, 3, axis=1)
        r_z, r_r, r_h = array_ops.split(matrix_inner, 3, axis=1)
        z = self.recurrent_activation(x_z + r_z)
        r = self.recurrent_activation(x_r + r_r)
        candidate = self.activation(x_h + r * r_h)
        h = z * h + (1.0 - z) * candidate
        return h, [h]
