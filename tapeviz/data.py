"""``tf.data``: an eager, in-memory ``Dataset`` for training loops.

A Dataset is a recipe: each ``for`` loop over it runs the recipe again from the start, yielding
elements (tensors, or tuples and dicts of tensors) one at a time. Elements are kept as numpy
arrays inside and become Tensors when yielded. ``prefetch``, ``cache`` and ``num_parallel_calls``
are accepted and do nothing (everything runs in the caller's thread). ``shuffle`` is TensorFlow's
buffer shuffle; seeded runs repeat, but the order is not TensorFlow's.
"""
import itertools

import numpy as np

from tapeviz.core.tensor import Tensor, Variable, convert_to_tensor
from tapeviz.ops import random_ops

__all__ = ["Dataset", "AUTOTUNE", "experimental", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY"]

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2


class experimental:  # noqa: N801 - TF's module name
    AUTOTUNE = AUTOTUNE
    INFINITE_CARDINALITY = INFINITE_CARDINALITY
    UNKNOWN_CARDINALITY = UNKNOWN_CARDINALITY

    @staticmethod
    def cardinality(dataset):
        return dataset.cardinality()


# -- structures: tuples and dicts are structure; a list is one tensor, as in tf.data --------------
def _map_structure(fn, element):
    if isinstance(element, dict):
        return type(element)((key, _map_structure(fn, value)) for key, value in element.items())
    if isinstance(element, tuple):
        items = [_map_structure(fn, item) for item in element]
        return type(element)(*items) if hasattr(type(element), "_fields") else tuple(items)
    return fn(element)


def _leaves(element):
    if isinstance(element, dict):
        return [leaf for value in element.values() for leaf in _leaves(value)]
    if isinstance(element, tuple):
        return [leaf for item in element for leaf in _leaves(item)]
    return [element]


def _to_array(value):
    if isinstance(value, Tensor):
        return value._value
    if isinstance(value, Variable):
        return value._value_for_read()
    return convert_to_tensor(value)._value


def _to_tensor(value):
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value))


def _zip_structure(fn, elements):
    """Combine several elements of one structure leaf by leaf: ``fn(list_of_leaves)``."""
    first = elements[0]
    if isinstance(first, dict):
        return type(first)((key, _zip_structure(fn, [e[key] for e in elements])) for key in first)
    if isinstance(first, tuple):
        items = [_zip_structure(fn, [e[i] for e in elements]) for i in range(len(first))]
        return type(first)(*items) if hasattr(type(first), "_fields") else tuple(items)
    return fn(elements)


def _call(fn, element):
    """tf.data's calling convention: a tuple element is spread into arguments, anything else passed whole."""
    if isinstance(element, tuple) and not hasattr(type(element), "_fields"):
        return fn(*element)
    return fn(element)


class Dataset:
    """A sequence of elements built from tensors and transformed lazily (``batch``, ``map``, ``shuffle``...)."""

    def __init__(self, make_iterator, cardinality=UNKNOWN_CARDINALITY):
        self._make_iterator = make_iterator  # () -> iterator of elements of numpy arrays
        self._cardinality = cardinality

    # -- sources ---------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per row of the first axis; tuples and dicts keep their structure in each element."""
        arrays = _map_structure(_to_array, tensors)
        leaves = _leaves(arrays)
        lengths = {leaf.shape[0] if leaf.ndim else None for leaf in leaves}
        if None in lengths:
            raise ValueError("from_tensor_slices needs tensors of rank >= 1 (it slices the first axis); "
                             "for a single element use Dataset.from_tensors.")
        if len(lengths) > 1:
            shapes = [list(leaf.shape) for leaf in leaves]
            raise ValueError(f"Dimensions of the tensors to slice must agree in their first axis, got shapes "
                             f"{shapes}.")
        length = lengths.pop()
        return Dataset(lambda: (_map_structure(lambda a, i=i: a[i], arrays) for i in range(length)), length)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of exactly one element: ``tensors`` itself."""
        arrays = _map_structure(_to_array, tensors)
        return Dataset(lambda: iter([arrays]), 1)

    @staticmethod
    def range(*args, output_type=None, name=None):
        """int64 scalars like Python's ``range(start, stop, step)``."""
        values = range(*[int(a) for a in args])
        dtype = np.int64 if output_type is None else np.dtype(getattr(output_type, "name", output_type))
        return Dataset(lambda: (np.asarray(v, dtype) for v in values), len(values))

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None,
                       name=None):
        """Elements from a Python generator function, called anew for each pass."""
        def make():
            for element in generator(*(args or ())):
                yield _map_structure(_to_array, element)
        return Dataset(make)

    @staticmethod
    def zip(*datasets, name=None):
        """Elements of several datasets side by side, as a tuple (or the structure given); stops at the shortest."""
        structure = datasets[0] if len(datasets) == 1 else tuple(datasets)
        parts = _leaves_of_datasets(structure)
        cardinality = min((d._cardinality for d in parts if d._cardinality >= 0), default=UNKNOWN_CARDINALITY)
        if all(d._cardinality == INFINITE_CARDINALITY for d in parts):
            cardinality = INFINITE_CARDINALITY

        def make():
            iterators = [iter(d._make_iterator()) for d in parts]
            for items in zip(*iterators):
                yield _rebuild(structure, iter(items))
        return Dataset(make, cardinality)

    # -- transformations -------------------------------------------------------------------------
    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None, name=None):
        """Stack ``batch_size`` consecutive elements; the last batch is smaller unless ``drop_remainder``."""
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        source = self

        def make():
            iterator = source._make_iterator()
            while True:
                chunk = list(itertools.islice(iterator, batch_size))
                if not chunk or (drop_remainder and len(chunk) < batch_size):
                    return
                yield _zip_structure(_stack, chunk)
        n = self._cardinality
        cardinality = n if n < 0 else (n // batch_size if drop_remainder else -(-n // batch_size))
        return Dataset(make, cardinality)

    def unbatch(self, name=None):
        """The inverse of batch: each row of each element becomes an element."""
        source = self

        def make():
            for element in source._make_iterator():
                length = _leaves(element)[0].shape[0]
                for i in range(length):
                    yield _map_structure(lambda a, i=i: a[i], element)
        return Dataset(make)

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """``map_func`` applied to each element (a tuple element is passed as separate arguments)."""
        source = self

        def make():
            for element in source._make_iterator():
                yield _map_structure(_to_array, _call(map_func, _map_structure(_to_tensor, element)))
        return Dataset(make, self._cardinality)

    def filter(self, predicate, name=None):
        """Only the elements for which ``predicate`` is true."""
        source = self

        def make():
            for element in source._make_iterator():
                if bool(_call(predicate, _map_structure(_to_tensor, element))):
                    yield element
        return Dataset(make)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True, name=None):
        """TF's buffer shuffle: keep ``buffer_size`` elements and yield a random one of them each time.

        A buffer at least as large as the dataset gives a uniform shuffle. With a seed (or after
        ``tf.random.set_seed``) the order repeats from run to run; each pass over the dataset gets
        a new order unless ``reshuffle_each_iteration=False``.
        """
        buffer_size = int(buffer_size)
        if buffer_size <= 0 and buffer_size != AUTOTUNE:
            raise ValueError(f"buffer_size must be positive, got {buffer_size}.")
        source = self
        base = _shuffle_seed(seed)
        passes = itertools.count()

        def make():
            rng = np.random.default_rng(None if base is None else base + [next(passes) if reshuffle_each_iteration else 0])
            buffer = []
            for element in source._make_iterator():
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                index = rng.integers(len(buffer))
                yield buffer[index]
                buffer[index] = element
            while buffer:
                index = rng.integers(len(buffer))
                buffer[index], buffer[-1] = buffer[-1], buffer[index]
                yield buffer.pop()
        return Dataset(make, self._cardinality)

    def repeat(self, count=None, name=None):
        """The dataset ``count`` times over (forever when ``count`` is None or -1)."""
        source = self
        forever = count is None or int(count) < 0

        def make():
            passes = itertools.count() if forever else range(int(count))
            for _ in passes:
                yield from source._make_iterator()
        n = self._cardinality
        cardinality = (INFINITE_CARDINALITY if forever and n != 0 else n) if forever else (
            n * int(count) if n >= 0 else n)
        return Dataset(make, cardinality)

    def take(self, count, name=None):
        """The first ``count`` elements (all of them when ``count`` is -1)."""
        count = int(count)
        if count < 0:
            return self
        source = self
        n = self._cardinality
        return Dataset(lambda: itertools.islice(source._make_iterator(), count),
                       count if n == INFINITE_CARDINALITY else (min(n, count) if n >= 0 else n))

    def skip(self, count, name=None):
        """All but the first ``count`` elements."""
        count = int(count)
        source = self
        n = self._cardinality
        return Dataset(lambda: itertools.islice(source._make_iterator(), max(count, 0), None),
                       max(n - count, 0) if n >= 0 else n)

    def enumerate(self, start=0, name=None):
        """``(index, element)`` pairs, the index an int64 scalar."""
        source = self

        def make():
            for i, element in enumerate(source._make_iterator(), start):
                yield (np.asarray(i, np.int64), element)
        return Dataset(make, self._cardinality)

    def concatenate(self, dataset, name=None):
        source = self
        n, m = self._cardinality, dataset._cardinality
        return Dataset(lambda: itertools.chain(source._make_iterator(), dataset._make_iterator()),
                       n + m if n >= 0 and m >= 0 else min(n, m))

    def prefetch(self, buffer_size, name=None):
        """Accepted for compatibility; elements are made when asked for, so there is nothing to prefetch."""
        return self

    def cache(self, filename="", name=None):
        """Accepted for compatibility: the data is in memory already."""
        return self

    def with_options(self, options, name=None):
        return self

    # -- reading ---------------------------------------------------------------------------------
    def __iter__(self):
        for element in self._make_iterator():
            yield _map_structure(_to_tensor, element)

    def as_numpy_iterator(self):
        for element in self._make_iterator():
            yield _map_structure(lambda a: a if a.ndim else a[()], element)

    def cardinality(self):
        """The number of elements as an int64 tensor: -1 when infinite, -2 when unknown (after filter)."""
        return Tensor(np.asarray(self._cardinality, np.int64))

    def __len__(self):
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality < 0:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def reduce(self, initial_state, reduce_func, name=None):
        state = initial_state
        for element in self:
            state = reduce_func(state, element)
        return state

    @property
    def element_spec(self):
        from tapeviz.function import TensorSpec
        first = next(iter(self._make_iterator()), None)
        if first is None:
            return None
        return _map_structure(lambda a: TensorSpec(a.shape, a.dtype.name), first)

    def __repr__(self):
        return f"<tapeviz.data.Dataset cardinality={self._cardinality}>"


def _shuffle_seed(seed):
    """A dataset's seed: fixed by its op seed (the same seed, the same order, as in tf.data); without one,
    the next draw of the global generator (repeatable after tf.random.set_seed); else None (fresh)."""
    global_seed = random_ops.get_seed()
    if seed is not None:
        return [random_ops._DEFAULT_SEED if global_seed is None else global_seed, int(seed)]
    if global_seed is not None:
        return [int(random_ops._generator(None).integers(2 ** 63))]
    return None


def _stack(arrays):
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({tuple(a.shape) for a in arrays})
        raise ValueError(f"Cannot batch tensors with different shapes {shapes}; make the elements one shape "
                         "(pad or resize them in a map) before batch.") from None


def _leaves_of_datasets(structure):
    if isinstance(structure, Dataset):
        return [structure]
    if isinstance(structure, dict):
        return [d for value in structure.values() for d in _leaves_of_datasets(value)]
    if isinstance(structure, (tuple, list)):
        return [d for item in structure for d in _leaves_of_datasets(item)]
    raise TypeError(f"Dataset.zip takes datasets (or tuples and dicts of them), got {type(structure).__name__}.")


def _rebuild(structure, items):
    if isinstance(structure, Dataset):
        return next(items)
    if isinstance(structure, dict):
        return {key: _rebuild(value, items) for key, value in structure.items()}
    return tuple(_rebuild(item, items) for item in structure)
