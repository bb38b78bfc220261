"""Comparing secrets: in constant time, as UTF-8, so that how long a comparison takes says
nothing of how much of a guess was right."""

from __future__ import annotations

import hmac


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
