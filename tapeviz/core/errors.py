"""Error types that mirror TensorFlow's ``tf.errors``."""


class OpError(Exception):
    """An op could not run on the inputs it was given."""


class InvalidArgumentError(OpError, ValueError):
    """An op got inputs of incompatible shape or value (TensorFlow's InvalidArgumentError)."""


class GradientRuleError(RuntimeError):
    """A gradient rule returned something that does not fit its op (wrong count, shape or dtype)."""


def missing_api(module, name):
    """The AttributeError for a TensorFlow name tapeviz does not have (``tf.einsum``, ``tf.linalg.solve``)."""
    message = f"module {module!r} has no attribute {name!r}"
    if name.startswith("_"):
        return AttributeError(message)
    tf_name = "tf." + module.partition(".")[2] + ("." if "." in module else "") + name
    return AttributeError(f"{message}: tapeviz implements TensorFlow's GradientTape with a subset of its API, and "
                          f"{tf_name} is not part of it. Write this step with the ops tapeviz has (README, 'What "
                          "matches TensorFlow'), or run it in TensorFlow.")
