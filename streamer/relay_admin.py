"""The relay's admin answers: `/admin/metadata` (a mount's title) and `/status-json.xsl`,
in the shape icecast2 gives them (`status_json` says where they differ).

Apart from the server and the mounts because these are the answers tools and players parse
(the title updater, monitoring, `tests/test_icecast_conformance.py`): icecast2 is their
contract, and it is easier to hold to when they are read on their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

from station.credentials import same_secret
from streamer.relay_http import (
    SERVER_ID,
    BadRequest,
    Request,
    authentication_required,
    basic_credentials,
    http_response,
    query_params,
)
from streamer.relay_mount import Mount, MountStatus

log = logging.getLogger(__name__)

STATUS_PATH = "/status-json.xsl"
METADATA_PATH = "/admin/metadata"


def metadata_response(ok: bool, message: str) -> bytes:
    """icecast2's answer to an admin command, word for word."""
    body = (
        '<?xml version="1.0"?>\n<iceresponse><message>'
        f"{escape(message)}</message><return>{1 if ok else 0}</return></iceresponse>\n"
    )
    return http_response(200, body.encode("utf-8"), "text/xml; charset=utf-8")


def title_from_params(params: Mapping[str, str]) -> str | None:
    """`song`, or `artist - title` from the two halves (icecast2 accepts both forms)."""
    if "song" in params:
        return params["song"]
    halves = [params.get("artist", ""), params.get("title", "")]
    if not any(halves):
        return None
    return " - ".join(h for h in halves if h)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S%z")


def status_json(
    mounts: Sequence[MountStatus],
    *,
    base_url: str,
    admin: str,
    host: str,
    location: str,
    server_start: datetime,
) -> dict[str, Any]:
    """`/status-json.xsl` as icecast2 builds it, for the mounts that have a source.

    One difference, on purpose: `source` is always a list. icecast2 gives a single mount as
    an object and leaves the key out when there is none; readers of either should accept
    all three shapes.
    """
    sources = []
    for m in mounts:
        if not m.live:
            continue
        entry: dict[str, Any] = {
            "listenurl": f"{base_url}{m.mount}",
            "listeners": m.listeners,
            "listener_peak": m.listener_peak,
            "server_name": m.info.name or "Unspecified name",
            "server_description": m.info.description or "Unspecified description",
            "genre": m.info.genre or "various",
            "server_type": m.info.content_type,
            "server_url": m.info.url,
            "bitrate": m.info.bitrate,
            "title": m.title,
        }
        if m.info.audio_info:
            entry["audio_info"] = m.info.audio_info
        if m.stream_start is not None:
            entry["stream_start"] = format_datetime(m.stream_start)
            entry["stream_start_iso8601"] = _iso(m.stream_start)
        sources.append(entry)
    return {
        "icestats": {
            "admin": admin,
            "host": host,
            "location": location,
            "server_id": SERVER_ID,
            "server_start": format_datetime(server_start),
            "server_start_iso8601": _iso(server_start),
            "source": sources,
        }
    }


def status_response(document: dict[str, Any]) -> bytes:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return http_response(200, body, "application/json; charset=UTF-8")


def metadata_update(
    request: Request,
    client: str,
    *,
    accounts: Sequence[tuple[str, str]],
    mounts: Mapping[str, Mount],
    set_title: Callable[[str, str], None],
) -> bytes:
    """`/admin/metadata?mode=updinfo`: the answer, after `set_title` when it is allowed.

    `accounts` are the (user, password) pairs that may set a title: icecast2 takes the admin's
    and the source's. A mount waiting out its grace period still takes one.
    """
    creds = basic_credentials(request.headers)
    allowed = creds is not None and any(
        creds[0] == user and same_secret(creds[1], password) for user, password in accounts
    )
    if not allowed:
        log.warning("admin request refused: wrong credentials", extra={"client": client})
        return authentication_required()
    try:
        params = query_params(request.query)
    except BadRequest as e:
        return http_response(400, e.message.encode())
    mount = mounts.get(params.get("mount", ""))
    if mount is None or not mount.on_air:
        return http_response(400, b"Source does not exist")
    title = title_from_params(params)
    if params.get("mode") != "updinfo" or title is None:
        return metadata_response(False, "No such action")
    set_title(mount.name, title)
    return metadata_response(True, "Metadata update successful")
