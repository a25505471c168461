"""The small slice of Keras that TensorFlow autodiff tutorials use: ``keras.layers.Dense``."""
from . import activations, initializers, layers  # noqa: F401
from . import losses, metrics, optimizers  # noqa: F401
