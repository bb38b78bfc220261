"""Every list of the API pages one way: `?limit=` and `?cursor=`, a body of `items`, `limit`,
`next_cursor` and `next`, and the same next URL in a `Link` header. A client that follows
`next` from `limit=1` gets every item once, in the list's order, public and editor lists
alike. The lists are found in the OpenAPI document, so a new list is walked too (and a
list answering a bare array fails)."""

from __future__ import annotations

from typing import Any

import httpx

from accounts.tokens import create_key
from tests.schedule_support import Desk, build_radio_week

PAGE_FIELDS = {"items", "limit", "next_cursor", "next"}


def paged_lists(spec: dict[str, Any]) -> list[str]:
    """The path of every GET answering a page; none may answer a bare JSON array."""
    schemas = spec["components"]["schemas"]
    out = []
    for path, methods in spec["paths"].items():
        op = methods.get("get")
        if op is None:
            continue
        schema = op["responses"]["200"].get("content", {}).get("application/json", {})
        schema = schema.get("schema", {})
        assert schema.get("type") != "array", f"{path} answers a bare array, not a page"
        ref = schema.get("$ref", "").rsplit("/", 1)[-1]
        if ref and set(schemas[ref].get("properties", {})) >= PAGE_FIELDS:
            assert set(schemas[ref]["required"]) >= PAGE_FIELDS, ref
            out.append(path)
    return out


def walk(client: httpx.Client, path: str, base: str) -> tuple[list[Any], int]:
    """Every item of a list, one per page, following `next`; and how many pages."""
    items: list[Any] = []
    r = client.get(path, params={"limit": 1})
    pages = 0
    while True:
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        pages += 1
        assert body["limit"] == 1 and len(body["items"]) <= 1
        items += body["items"]
        if body["next"] is None:
            assert body["next_cursor"] is None and "link" not in r.headers
            return items, pages
        assert body["next"].startswith(f"{base}{path}?") and "limit=1" in body["next"]
        assert r.headers["link"] == f'<{body["next"]}>; rel="next"'
        assert pages < 200, path
        r = client.get(body["next"].removeprefix(base))  # the station's public URL, here


def test_every_list_is_walked_to_its_end_by_following_next(desk: Desk) -> None:
    week = build_radio_week(desk)
    st = desk.station
    st.users.create("elvin", "Elvin", "presenter", "presenter-parol-Ç3m5")
    st.users.create("aysel", "Aysel", "editor", "editor-parol-Ç3m5x")
    _, token = create_key(st.db, desk.clock, "pages", "admin")
    create_key(st.db, desk.clock, "encoder", "editor")
    desk.post("programmes", {"slug": "axsam-xeberleri", "titles": {"az": "Axşam xəbərləri"}})
    tv = {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}}
    desk.post("channels", tv)
    admin = {"Authorization": f"Bearer {token}"}
    spec = desk.client.get("/openapi.json").json()
    lists = paged_lists(spec)
    assert "/api/v1/channels" in lists and "/api/v1/manage/audit" in lists
    assert len(lists) >= 14
    base = st.settings.base_url
    walked = 0
    for template in lists:
        path = template.replace("{slug}", week["programme"]["slug"])
        whole = desk.client.get(path, params={"limit": 100}, headers=admin)
        assert whole.status_code == 200, (path, whole.text)
        everything = whole.json()["items"]
        with httpx.Client(base_url=desk.client.base_url, headers=admin, timeout=30) as client:
            items, pages = walk(client, path, base)
        assert items == everything, path  # each once, in the list's order
        assert pages == max(1, len(everything)), path
        walked += len(everything) > 1
    assert walked >= 8  # most lists had more than one page to follow


def test_a_cursor_of_one_list_is_refused_by_another(desk: Desk) -> None:
    build_radio_week(desk)
    playlists = desk.client.get("/api/v1/manage/playlists", params={"limit": 1}).json()
    cursor = playlists["next_cursor"]
    assert cursor
    r = desk.client.get("/api/v1/manage/clocks", params={"cursor": cursor})
    assert r.status_code == 422 and r.json()["reason"] == "invalid-cursor"
    assert r.json()["type"].endswith("/problems/invalid-cursor")
