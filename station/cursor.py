"""Pages, and opaque cursors for paginated lists: a tag naming the list and the sort key of the last
item given out, base64url without padding. A cursor from another list, or made up, is
refused (ValueError), and each list says so in its own words."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next one (None at the end)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(tag: str, key: Sequence[int]) -> str:
    raw = f"{tag}:" + ",".join(str(k) for k in key)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str, size: int) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, values = raw.partition(":")
        key = tuple(int(v) for v in values.split(","))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise ValueError("not a cursor") from exc
    if found != tag or len(key) != size:
        raise ValueError(f"not a cursor of this list: {raw!r}")
    return key
