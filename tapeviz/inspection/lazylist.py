"""A list whose items are made when it is first read: a recording's events and gradient calls.

A training loop records about ten events and one gradient call a step; making them as objects while the
loop runs, or when a snapshot is taken, costs their making, their memory and every later garbage
collection, and many snapshots are never read in full. The recorder keeps them as numbers
and gives the run a ``LazyList`` that makes the objects on first use. To its readers it is a list: every
method, iteration, indexing, comparison and copy sees all the items (a copy, a pickle and a slice are
plain lists).
"""


class LazyList(list):
    """``more()`` gives the items not made yet; it is called under ``lock`` before any read or change.

    ``once``: ``more`` gives every item at its first call (a snapshot); else it is asked again before each
    read, for the items added since (the live run of a recording in progress). Made from items instead of
    a callable (as ``type(items)(...)`` copies do, ``dataclasses.asdict`` for one), it is a plain list.
    """

    __slots__ = ("_more", "_once", "_lock")

    def __init__(self, more=(), lock=None, once=True):
        if callable(more):
            super().__init__()
            self._more = more
        else:
            super().__init__(more)
            self._more = None
        self._once = once
        self._lock = lock

    def _sync(self):
        if self._more is None:
            return
        with self._lock:
            more = self._more
            if more is None:  # another thread made them while this one waited
                return
            items = more()  # if it raises, the items are asked for again at the next read
            if self._once:
                self._more = None
            if items:
                list.extend(self, items)

    def __reduce_ex__(self, protocol):  # copy, deepcopy and pickle give a plain list
        self._sync()
        return list, (list(self),)

    def __eq__(self, other):
        self._sync()
        if isinstance(other, LazyList):
            other._sync()
        return list.__eq__(self, other)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __add__(self, other):
        self._sync()
        if isinstance(other, LazyList):
            other._sync()
        return list.__add__(self, other)

    def __radd__(self, other):  # list + LazyList: the plain list's + would read no item of this one
        self._sync()
        if not isinstance(other, list):
            return NotImplemented
        return list.__add__(other, self) if type(other) is list else list(other) + list(self)

    __hash__ = None


def _synced(name, compares=False):
    method = getattr(list, name)

    if compares:  # a plain list's method reads the items of another list directly: make that one's too
        def synced(self, *args):
            self._sync()
            for arg in args:
                if isinstance(arg, LazyList):
                    arg._sync()
            return method(self, *args)
    else:
        def synced(self, *args, **kwargs):
            self._sync()
            return method(self, *args, **kwargs)

    synced.__name__ = synced.__qualname__ = name
    synced.__doc__ = method.__doc__
    return synced


for _name in ("__len__", "__iter__", "__reversed__", "__getitem__", "__contains__", "__mul__", "__rmul__",
              "__repr__", "__sizeof__", "__delitem__", "__imul__", "index", "count", "copy", "append", "insert",
              "pop", "remove", "sort", "reverse", "clear"):
    setattr(LazyList, _name, _synced(_name))
for _name in ("__lt__", "__le__", "__gt__", "__ge__", "__setitem__", "__iadd__", "extend"):
    setattr(LazyList, _name, _synced(_name, compares=True))
del _name
