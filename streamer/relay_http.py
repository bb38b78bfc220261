"""HTTP as the relay's peers speak it: request heads, query strings, credentials, the
Ice-/icy- headers a source describes its stream with, and the response heads sent back.

Pure, so the quirks of each client (ffmpeg's `PUT`, BUTT's `SOURCE ... HTTP/1.0`, libshout's
`ICE/1.0` with `ice-password`, Shoutcast-era `icy-*` headers) are tested without a socket;
the mounts and the server only see what comes out of here.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from station.credentials import same_secret
from station.errors import StationError

SERVER_ID = "Diaspor relay"
# Stripped from what a source says before it is repeated to listeners; refused in mount names.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class RelayError(StationError):
    reason = "relay-error"


class BadRequest(RelayError):
    reason = "bad-request"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: str  # raw; how to decode it depends on the `charset` parameter
    version: str  # "HTTP/1.1", "HTTP/1.0", "ICE/1.0"
    headers: Mapping[str, str]  # names lower-cased


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_request_head(lines: Sequence[bytes]) -> Request:
    """The request line and header lines (CRLF or bare LF endings, blank line excluded)."""
    if not lines:
        raise BadRequest("empty request")
    parts = _text(lines[0]).strip().split()
    if len(parts) != 3:
        raise BadRequest(f"malformed request line {_text(lines[0])[:80]!r}")
    method, target, version = parts
    if not target.startswith("/"):
        raise BadRequest(f"request target must be a path, got {target[:80]!r}")
    raw_path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = _text(raw).partition(":")
        if not sep or not name.strip():
            raise BadRequest(f"malformed header line {_text(raw)[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return Request(method.upper(), unquote(raw_path), query, version.upper(), headers)


def query_params(query: str) -> dict[str, str]:
    """Query parameters decoded in the charset the request names (`charset=`), else UTF-8.

    icecast2 would fall back to the mount's charset; every mount of ours is UTF-8.
    """
    plain = parse_qs(query, keep_blank_values=True, encoding="latin-1")
    charset = plain.get("charset", ["UTF-8"])[-1] or "UTF-8"
    try:
        codecs.lookup(charset)
    except LookupError as e:
        raise BadRequest(f"unknown charset {charset!r}") from e
    decoded = parse_qs(query, keep_blank_values=True, encoding=charset, errors="replace")
    return {k: v[-1] for k, v in decoded.items()}


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = _text(raw).partition(":")
    return (user, password) if sep else None


def source_authorised(request: Request, password: str) -> bool:
    """User `source` with the source password; ICE/1.0 clients send `ice-password` instead."""
    creds = basic_credentials(request.headers)
    if creds is not None:
        return creds[0] == "source" and same_secret(creds[1], password)
    if request.version.startswith("ICE/") and "ice-password" in request.headers:
        return same_secret(request.headers["ice-password"], password)
    return False


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a source says about its stream, passed on to listeners and the status page."""

    content_type: str = "audio/mpeg"
    name: str = ""
    description: str = ""
    genre: str = ""
    url: str = ""
    public: bool = False
    bitrate: int | None = None  # kbit/s
    audio_info: str = ""  # ice-audio-info as sent, e.g. "ice-samplerate=44100;ice-bitrate=128"


def _clean(value: str) -> str:
    """A header value from a source, made safe to repeat in a listener's response."""
    return CONTROL_CHARACTERS.sub("", value).strip()


def _bitrate(headers: Mapping[str, str]) -> int | None:
    for key in ("ice-bitrate", "icy-br"):
        value = headers.get(key, "").split(",")[0].strip()
        if value.isdigit():
            return int(value)
    for item in headers.get("ice-audio-info", "").split(";"):
        key, _, value = item.partition("=")
        if key.strip().lower() in ("ice-bitrate", "bitrate") and value.strip().isdigit():
            return int(value.strip())
    return None


def stream_info_from_headers(
    headers: Mapping[str, str], defaults: StreamInfo | None = None
) -> StreamInfo:
    """Ice-* headers (ffmpeg, libshout) or the older icy-* ones (Shoutcast-era encoders).

    What the source leaves out comes from `defaults`. No Content-Type means MP3, as icecast2
    assumes for old sources.
    """
    base = defaults or StreamInfo()

    def pick(*keys: str, fallback: str) -> str:
        for key in keys:
            value = _clean(headers.get(key, ""))
            if value:
                return value
        return fallback

    public = pick("ice-public", "icy-pub", fallback="1" if base.public else "0")
    bitrate = _bitrate(headers)
    return StreamInfo(
        content_type=pick("content-type", fallback=base.content_type),
        name=pick("ice-name", "icy-name", fallback=base.name),
        description=pick("ice-description", "icy-description", fallback=base.description),
        genre=pick("ice-genre", "icy-genre", fallback=base.genre),
        url=pick("ice-url", "icy-url", fallback=base.url),
        public=public.lower() in ("1", "yes", "true"),
        bitrate=bitrate if bitrate is not None else base.bitrate,
        audio_info=pick("ice-audio-info", fallback=base.audio_info),
    )


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Authentication Required",
    403: "Forbidden",
    404: "File Not Found",
    405: "Method Not Allowed",
}
_NO_CACHE = (
    ("Cache-Control", "no-cache, no-store"),
    ("Expires", "Mon, 26 Jul 1997 05:00:00 GMT"),
    ("Pragma", "no-cache"),
    ("Access-Control-Allow-Origin", "*"),
)


def http_response(
    status: int,
    body: bytes = b"",
    content_type: str = "text/plain; charset=utf-8",
    headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A complete HTTP/1.0 response, headed as icecast2 heads its own."""
    lines = [
        f"HTTP/1.0 {status} {_REASONS.get(status, 'Error')}",
        f"Server: {SERVER_ID}",
        "Connection: Close",
        f"Content-Type: {content_type}",
        *(f"{k}: {v}" for k, v in headers),
        *(f"{k}: {v}" for k, v in _NO_CACHE),
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def authentication_required() -> bytes:
    """icecast2's 401, the same for a refused source and a refused admin request."""
    return http_response(
        401,
        b"You need to authenticate\r\n",
        headers=[("WWW-Authenticate", 'Basic realm="Icecast2 Server"')],
    )


def listener_response_head(info: StreamInfo, metaint: int | None) -> bytes:
    """The head a listener gets before the audio; icy-* lines only for what is known."""
    lines = [
        "HTTP/1.0 200 OK",
        f"Server: {SERVER_ID}",
        "Connection: Close",
        f"Content-Type: {info.content_type}",
        *(f"{k}: {v}" for k, v in _NO_CACHE),
    ]
    if info.bitrate is not None:
        lines.append(f"icy-br:{info.bitrate}")
    if info.audio_info:
        lines.append(f"ice-audio-info: {info.audio_info}")
    for key, value in (
        ("icy-description", info.description),
        ("icy-genre", info.genre),
        ("icy-name", info.name),
    ):
        if value:
            lines.append(f"{key}:{value}")
    lines.append(f"icy-pub:{1 if info.public else 0}")
    if info.url:
        lines.append(f"icy-url:{info.url}")
    if metaint is not None:
        lines += ["icy-metadata:1", f"icy-metaint:{metaint}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
