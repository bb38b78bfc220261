"""The sign-in throttle: how many password checks a client address, a username at an address,
and a username from everywhere may still have in the window, kept in this process's memory.

An attempt is counted before its password is checked, so a burst of parallel attempts gets
no more checks than the limit allows, and it stays counted when the password is wrong. A
right password gives its own count back and forgets that username's failures at that address.

Limits, per window:

- one client address: `max_failures` (`DIASPOR_LOGIN_MAX_FAILURES`), whatever the usernames;
- one username at one address: `max_failures` too;
- one username from all addresses together: `account_max_failures`
  (`DIASPOR_LOGIN_ACCOUNT_MAX_FAILURES`), a much higher ceiling. A stranger failing `admin`'s
  password from their address is stopped by the first two limits without touching the owner,
  who signs in from elsewhere. To lock the owner out a stranger needs
  account_max_failures / max_failures addresses in one window (10 with the defaults), and a
  guess spread over that many addresses still gets only account_max_failures tries per window
  at the account. A ceiling rather than a delay, because a delay slows one connection, not a
  guesser who opens many in parallel; and a ceiling keeps the answer to a throttled client
  the same 429 with Retry-After.

IPv6 clients are counted by their /64 network: one subscriber holds a whole /64 and could
otherwise present a new address with every try.

In memory because the embedded default is one API process and a restart forgetting a few
failures costs nothing; behind several API workers each counts alone, so the real limit is
the limit × workers, which still stops guessing (argon2 makes each try slow). The memory is
bounded: keys whose window has passed are swept as new attempts come, and beyond `max_keys`
the least recently used key is forgotten (`DIASPOR_LOGIN_THROTTLE_MAX_KEYS`).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from station.clock import Clock
from station.errors import StationError
from station.settings import Settings

log = logging.getLogger(__name__)


class Throttled(StationError):
    """Too many recent attempts for this address or username; try again in retry_after_s."""

    reason = "login-throttled"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt counted against its keys (the time is its mark in each of them)."""

    keys: tuple[str, ...]
    pair: str  # the username-at-this-address key, forgotten on success
    at: float


def address_key(address: str) -> str:
    """The part of a client address that is counted: the address, or an IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a test client, a unix socket): counted as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        max_failures: int,
        window_s: float,
        *,
        account_max_failures: int,
        max_keys: int,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.account_max_failures = account_max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        # key → times of its attempts in the window; least recently used first.
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()
        self._warned_at = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> LoginThrottle:
        """The limits of `DIASPOR_LOGIN_*`: for signing in, and for going live."""
        return cls(
            clock,
            settings.login_max_failures,
            settings.login_window_s,
            account_max_failures=settings.login_account_max_failures,
            max_keys=settings.login_throttle_max_keys,
        )

    def __len__(self) -> int:
        """How many keys are held now."""
        with self._lock:
            return len(self._attempts)

    def reserve(self, username: str, address: str) -> Attempt:
        """Count an attempt before its password is checked; Throttled if it may not be made."""
        user = username.casefold()
        where = address_key(address)
        pair = f"pair:{where}:{user}"
        limits = (
            (f"ip:{where}", self.max_failures),
            (pair, self.max_failures),
            (f"user:{user}", self.account_max_failures),
        )
        now = self.clock.monotonic()
        with self._lock:
            self._sweep(now)
            wait = max(self._wait(key, limit, now) for key, limit in limits)
            if wait > 0:
                raise Throttled(max(1, math.ceil(wait)))
            for key, _ in limits:
                times = self._attempts.setdefault(key, deque())
                self._attempts.move_to_end(key)
                times.append(now)
            self._bound(now)
        return Attempt(tuple(key for key, _ in limits), pair, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt is not a failure, and the username's failures at
        this address are forgotten (those from elsewhere, and the address's own, stay)."""
        with self._lock:
            self._give_back(attempt)
            self._attempts.pop(attempt.pair, None)

    def release(self, attempt: Attempt) -> None:
        """The password could not be checked (the database failed): the attempt is not counted."""
        with self._lock:
            self._give_back(attempt)

    def _give_back(self, attempt: Attempt) -> None:
        for key in attempt.keys:
            times = self._attempts.get(key)
            if times is not None and attempt.at in times:
                times.remove(attempt.at)

    def _wait(self, key: str, limit: int, now: float) -> float:
        """Seconds until `key` may make another attempt; 0 if it may now."""
        times = self._attempts.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return times[-limit] + self.window_s - now

    def _sweep(self, now: float) -> None:
        """Forget keys whose window has passed, least recently used first, stopping at the
        first that is live: the keys behind it had attempts later. (One whose later attempt
        was given back may wait for a later sweep, or for the bound.)"""
        while self._attempts:
            key, times = next(iter(self._attempts.items()))
            if times and times[-1] > now - self.window_s:
                return
            del self._attempts[key]

    def _bound(self, now: float) -> None:
        evicted = 0
        while len(self._attempts) > self.max_keys:
            self._attempts.popitem(last=False)
            evicted += 1
        if evicted and now - self._warned_at >= self.window_s:
            self._warned_at = now
            log.warning(
                "sign-in throttle is full; forgetting the least recent addresses and usernames",
                extra={"max_keys": self.max_keys, "window_s": self.window_s},
            )
