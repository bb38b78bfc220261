"""One way to page every list of the API: `?limit=` and `?cursor=`, and a body

    {"items": [...], "limit": 20, "next_cursor": "…" | null, "next": "https://…" | null}

with the next page's URL also in a `Link: <…>; rel="next"` header (RFC 8288). A client
follows `next` until it is null.

Cursors are opaque: a tag naming the list and the sort key of the last item given out, as
JSON, base64url without padding. Services page by key (`station.db.Page`); lists small
enough to be read whole (channels, programmes, users) are paged here by the same rule
(`page_of`). A cursor from another list, or made up, is a 422 problem (`invalid-cursor`).
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field

from station.db import Page
from station.errors import Invalid

T = TypeVar("T")
Key = tuple[int | str, ...]


class BadCursor(Invalid):
    reason = "invalid-cursor"


def encode_cursor(tag: str, key: Sequence[int | str]) -> str:
    raw = f"{tag}:" + json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tag: str, types: Sequence[type]) -> Key:
    """The key a cursor holds, each part of the type given."""
    wrong = BadCursor("the cursor is not one this list gave out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, values = raw.partition(":")
        key = json.loads(values)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise wrong from exc
    if found != tag or not isinstance(key, list) or len(key) != len(types):
        raise wrong
    for value, kind in zip(key, types, strict=True):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise wrong
    return tuple(key)


def int_key(cursor: str, tag: str, size: int) -> tuple[int, ...]:
    """The key of a list sorted by numbers (ids, season and number)."""
    return tuple(int(k) for k in decode_cursor(cursor, tag, (int,) * size))


def next_cursor(tag: str, key: Sequence[int | str] | None) -> str | None:
    return encode_cursor(tag, key) if key is not None else None


def page_of(items: Sequence[T], key: Callable[[T], Any], after: Any, limit: int) -> Page[T]:
    """A page of a list read whole, in `key` order: the items after `after`."""
    rest = sorted(items, key=key)
    if after is not None:
        rest = [i for i in rest if key(i) > after]
    more = len(rest) > limit
    return Page(rest[:limit], key(rest[limit - 1]) if more else None)


class Paged(BaseModel, Generic[T]):
    """A page of a list. Follow `next` (or pass `next_cursor` as `?cursor=`) until it is
    null; the same URL is in the `Link` header with rel="next"."""

    items: list[T]
    limit: int = Field(description="the most items a page holds: the `limit` asked for")
    next_cursor: str | None = Field(
        description="pass as ?cursor= (with the same other parameters) for the next page; "
        "null on the last page"
    )
    next: str | None = Field(description="the next page's URL; null on the last page")


Cursor = Annotated[
    str | None,
    Query(max_length=500, description="from the previous page's `next_cursor`"),
]
P = TypeVar("P", bound=Paged[Any])


class Pages:
    """One list's paging for one request: the cursor and limit asked for, and the answer
    (`Paged` body and Link header). `tag` names the list in its cursors."""

    def __init__(
        self, request: Request, response: Response, tag: str, cursor: str | None, limit: int
    ) -> None:
        self.request, self.response = request, response
        self.tag, self.cursor, self.limit = tag, cursor, limit

    def after(self, types: Sequence[type] = (int,)) -> Key | None:
        """The sort key of the last item of the page before; None for the first page."""
        return decode_cursor(self.cursor, self.tag, types) if self.cursor else None

    def after_ints(self, size: int) -> tuple[int, ...] | None:
        return int_key(self.cursor, self.tag, size) if self.cursor else None

    def whole(
        self, items: Sequence[T], key: Callable[[T], Key], types: Sequence[type] = (int,)
    ) -> Page[T]:
        """The page of a list read whole, in `key` order."""
        return page_of(items, key, self.after(types), self.limit)

    def answer(self, model: type[P], page: Page[T], convert: Callable[[T], Any]) -> P:
        """The page's body, each item converted, with its next link (also as Link)."""
        return model(items=[convert(i) for i in page.items], **self.about(page))

    def about(self, page: Page[Any]) -> dict[str, Any]:
        """The page's `limit`, `next_cursor` and `next`; sets the Link header."""
        cursor = next_cursor(self.tag, page.next_key)
        link = None
        if cursor is not None:
            query = self.request.query_params.multi_items()
            params = [(k, v) for k, v in query if k != "cursor"]
            base = self.request.app.state.services.settings.base_url
            link = f"{base}{self.request.url.path}?{urlencode([*params, ('cursor', cursor)])}"
            self.response.headers["Link"] = f'<{link}>; rel="next"'
        return {"limit": self.limit, "next_cursor": cursor, "next": link}


def paged(tag: str, default: int, most: int = 100) -> Any:
    """`Depends` for a list's `Pages`: ?cursor= and ?limit= (`default` when not given, at
    most `most`)."""

    def pages(
        request: Request,
        response: Response,
        cursor: Cursor = None,
        limit: Annotated[
            int, Query(ge=1, le=most, description=f"items per page (at most {most})")
        ] = default,
    ) -> Pages:
        return Pages(request, response, tag, cursor, limit)

    return Depends(pages)
