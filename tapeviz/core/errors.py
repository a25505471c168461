"""Error types that mirror TensorFlow's ``tf.errors``."""


class OpError(Exception):
    """An op could not run on the inputs it was given."""


class InvalidArgumentError(OpError, ValueError):
    """An op got inputs of incompatible shape or value (TensorFlow's InvalidArgumentError)."""


class GradientRuleError(RuntimeError):
    """A gradient rule returned something that does not fit its op (wrong count, shape or dtype)."""
