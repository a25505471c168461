"""``Embedding``: integer indices to rows of a trainable ``(input_dim, output_dim)`` table."""
from tapeviz.ops import array_ops

from .. import initializers
from .base import Layer

__all__ = ["Embedding"]


class Embedding(Layer):
    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(autocast=False, **kwargs)
        if input_dim <= 0 or output_dim <= 0:
            raise ValueError(f"Both `input_dim` and `output_dim` should be positive, Received input_dim = "
                             f"{input_dim} and output_dim = {output_dim}")
        self.input_dim, self.output_dim, self.mask_zero = input_dim, output_dim, mask_zero
        initializer = "random_uniform" if embeddings_initializer == "uniform" else embeddings_initializer
        self.embeddings_initializer = initializers.get(initializer)
        self.embeddings = None

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer, name="embeddings")
        self.built = True

    def call(self, inputs):
        if not inputs.dtype.is_integer:
            inputs = array_ops.cast(inputs, "int32")
        return array_ops.gather(self.embeddings, inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)
