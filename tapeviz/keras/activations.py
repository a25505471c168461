"""Activations by name, as Keras resolves ``Dense(..., activation='relu')``."""


def _table():
    import tapeviz as tv
    from tapeviz import nn
    return {
        "linear": lambda x: x, "relu": nn.relu, "relu6": nn.relu6, "elu": nn.elu, "selu": nn.selu,
        "sigmoid": tv.sigmoid, "tanh": tv.tanh, "softmax": nn.softmax, "log_softmax": nn.log_softmax,
        "softplus": nn.softplus, "gelu": nn.gelu, "leaky_relu": nn.leaky_relu, "exponential": tv.exp,
    }


def get(identifier):
    """A callable for an activation name, a callable, or None (linear)."""
    if identifier is None:
        return lambda x: x
    if callable(identifier):
        return identifier
    table = _table()
    if identifier not in table:
        raise ValueError(f"Unknown activation {identifier!r}; use one of {sorted(table)} or pass a callable "
                         "such as tapeviz.nn.relu.")
    return table[identifier]
