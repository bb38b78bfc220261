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


def always(value: object) -> bool:
    return True


class Memo(Generic[V]):
    """A small least-recently-used map, safe across threads, computing each key once.

    `keep`, if given, says whether a kept value still holds (an answer about "today" does
    not once the day is over); one that does not is computed again."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def peek(self, key: Hashable, keep: Callable[[V], bool] = always) -> V | None:
        """The value kept under key, if it holds; never computes (so never waits on I/O)."""
        with self._lock:
            value = self._values.get(key)
            if value is None or not keep(value):
                return None
            self._values.move_to_end(key)
            return value

    def get(self, key: Hashable, compute: Callable[[], V], keep: Callable[[V], bool] = always) -> V:
        value = self.peek(key, keep)
        if value is not None:
            return value
        with self._lock:
            once = self._computing.setdefault(key, threading.Lock())
        with once:
            value = self.peek(key, keep)  # another thread computed it while this one waited
            if value is not None:
                return value
            try:
                value = compute()
            except BaseException:  # a key that fails (no such channel) leaves no lock behind
                with self._lock:
                    self._computing.pop(key, None)
                raise
            with self._lock:
                self._values[key] = value
                self._values.move_to_end(key)
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
                self._computing.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
