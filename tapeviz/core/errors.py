"""Error types that mirror TensorFlow's ``tf.errors``: ``OpError`` and its subclasses, one per error code.

As in TF, ``OpError(node_def, op, message)`` carries ``.message``, ``.op``, ``.node_def`` and
``.error_code``; tapeviz's own code raises them with the message alone. ``InvalidArgumentError`` is
also a ``ValueError`` (TF's is not): code written for TF catches it by TF's name, and code that
caught tapeviz's earlier ValueErrors keeps working.
"""

OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED, NOT_FOUND, ALREADY_EXISTS = 0, 1, 2, 3, 4, 5, 6
PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE = 7, 8, 9, 10, 11
UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS, UNAUTHENTICATED = 12, 13, 14, 15, 16


class OpError(Exception):
    """An op could not run on the inputs it was given (TF's ``tf.errors.OpError``)."""

    error_code = UNKNOWN

    def __init__(self, *args, error_code=None):
        # TF's signature is (node_def, op, message[, error_code]); tapeviz raises with the message alone.
        if len(args) >= 3:
            self.node_def, self.op, self.message = args[:3]
            if len(args) > 3:
                error_code = args[3]
        else:
            self.node_def = self.op = None
            self.message = args[0] if args else ""
        if error_code is not None:
            self.error_code = error_code
        super().__init__(self.message)

    def __str__(self):
        return str(self.message)

    def __reduce__(self):
        return type(self), (self.node_def, self.op, self.message, self.error_code)


def _error(name, code, doc, *bases):
    return type(name, (OpError,) + bases, {"__doc__": doc, "error_code": code, "__module__": __name__})


CancelledError = _error("CancelledError", CANCELLED, "An operation was cancelled.")
UnknownError = _error("UnknownError", UNKNOWN, "An unknown error.")
InvalidArgumentError = _error("InvalidArgumentError", INVALID_ARGUMENT,
                              "An op got an argument of the wrong dtype, shape or value.", ValueError)
DeadlineExceededError = _error("DeadlineExceededError", DEADLINE_EXCEEDED, "A deadline expired.")
NotFoundError = _error("NotFoundError", NOT_FOUND, "A requested entity was not found.")
AlreadyExistsError = _error("AlreadyExistsError", ALREADY_EXISTS, "An entity already exists.")
PermissionDeniedError = _error("PermissionDeniedError", PERMISSION_DENIED, "No permission.")
UnauthenticatedError = _error("UnauthenticatedError", UNAUTHENTICATED, "No valid credentials.")
ResourceExhaustedError = _error("ResourceExhaustedError", RESOURCE_EXHAUSTED, "A resource ran out.")
FailedPreconditionError = _error("FailedPreconditionError", FAILED_PRECONDITION, "The system is not in a state to run the op.")
AbortedError = _error("AbortedError", ABORTED, "An operation was aborted.")
OutOfRangeError = _error("OutOfRangeError", OUT_OF_RANGE, "An operation went past the valid range.")
UnimplementedError = _error("UnimplementedError", UNIMPLEMENTED, "An op is not implemented for these arguments.")
InternalError = _error("InternalError", INTERNAL, "An internal invariant broke.")
UnavailableError = _error("UnavailableError", UNAVAILABLE, "A service is unavailable.")
DataLossError = _error("DataLossError", DATA_LOSS, "Unrecoverable data loss.")


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
