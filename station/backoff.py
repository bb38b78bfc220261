"""The one back-off policy: how long to wait before trying again something that failed.

Every retry in the station goes through here (a supervised task, an encoder, a hook's write,
a title, the job queue), so a reader finds one rule and a test proves it once. The first
failure after a good run is retried at once (a crash is usually a one-off); each quick
failure after it waits twice as long as the last, up to a ceiling; a run that lasted
`stable_s` counts as good again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """The waits: 0 (or `first_s`), base, 2·base, 4·base … at most `max_s`."""

    base_s: float = 0.5
    max_s: float = 8.0
    first_s: float = 0.0
    stable_s: float = 10.0

    def delay(self, failures: int) -> float:
        """The wait before the next try, after `failures` quick failures in a row (≥ 1)."""
        if failures <= 1:
            return self.first_s
        return float(min(self.max_s, self.base_s * 2 ** (failures - 2)))


@dataclass
class Attempts:
    """One thing's failures under a policy: `failed()` says how long to wait, `started()`
    marks a new try, and a try that ran `stable_s` starts the count again."""

    policy: Backoff
    now: Callable[[], float] = time.monotonic
    failures: int = 0  # quick failures in a row
    total: int = 0  # every failure, for health and metrics
    first_failure_at: float | None = None  # when this run of failures began
    _started_at: float = field(default=0.0)

    def started(self) -> None:
        self._started_at = self.now()

    def failed(self) -> float:
        now = self.now()
        if self.failures and now - self._started_at >= self.policy.stable_s:
            self.failures = 0  # it ran well for a while: this is a new trouble
        if self.failures == 0:
            self.first_failure_at = now
        self.failures += 1
        self.total += 1
        return self.policy.delay(self.failures)

    def succeeded(self) -> None:
        self.failures = 0
        self.first_failure_at = None

    def failing_for(self) -> float:
        """Seconds since this run of failures began (0 when it is not failing)."""
        return 0.0 if self.first_failure_at is None else self.now() - self.first_failure_at
