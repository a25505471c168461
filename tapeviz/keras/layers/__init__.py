"""``keras.layers``: the Layer base class and the layers TensorFlow's tutorials use."""
from .activation_layers import Activation, LeakyReLU, ReLU, Softmax
from .base import InputSpec, Layer
from .batch_normalization import BatchNormalization
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .normalization import Normalization
from .reshaping import Flatten, Reshape

__all__ = ["Layer", "InputSpec", "Input", "InputLayer", "Dense", "Flatten", "Reshape", "Dropout", "Activation",
           "ReLU", "LeakyReLU", "Softmax", "BatchNormalization", "Embedding", "Normalization"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.layers", name)
