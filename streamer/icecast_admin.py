"""Icecast's admin API (icecast2 or the relay): a mount's now-playing title, its listeners,
and removing its source.

`/admin/metadata?mode=updinfo&song=...&charset=UTF-8` is the one call both servers answer the
same way. The title goes out as UTF-8 percent-encoding and `charset=UTF-8` says so, so the
Azerbaijani letters (ə ğ ı ş ç ö ü) arrive intact rather than read as Latin-1.
"""

from __future__ import annotations

import re

import httpx

from station.errors import StationError
from streamer.icy import safe_title

_SUCCESS = re.compile(r"<return>\s*1\s*</return>")
_MESSAGE = re.compile(r"<message>(.*?)</message>", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


class IcecastAdminError(StationError):
    reason = "icecast-admin"


def _says(body: str) -> str:
    """The server's own words, from icecast's XML answer or its HTML error page."""
    found = _MESSAGE.search(body)
    text = found.group(1) if found else _TAGS.sub(" ", body)
    return " ".join(text.split())[:200]


async def _admin(
    base_url: str,
    command: str,
    params: dict[str, str],
    user: str,
    password: str,
    *,
    doing: str,
    timeout: float,
    client: httpx.AsyncClient | None,
) -> None:
    """One admin command; IcecastAdminError with the server's reason unless it says done."""
    url = base_url.rstrip("/") + "/admin/" + command
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=timeout) as own:
                response = await own.get(url, params=params, auth=(user, password))
        else:
            response = await client.get(url, params=params, auth=(user, password), timeout=timeout)
    except httpx.HTTPError as e:
        raise IcecastAdminError(f"could not {doing} at {base_url}: {type(e).__name__}: {e}") from e
    if response.status_code == 401:
        raise IcecastAdminError(
            f"{base_url} refused the credentials of user {user!r} to {doing} (HTTP 401)"
        )
    if response.status_code != 200 or not _SUCCESS.search(response.text):
        raise IcecastAdminError(
            f"{base_url} did not {doing}: HTTP {response.status_code}, "
            f"{_says(response.text) or 'no reason given'}"
        )


async def update_title(
    base_url: str,
    mount: str,
    title: str,
    user: str,
    password: str,
    *,
    timeout: float = 5.0,
    client: httpx.AsyncClient | None = None,
) -> None:
    """Set `mount`'s title; raises IcecastAdminError with the server's reason when refused.

    `user` is the admin user, or `source` with the source password (icecast2 accepts both
    for a mount's metadata). Pass `client` to reuse connections between calls.
    """
    # icecast2 frames the song in `StreamTitle='...';` as it comes: a quote would end it.
    params = {"mount": mount, "mode": "updinfo", "song": safe_title(title), "charset": "UTF-8"}
    doing = f"set the title of {mount}"
    await _admin(
        base_url, "metadata", params, user, password, doing=doing, timeout=timeout, client=client
    )


async def kill_source(
    base_url: str, mount: str, user: str, password: str, *, timeout: float = 5.0
) -> None:
    """Disconnect `mount`'s source (`/admin/killsource`, admin credentials only); raises
    IcecastAdminError with the server's reason when refused."""
    doing = f"remove the source of {mount}"
    params = {"mount": mount}
    await _admin(
        base_url, "killsource", params, user, password, doing=doing, timeout=timeout, client=None
    )


async def listeners_on(
    base_url: str,
    mounts: set[str],
    *,
    timeout: float = 5.0,
    client: httpx.AsyncClient | None = None,
) -> int | None:
    """Listeners on these mounts, from the public `/status-json.xsl` (icecast2 and the relay
    both serve it); None when the server cannot be asked or carries none of the mounts."""
    found = await listeners_by_mount(base_url, timeout=timeout, client=client)
    counts = [n for mount, n in (found or {}).items() if mount in mounts]
    return sum(counts) if counts else None


async def listeners_by_mount(
    base_url: str, *, timeout: float = 5.0, client: httpx.AsyncClient | None = None
) -> dict[str, int] | None:
    """Listeners on each mount the server carries, from its `/status-json.xsl`; None when it
    cannot be asked."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout)
    try:
        r = await http.get(base_url.rstrip("/") + "/status-json.xsl")
        r.raise_for_status()
        sources = r.json().get("icestats", {}).get("source", [])
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    finally:
        if own:
            await http.aclose()
    if isinstance(sources, dict):  # icecast2 gives one source as an object, not a list
        sources = [sources]
    counts: dict[str, int] = {}
    for src in sources:
        if isinstance(src, dict):
            mount = httpx.URL(str(src.get("listenurl", ""))).path
            counts[mount] = counts.get(mount, 0) + int(src.get("listeners") or 0)
    return counts
