"""Keras's default names: a class name in snake case (``Conv2D`` -> ``conv2d``), shared by layers,
losses, metrics and optimizers."""
import re


def snake_case(name):
    """Keras's to_snake_case: ``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``, ``AdamW`` -> ``adam_w``,
    ``RMSprop`` -> ``rm_sprop``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
