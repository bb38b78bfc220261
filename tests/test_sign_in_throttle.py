"""The sign-in throttle on its own, with a simulated clock: what it remembers, for how long,
and how much; and whom the API believes about a client's address."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from accounts.throttle import LoginThrottle, Throttled, address_key
from station.clock import SimulatedClock
from station.settings import Settings

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
WINDOW_S = 300


def throttle(clock: SimulatedClock, *, max_keys: int = 10_000) -> LoginThrottle:
    return LoginThrottle(clock, 5, WINDOW_S, account_max_failures=50, max_keys=max_keys)


def address(i: int) -> str:
    return f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"


def test_the_throttle_holds_a_bounded_number_of_keys_however_many_usernames_are_tried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ten thousand made-up usernames from as many addresses, within one window: the throttle
    never holds more than its bound, forgets the least recent first, and says so once."""
    clock = SimulatedClock(NOW)
    t = throttle(clock, max_keys=1000)
    for i in range(10_000):
        t.reserve(f"guess-{i}", address(i))
        assert len(t) <= 1000
        clock.advance(0.01)
    # The latest are still remembered: the last address has made one attempt of five.
    last = address(9_999)
    for _ in range(4):
        t.reserve("another-guess", last)
    with pytest.raises(Throttled):
        t.reserve("yet-another", last)
    full = [r for r in caplog.records if "throttle is full" in r.getMessage()]
    assert len(full) == 1 and full[0].levelno == logging.WARNING


def test_keys_whose_window_has_passed_are_swept_as_new_attempts_come() -> None:
    clock = SimulatedClock(NOW)
    t = throttle(clock)
    for i in range(500):
        t.reserve(f"guess-{i}", address(i))
    assert len(t) == 3 * 500  # per address, per username there, per username
    clock.advance(WINDOW_S + 1)
    t.reserve("aysel", "203.0.113.9")
    assert len(t) == 3


def test_a_guess_spread_over_many_addresses_is_held_to_the_account_ceiling() -> None:
    """Twenty-five addresses, two guesses each, all under their own limit: the account has
    taken 50 failures this window from all of them together, and refuses a 51st, from
    anywhere, until the window has passed."""
    clock = SimulatedClock(NOW)
    t = throttle(clock)
    for i in range(25):
        for _ in range(2):
            t.reserve("aysel", address(i))  # wrong each time: the attempts stay counted
    with pytest.raises(Throttled) as refused:
        t.reserve("aysel", "203.0.113.9")
    assert 1 <= refused.value.retry_after_s <= WINDOW_S
    assert refused.value.reason == "login-throttled"
    t.reserve("gunay", "203.0.113.9")  # other accounts are not held
    clock.advance(WINDOW_S)
    t.reserve("aysel", "203.0.113.9")


def test_a_right_password_forgets_its_own_slips_at_that_address_only() -> None:
    clock = SimulatedClock(NOW)
    t = throttle(clock)
    for _ in range(4):
        t.reserve("gunay", "203.0.113.5")  # typos
    t.succeeded(t.reserve("gunay", "203.0.113.5"))
    # The address keeps its four failures; gunay there starts afresh, so one more is allowed
    # by both, and the fifth failure from the address throttles it.
    t.reserve("gunay", "203.0.113.5")
    with pytest.raises(Throttled):
        t.reserve("gunay", "203.0.113.5")


def test_an_attempt_whose_check_did_not_happen_is_given_back() -> None:
    clock = SimulatedClock(NOW)
    t = throttle(clock)
    for _ in range(10):
        t.release(t.reserve("gunay", "203.0.113.5"))  # the database was away
    t.reserve("gunay", "203.0.113.5")


def test_ipv6_clients_are_counted_by_their_64_network() -> None:
    clock = SimulatedClock(NOW)
    t = throttle(clock)
    for i in range(5):
        t.reserve(f"guess-{i}", f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(Throttled):
        t.reserve("guess-9", "2001:db8:1:2:ffff::9")
    t.reserve("guess-9", "2001:db8:1:3::1")  # the next /64 is someone else
    assert address_key("2001:db8:1:2:abcd::1") == "2001:db8:1:2::/64"
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert address_key("198.51.100.7") == "198.51.100.7"


def test_forwarded_addresses_are_believed_only_from_listed_proxies() -> None:
    assert Settings().forwarded_allow_ips == ["127.0.0.1", "::1"]
    s = Settings(trusted_proxies=" 172.30.251.10 , 10.0.0.0/8 ")
    assert s.forwarded_allow_ips == ["172.30.251.10", "10.0.0.0/8"]
    assert Settings(trusted_proxies="").forwarded_allow_ips == []
    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(trusted_proxies="*")
