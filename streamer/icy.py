"""ICY metadata: the titles Shoutcast/Icecast servers weave into a listener's byte stream.

A listener that asks with `Icy-MetaData: 1` gets `icy-metaint: N` in the response, then N audio
bytes, one metadata block, N audio bytes, and so on. A block is one length byte L followed by
L*16 bytes: `StreamTitle='...';` in UTF-8, padded with NULs; L = 0 means "nothing new".

A player reads every `Name='value';` in a block, so a quote in a title would end the title
and let the rest of it name fields of its own (`';StreamUrl='http://...';`). Every title this
station sends, into its own blocks, to icecast2's admin API or to Liquidsoap (which hands it
to icecast2), goes through `safe_title` first.

Everything here is pure (no sockets, no clock): the relay frames with `IcyWriter`, and tests
and players unframe with `IcyReader`, the classic ICY listener.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

ICY_METAINT = 8192
"""Audio bytes between two metadata blocks: a title can change only there, so at 128 kbit/s
a title lands within half a second of its byte (SHOUTcast's interval; icecast2's default is
16000, and deploy/icecast.xml sets 8192 on the station's mounts too). Players read it from the
`icy-metaint` header."""


def metaint_for(bitrate_kbps: int) -> int:
    """The interval for a mount of this bit rate: `ICY_METAINT`, or on a slower mount as many
    bytes as `ICY_METAINT` is at 128 kbit/s (4096 at 64 kbit/s), so that its titles land as
    close to their audio (half a second) and not twice as far."""
    return min(ICY_METAINT, max(512, ICY_METAINT * bitrate_kbps // 128))


MAX_METADATA = 255 * 16
NO_CHANGE = b"\x00"

_APOSTROPHE = "\u2019"  # ’, what broadcasters send for a quote inside a title
_FIELD = re.compile(r"(\w+)='(.*?)';(?=\w+='|\s*$)", re.DOTALL)
_WRAPPER = len("StreamTitle='';")


def safe_title(title: str) -> str:
    """`title` as it may be sent to listeners: each `'` as `’`, which ends no field, and each
    control character (NUL, the padding, and line breaks included) as a space."""
    return "".join(
        _APOSTROPHE if ch == "'" else " " if unicodedata.category(ch) == "Cc" else ch
        for ch in title
    )


def metadata_block(title: str) -> bytes:
    """The whole block for `title` (made safe), length byte included.

    A title too long for one block is cut on a character boundary.
    """
    raw = safe_title(title).encode("utf-8")
    room = MAX_METADATA - _WRAPPER
    if len(raw) > room:
        raw = raw[:room].decode("utf-8", "ignore").encode("utf-8")
    payload = b"StreamTitle='" + raw + b"';"
    blocks = -(-len(payload) // 16)
    return bytes([blocks]) + payload.ljust(blocks * 16, b"\x00")


def _decode(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        # Old Shoutcast sources send Latin-1; show something rather than nothing.
        return payload.decode("latin-1")


def parse_metadata(payload: bytes) -> dict[str, str]:
    """`StreamTitle='a';StreamUrl='b';` (NUL padding allowed) → {"StreamTitle": "a", ...}."""
    text = _decode(payload.rstrip(b"\x00"))
    return {m.group(1): m.group(2) for m in _FIELD.finditer(text)}


def parse_metadata_block(block: bytes) -> str | None:
    """The StreamTitle of a whole block (length byte first); None when it carries none."""
    if not block:
        raise ValueError("an ICY metadata block has at least its length byte")
    size = block[0] * 16
    if len(block) < 1 + size:
        raise ValueError(f"ICY metadata block says {size} bytes but has {len(block) - 1}")
    if size == 0:
        return None
    return parse_metadata(block[1 : 1 + size]).get("StreamTitle")


class IcyWriter:
    """One listener's framing state: where the next metadata block falls, and what it last got.

    A block is sent again only when the mount's block changed since this listener's last one
    (icecast2 behaves the same); otherwise the single zero byte.
    """

    __slots__ = ("_last", "_until_meta", "metaint")

    def __init__(self, metaint: int = ICY_METAINT) -> None:
        if metaint <= 0:
            raise ValueError("metaint must be positive")
        self.metaint = metaint
        self._until_meta = metaint
        self._last = NO_CHANGE

    def frame(self, audio: bytes, block: bytes) -> list[bytes]:
        """The pieces to send for `audio`, with `block` (the current title's) at boundaries."""
        if len(audio) < self._until_meta:
            self._until_meta -= len(audio)
            return [audio]
        pieces: list[bytes] = []
        view = memoryview(audio)
        pos = 0
        while len(audio) - pos >= self._until_meta:
            end = pos + self._until_meta
            pieces.append(bytes(view[pos:end]))
            if block is self._last or block == self._last:
                pieces.append(NO_CHANGE)
            else:
                pieces.append(block)
                self._last = block
            pos = end
            self._until_meta = self.metaint
        if pos < len(audio):
            pieces.append(bytes(view[pos:]))
            self._until_meta -= len(audio) - pos
        return pieces


@dataclass(frozen=True, slots=True)
class IcyChunk:
    audio: bytes
    titles: tuple[str, ...]


class IcyReader:
    """Splits what an ICY server sends into audio bytes and titles, however it is chunked.

    With `metaint=None` (the server sent no `icy-metaint`) everything is audio.
    """

    def __init__(self, metaint: int | None) -> None:
        if metaint is not None and metaint <= 0:
            raise ValueError("metaint must be positive")
        self.metaint = metaint
        self.titles: list[str] = []
        self.audio_bytes = 0
        self._until_meta = metaint or 0
        self._meta_left: int | None = None  # bytes of metadata still to come, when inside one
        self._meta = bytearray()

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> IcyReader:
        """A reader for a response whose (lower-cased) headers may carry `icy-metaint`."""
        value = headers.get("icy-metaint", "").strip()
        return cls(int(value) if value.isdigit() and int(value) > 0 else None)

    def feed(self, data: bytes) -> IcyChunk:
        if self.metaint is None:
            self.audio_bytes += len(data)
            return IcyChunk(data, ())
        audio = bytearray()
        titles: list[str] = []
        pos = 0
        while pos < len(data):
            if self._meta_left is None and self._until_meta > 0:
                take = min(self._until_meta, len(data) - pos)
                audio += data[pos : pos + take]
                self._until_meta -= take
                pos += take
            elif self._meta_left is None:
                self._meta_left = data[pos] * 16
                pos += 1
            else:
                take = min(self._meta_left, len(data) - pos)
                self._meta += data[pos : pos + take]
                self._meta_left -= take
                pos += take
            if self._meta_left == 0:
                if self._meta:
                    title = parse_metadata(bytes(self._meta)).get("StreamTitle")
                    if title is not None:
                        titles.append(title)
                self._meta.clear()
                self._meta_left = None
                self._until_meta = self.metaint
        self.audio_bytes += len(audio)
        self.titles += titles
        return IcyChunk(bytes(audio), tuple(titles))


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: dict[str, str]  # names lower-cased


def parse_response_head(head: bytes) -> ResponseHead:
    """An ICY/HTTP response head (`HTTP/1.0 200 OK` or Shoutcast's `ICY 200 OK`)."""
    text = head.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"not an HTTP or ICY status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return ResponseHead(int(parts[1]), parts[2] if len(parts) > 2 else "", headers)
