"""The tus 1.0.0 resumable upload protocol's headers: what the station speaks, how a
request's are read, and the one header every answer under /api/v1/uploads carries.

Pure functions and constants, plus `TusResumable`, an ASGI middleware, so that answers made
before a route runs (a refused credential, a problem) carry `Tus-Resumable` too, as the
protocol asks.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import format_datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from station.errors import Invalid

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
UPLOADS_PATH = "/api/v1/uploads"
# Headers a browser's tus client sends, and those it must be able to read back.
REQUEST_HEADERS = ("Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset")
EXPOSED_HEADERS = (
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
    "Diaspor-Media-Id",
    "Diaspor-Job-Id",
)


def parse_metadata(value: str | None) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (the value may be left
    out). Values are read as UTF-8 text."""
    out: dict[str, str] = {}
    for pair in (value or "").split(","):
        key, _, encoded = pair.strip().partition(" ")
        if not key:
            continue
        try:
            out[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Invalid(
                f"Upload-Metadata: the value of {key!r} is not base64-encoded UTF-8 text"
            ) from None
    return out


def http_date(t: datetime) -> str:
    """RFC 9110's date format, as `Upload-Expires` is sent."""
    return format_datetime(t, usegmt=True)


class TusResumable:
    """Adds `Tus-Resumable: 1.0.0` to every answer under /api/v1/uploads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(UPLOADS_PATH):
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"tus-resumable", TUS_VERSION.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_version)
