"""Keeping what was resolved while nothing it was made from has changed.

A channel's day is resolved in full whenever anything asks about it (see
`schedules.timeline`): a busy radio day is a few thousand items and some 100 ms of CPU, and
now-playing, the schedule, the EPG and playout all ask about the same day again and again.
`Memo` keeps the latest answers under a key that includes the database's `fingerprint`, so an
edit in any process is seen by the next request, and concurrent requests for the same key
wait for one computation rather than each doing it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Memo(Generic[V]):
    """A small least-recently-used map, safe across threads, computing each key once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            once = self._computing.setdefault(key, threading.Lock())
        with once:
            with self._lock:
                if key in self._values:  # another thread computed it while this one waited
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
                self._computing.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
