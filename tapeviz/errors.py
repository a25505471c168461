"""``tapeviz.errors``: TensorFlow's ``tf.errors`` names."""
from tapeviz.core.errors import GradientRuleError, InvalidArgumentError, OpError  # noqa: F401
