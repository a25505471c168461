"""``keras.layers``: the Layer base class and the layers TensorFlow's tutorials use."""
from .activation_layers import Activation, LeakyReLU, ReLU, Softmax
from .base import InputSpec, Layer
from .batch_normalization import BatchNormalization
from .convolution import Conv2D, Conv2DTranspose
from .core_layers import (GlobalAveragePooling2D, GlobalAvgPool2D, GlobalMaxPool2D, GlobalMaxPooling2D, Identity, Lambda,
                          Rescaling)
from .dense import Dense
from .dropout import Dropout
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average, concatenate,
                      maximum, minimum, multiply, subtract)
from .normalization import Normalization
from .op_layer import OpLayer  # noqa: F401 - also gives KerasTensor its operators
from .pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D
from .recurrent import GRU, LSTM, SimpleRNN
from .reshaping import Flatten, Reshape

__all__ = ["Layer", "InputSpec", "Input", "InputLayer", "Dense", "Flatten", "Reshape", "Dropout", "Activation",
           "ReLU", "LeakyReLU", "Softmax", "BatchNormalization", "Embedding", "Normalization",
           "Conv2D", "Conv2DTranspose", "SimpleRNN", "LSTM", "GRU", "MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "Lambda", "Identity", "Rescaling", "Add",
           "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "add", "subtract", "multiply",
           "average", "maximum", "minimum", "concatenate"]


def __getattr__(name):
    from tapeviz.core.errors import missing_api
    raise missing_api("tapeviz.keras.layers", name)
