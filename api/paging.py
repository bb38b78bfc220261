"""Opaque cursors for the API's paginated lists: a tag naming the list and the sort key of the
last item given out, base64url without padding. Services page by key (`station.db.Page`);
only the API turns keys into cursors and back. A cursor from another list, or made up, is a
422 problem (`invalid-cursor`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from station.errors import Invalid


class BadCursor(Invalid):
    reason = "invalid-cursor"


def encode_cursor(tag: str, key: Sequence[int]) -> str:
    raw = f"{tag}:" + ",".join(str(k) for k in key)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str, size: int) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, values = raw.partition(":")
        key = tuple(int(v) for v in values.split(","))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise BadCursor("the cursor is not one this list gave out") from exc
    if found != tag or len(key) != size:
        raise BadCursor("the cursor is not one this list gave out")
    return key


def next_cursor(tag: str, key: Sequence[int] | None) -> str | None:
    return encode_cursor(tag, key) if key is not None else None
