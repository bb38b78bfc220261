"""Liquidsoap as the second radio engine: the .liq script it runs, the client for its
telnet/socket server, and the process that hosts it.

Written against Liquidsoap 2.1 (Debian's 2.1.3). The script and the reply parsing are pure
functions; `LiquidsoapClient` and `LiquidsoapProcess` are the thin I/O shell around them.

What 2.1.3 taught us, and the code relies on:

- Replies end with a line `END`; a few lines inside a reply end in `\\n`, the rest in `\\r\\n`.
- `request.metadata` prints `key="value"` lines with JSON-style escapes (`\\"`, `\\\\`, `\\n`,
  `\\uXXXX`); UTF-8 letters are printed as they are.
- The `annotate:` protocol reads the same escapes back, so a title survives the round trip.
- `var.set` splits its argument on `=` without trimming: `var.set name = 1.0` is refused with
  "Syntax error or variable not found.", while `var.set name=1.0` works. The variables are the
  script's `interactive.float/int/bool/string` ones.
- The server drops a client after `settings.server.timeout` seconds of silence (30 by
  default); the engine holds one connection for hours, so the script turns that off.
- `"#{...}"` inside any string literal is interpolated, and escapes do not prevent it; the
  renderer splits such literals into a concatenation.
- A request that cannot be resolved or decoded is dropped by the queue without a word on the
  server ("Fetch failed: retry." in the log); `request.metadata` then answers
  "No such request.", as it does for a request that has finished.
- `cross(override_duration=...)` reads the overlap from the ending track's metadata; the
  transition function sees that metadata as `a.metadata`. A request cued in at or past its
  end (`cue_cut`) makes the next track end early: cue points must lie inside the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from station.errors import StationError
from streamer.outputs import IcecastOutput

log = logging.getLogger(__name__)

#: Metadata key `amplify` reads a per-request gain from ("-3.5 dB", or a linear "0.7").
AMPLIFY_KEY = "liq_amplify"
#: Metadata keys `cue_cut` reads (seconds from the file's start), with `track_cues`.
CUE_IN_KEY = "liq_cue_in"
CUE_OUT_KEY = "liq_cue_out"
#: How long (seconds) a track's end overlaps the next one's start, with `track_cues`.
CROSS_KEY = "liq_cross_duration"
#: The metadata key the track hook reports back as `TrackChange.item`.
ITEM_KEY = "diaspor_item"
#: Prefix of the line the script prints on stdout when a scheduled track starts.
TRACK_MARKER = "diaspor.track "
#: The interactive variable (a linear factor) applied after the fallback, to everything aired.
MASTER_GAIN_VAR = "master_gain"

_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_META_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_META_LINE = re.compile(r'^([^="\r\n]+)="((?:[^"\\]|\\.)*)"', re.MULTILINE | re.DOTALL)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.DOTALL)
_UPTIME = re.compile(r"(\d+)d\s+(\d+)h\s+(\d+)m\s+(\d+)s")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r"}
_SIMPLE_ESCAPES |= {"b": "\b", "f": "\f"}
_LITERAL_CONTROL = "\\x%02x"  # how a .liq string literal spells a control character
_ANNOTATE_CONTROL = "\\u%04x"  # how the annotate: protocol reads one
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


class LiquidsoapError(StationError):
    """Liquidsoap refused a command, answered something unexpected, or could not be run."""

    reason = "liquidsoap-error"

    def __init__(self, message: str, *, command: str | None = None, reply: str | None = None):
        super().__init__(message)
        self.command = command
        self.reply = reply


# --- configuration ---------------------------------------------------------------------------

FileCodec = Literal["wav", "mp3", "aac"]


@dataclass(frozen=True, slots=True)
class FileOutput:
    """The air signal written to a file: for tests and for rendering a programme offline."""

    path: Path
    codec: FileCodec = "wav"
    bitrate_kbps: int = 128
    # Keep what is there when Liquidsoap (re)starts; for mp3/aac, whose frames concatenate.
    append: bool = False


Output = IcecastOutput | FileOutput


@dataclass(frozen=True, slots=True)
class LiquidsoapConfig:
    """Everything the generated script depends on.

    The control server is telnet on `host:port` unless `socket_path` is given, in which case
    it is a unix socket there (permissions 0600) and no TCP port is opened.

    `track_cues` is for the timeline engine (playout/liquidsoap_engine.py): each request then
    carries its own cue points (`CUE_IN_KEY`, `CUE_OUT_KEY`) and the length of the overlap at
    its end (`CROSS_KEY`, `crossfade_seconds` when absent; 0 is a butt splice).
    """

    outputs: tuple[Output, ...]
    port: int = 1234
    host: str = "127.0.0.1"
    socket_path: Path | None = None
    queue_id: str = "schedule"
    crossfade_seconds: float = 3.0
    safety_file: Path | None = None
    log_file: Path | None = None
    samplerate: int = 44100
    master_gain: float = 1.0
    # Liquidsoap refuses to start as root unless told; containers often run as root.
    allow_root: bool = False
    track_cues: bool = False

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.queue_id):
            raise ValueError(f"queue id {self.queue_id!r}: use letters, digits, _ . -")
        if not 0 < self.port < 65536:
            raise ValueError(f"telnet port {self.port} is out of range")
        if not (math.isfinite(self.crossfade_seconds) and self.crossfade_seconds >= 0):
            raise ValueError(f"crossfade of {self.crossfade_seconds} s: must be >= 0")
        if not (math.isfinite(self.master_gain) and self.master_gain >= 0):
            raise ValueError(f"master gain {self.master_gain}: must be >= 0")
        if self.samplerate <= 0:
            raise ValueError(f"sample rate {self.samplerate}: must be positive")


# --- pure: the script ------------------------------------------------------------------------


def _escape(value: str, control: str) -> str:
    """Backslash-escape quotes, backslashes and control characters (`control` % code)."""
    out: list[str] = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(control % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def liq_string(value: str) -> str:
    """A Liquidsoap string literal holding exactly `value` (quotes, backslashes, `#{`)."""

    def quote(s: str) -> str:
        return '"' + _escape(s, _LITERAL_CONTROL) + '"'

    pieces = value.split("#{")
    if len(pieces) == 1:
        return quote(value)
    # "#{" starts an interpolation in every literal: keep "#" and "{" in separate literals.
    parts = [p + "#" for p in pieces[:-1]] + [pieces[-1]]
    parts = [parts[0]] + ["{" + p for p in parts[1:]]
    return "(" + " ^ ".join(quote(p) for p in parts) + ")"


def _liq_float(x: float) -> str:
    return f"{x:.3f}"


def _file_name(path: Path) -> str:
    # output.file expands strftime conversions (%d, %H, ...) and $(metadata) in its file name.
    text = str(path)
    if "$(" in text:
        raise ValueError(f"output file {text!r}: '$(' would be read as a metadata reference")
    return text.replace("%", "%%")


def _encoder(codec: str, bitrate_kbps: int) -> str:
    if codec == "mp3":
        return f"%mp3(bitrate={bitrate_kbps})"
    if codec == "aac":
        # No fdkaac in Debian's build; ffmpeg's native AAC encoder, as ADTS frames.
        return f'%ffmpeg(format="adts", %audio(codec="aac", b="{bitrate_kbps}k"))'
    if codec == "wav":
        return "%wav"
    raise ValueError(f"unknown codec {codec!r}")


def output_id(index: int) -> str:
    """The id of the script's `index`-th output (`<id>.skip` and friends on the server)."""
    return f"out{index}"


def _render_output(index: int, out: Output, source: str) -> str:
    oid = liq_string(output_id(index))
    if isinstance(out, FileOutput):
        enc = _encoder(out.codec, out.bitrate_kbps)
        append = "append=true, " if out.append else ""
        return f"output.file(id={oid}, {append}{enc}, {liq_string(_file_name(out.path))}, {source})"
    args = [
        f"id={oid}",
        _encoder(out.codec, out.bitrate_kbps),
        f"format={liq_string('audio/mpeg' if out.codec == 'mp3' else 'audio/aac')}",
        f"host={liq_string(out.host)}",
        f"port={int(out.port)}",
        f"user={liq_string(out.user)}",
        f"password={liq_string(out.password)}",
        f"mount={liq_string(out.mount)}",
    ]
    for name in ("name", "genre", "url", "description"):
        value: str = getattr(out, name)
        if value:
            args.append(f"{name}={liq_string(value)}")
    args += ['encoding="UTF-8"', source]
    return "output.icecast(" + ", ".join(args) + ")"


def render_script(cfg: LiquidsoapConfig) -> str:
    """The .liq for one station.

    queue -> [cue points] -> per-request gain (`liq_amplify` metadata, e.g. "-4.20 dB") ->
    track hook -> crossfade -> fallback (queue, safety file, silence) -> master gain -> outputs.
    The gain sits before the crossfade so each track keeps its own gain while they overlap.
    The hook prints `TRACK_MARKER` + the track's metadata as JSON pairs on stdout when the
    track's first samples are taken, i.e. when its fade-in starts.
    """
    if not cfg.outputs:
        raise ValueError("a Liquidsoap station needs at least one output")
    lines = ["# Diaspor.FM radio chain for Liquidsoap 2.1.", ""]
    if cfg.allow_root:
        lines.append("settings.init.allow_root.set(true)")
    lines += [
        f"settings.frame.audio.samplerate.set({int(cfg.samplerate)})",
        "settings.log.stdout.set(true)",
        "settings.log.level.set(3)",
    ]
    if cfg.log_file is not None:
        lines += [
            "settings.log.file.set(true)",
            f"settings.log.file.path.set({liq_string(str(cfg.log_file))})",
        ]
    else:
        lines.append("settings.log.file.set(false)")
    if cfg.socket_path is not None:
        lines += [
            "settings.server.socket.set(true)",
            f"settings.server.socket.path.set({liq_string(str(cfg.socket_path))})",
            "settings.server.socket.permissions.set(384)  # 0o600",
        ]
    else:
        lines += [
            "settings.server.telnet.set(true)",
            f"settings.server.telnet.bind_addr.set({liq_string(cfg.host)})",
            f"settings.server.telnet.port.set({int(cfg.port)})",
        ]
    lines += [
        "# One long-lived control connection: never time it out.",
        "settings.server.timeout.set(-1.)",
        "",
        f"radio = request.queue(id={liq_string(cfg.queue_id)})",
    ]
    if cfg.track_cues:
        lines.append(
            f'radio = cue_cut(id="cue", cue_in_metadata={liq_string(CUE_IN_KEY)}, '
            f"cue_out_metadata={liq_string(CUE_OUT_KEY)}, radio)"
        )
    lines.append(f'radio = amplify(id="track_gain", override={liq_string(AMPLIFY_KEY)}, 1., radio)')
    # Hooked before the crossfade: in 2.1 a crossed track gives no track mark after it.
    marker = liq_string(TRACK_MARKER)
    lines.append(f"radio.on_track(fun (m) -> print({marker} ^ json.stringify(compact=true, m)))")
    if cfg.track_cues:
        lines += _track_cross(cfg)
    elif cfg.crossfade_seconds > 0:
        d = _liq_float(cfg.crossfade_seconds)
        lines.append(
            f'radio = crossfade(id="crossfade", duration={d}, fade_in={d}, fade_out={d}, radio)'
        )
    fallbacks = ["radio"]
    if cfg.safety_file is not None:
        fallbacks.append(f'single(id="safety", {liq_string(str(cfg.safety_file))})')
    fallbacks.append('blank(id="silence")')
    lines += [
        f'radio = fallback(id="radio", track_sensitive=false, [{", ".join(fallbacks)}])',
        f"master_gain = interactive.float({liq_string(MASTER_GAIN_VAR)}, "
        f"{_liq_float(cfg.master_gain)})",
        'radio = amplify(id="master", override=null(), master_gain, radio)',
        "",
    ]
    lines += [_render_output(i, out, "radio") for i, out in enumerate(cfg.outputs)]
    return "\n".join(lines) + "\n"


def _track_cross(cfg: LiquidsoapConfig) -> list[str]:
    """`cross` whose overlap is the ending track's own `CROSS_KEY` (read by `cross` itself
    through `override_duration`), with sine fades exactly as long as the overlap: a timeline
    item's audio runs its crossfade past its end, and the next item fades in over it."""
    d = _liq_float(cfg.crossfade_seconds)
    key = liq_string(CROSS_KEY)
    return [
        "def diaspor_transition(a, b)",
        f"  d = float_of_string(default={d}, a.metadata[{key}])",
        '  add(normalize=false, [fade.in(type="sin", duration=d, b.source), '
        'fade.out(type="sin", duration=d, a.source)])',
        "end",
        f'radio = cross(id="crossfade", duration={d}, override_duration={key}, '
        "diaspor_transition, radio)",
        'radio = metadata.deduplicate(id="dedup", radio)',
    ]


# --- pure: requests and replies --------------------------------------------------------------


def annotate(uri: str, /, **meta: str | int | float) -> str:
    """An `annotate:` request URI that gives `uri` the metadata `meta`.

    Annotations win over the file's own tags. Values are escaped the way Liquidsoap's
    annotate parser reads them back; UTF-8 letters (ə ğ ı ş ç ö ü) are kept as they are.
    """
    if "\n" in uri or "\r" in uri:
        raise ValueError(f"request URI {uri!r} contains a line break")
    if not meta:
        return uri
    pairs: list[str] = []
    for key, value in meta.items():
        if not _META_KEY.fullmatch(key):
            raise ValueError(f"metadata key {key!r}: use letters, digits, _ . -")
        pairs.append(f'{key}="{_escape(str(value), _ANNOTATE_CONTROL)}"')
    return "annotate:" + ",".join(pairs) + ":" + uri


def amplify_db(gain_db: float) -> str:
    """The `liq_amplify` value for a loudness gain in dB (what `amplify`'s override reads)."""
    if not math.isfinite(gain_db):
        raise ValueError(f"gain {gain_db} dB is not a number")
    return f"{gain_db:.2f} dB"


def unescape(text: str) -> str:
    """Undo Liquidsoap's string escaping (JSON-style, plus `\\xNN`)."""

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "ux" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    out = _ESCAPE.sub(one, text)
    if any("\ud800" <= ch <= "\udfff" for ch in out):  # a \uXXXX surrogate pair
        out = out.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return out


def parse_metadata(reply: str) -> dict[str, str]:
    """`request.metadata` reply: `key="value"` per line, values escaped (may hold `\\n`)."""
    return {m.group(1).strip(): unescape(m.group(2)) for m in _META_LINE.finditer(reply)}


def parse_ids(reply: str) -> list[int]:
    """A reply listing request ids (`request.on_air`, `<queue>.queue`): space separated."""
    try:
        return [int(tok) for tok in reply.split()]
    except ValueError:
        raise LiquidsoapError(f"expected request ids, got {reply!r}", reply=reply) from None


def parse_uptime(reply: str) -> timedelta:
    m = _UPTIME.search(reply)
    if m is None:
        raise LiquidsoapError(f"unreadable uptime {reply!r}", command="uptime", reply=reply)
    d, h, mi, s = (int(g) for g in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def _format_var(value: float | int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be sent to Liquidsoap")
        return repr(value)
    if "=" in value or "\n" in value or "\r" in value:
        raise ValueError(f"{value!r}: var.set cannot carry '=' or line breaks")
    return value


@dataclass(frozen=True, slots=True)
class TrackChange:
    """A scheduled track went on air, as the script's `on_track` hook reported it."""

    rid: int
    on_air: datetime | None
    item: str | None
    title: str
    artist: str
    metadata: Mapping[str, str]


def parse_track_line(line: str) -> TrackChange | None:
    """The hook's stdout line, or None when `line` is something else Liquidsoap printed."""
    if not line.startswith(TRACK_MARKER):
        return None
    try:
        pairs = json.loads(line[len(TRACK_MARKER) :])
        meta = {str(k): str(v) for k, v in pairs}
        rid = int(meta["rid"])
    except (ValueError, TypeError, KeyError):
        return None
    on_air: datetime | None = None
    with contextlib.suppress(KeyError, ValueError, OverflowError):
        on_air = datetime.fromtimestamp(float(meta["on_air_timestamp"]), tz=UTC)
    return TrackChange(
        rid=rid,
        on_air=on_air,
        item=meta.get(ITEM_KEY),
        title=meta.get("title", ""),
        artist=meta.get("artist", ""),
        metadata=meta,
    )


def _check_id(kind: str, value: str) -> None:
    if not _ID.fullmatch(value):
        raise ValueError(f"{kind} {value!r}: use letters, digits, _ . -")


# --- shell: the client -----------------------------------------------------------------------


class LiquidsoapClient:
    """One connection to Liquidsoap's server (telnet TCP, or a unix socket).

    Commands are serialised by a lock, so concurrent callers never read each other's
    replies. A broken or timed-out connection is closed and re-opened by the next command;
    a command is never re-sent on its own (a repeated push would air twice).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        path: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        if (port is None) == (path is None):
            raise ValueError("give either a telnet port or a unix socket path")
        self.port = port
        self.host = host
        self.path = path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    @property
    def address(self) -> str:
        return str(self.path) if self.path is not None else f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        if self._writer is not None:
            return
        try:
            async with asyncio.timeout(self.timeout):
                if self.path is not None:
                    reader, writer = await asyncio.open_unix_connection(
                        str(self.path), limit=1 << 20
                    )
                else:
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, limit=1 << 20
                    )
        except (OSError, TimeoutError) as exc:
            raise LiquidsoapError(
                f"cannot reach the Liquidsoap server at {self.address}: {exc}"
            ) from exc
        self._reader, self._writer = reader, writer

    async def close(self) -> None:
        """Say goodbye (`quit`) and close; safe to call twice or after a failure."""
        async with self._lock:
            writer, reader = self._writer, self._reader
            if writer is None or reader is None:
                return
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    writer.write(b"quit\n")
                    await writer.drain()
                    await reader.read()  # "Bye!", then Liquidsoap closes its side
            await self._drop()

    async def _drop(self) -> None:
        writer = self._writer
        self._reader = self._writer = None
        if writer is None:
            return
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    async def __aenter__(self) -> LiquidsoapClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def command(self, cmd: str) -> str:
        """Send one command line; the reply's text before `END`. `ERROR: ...` raises."""
        if "\n" in cmd or "\r" in cmd:
            raise ValueError(f"a Liquidsoap command is one line: {cmd!r}")
        async with self._lock:
            await self.connect()
            assert self._reader is not None and self._writer is not None
            lines: list[str] = []
            try:
                async with asyncio.timeout(self.timeout):
                    self._writer.write(cmd.encode("utf-8") + b"\n")
                    await self._writer.drain()
                    while True:
                        raw = await self._reader.readline()
                        if not raw:
                            raise LiquidsoapError(
                                f"Liquidsoap at {self.address} closed the connection during "
                                f"{cmd!r}",
                                command=cmd,
                                reply="\n".join(lines),
                            )
                        line = raw.decode("utf-8", "replace").rstrip("\r\n")
                        if line == "END":
                            break
                        lines.append(line)
            except TimeoutError:
                await self._drop()
                raise LiquidsoapError(
                    f"no reply from Liquidsoap at {self.address} to {cmd!r} within "
                    f"{self.timeout} s",
                    command=cmd,
                    reply="\n".join(lines),
                ) from None
            except (OSError, LiquidsoapError) as exc:
                await self._drop()
                if isinstance(exc, LiquidsoapError):
                    raise
                raise LiquidsoapError(
                    f"lost the connection to Liquidsoap at {self.address} during {cmd!r}: {exc}",
                    command=cmd,
                ) from exc
        reply = "\n".join(lines)
        if reply.startswith("ERROR"):
            raise LiquidsoapError(
                f"Liquidsoap refused {cmd!r}: {reply.strip()}", command=cmd, reply=reply
            )
        return reply

    async def push(self, queue_id: str, uri: str) -> int:
        """Append a request to a `request.queue`; the new request id."""
        _check_id("queue id", queue_id)
        cmd = f"{queue_id}.push {uri}"
        reply = await self.command(cmd)
        try:
            return int(reply.strip())
        except ValueError:
            raise LiquidsoapError(
                f"push to {queue_id!r} was not accepted: {reply.strip()!r}",
                command=cmd,
                reply=reply,
            ) from None

    async def on_air(self) -> list[int]:
        """Ids of the requests on air now (two while a crossfade overlaps them)."""
        return parse_ids(await self.command("request.on_air"))

    async def metadata(self, rid: int) -> dict[str, str]:
        cmd = f"request.metadata {int(rid)}"
        reply = await self.command(cmd)
        if reply.strip() == "No such request.":
            raise LiquidsoapError(f"no request {rid} in Liquidsoap", command=cmd, reply=reply)
        return parse_metadata(reply)

    async def queue(self, queue_id: str) -> list[int]:
        """Ids waiting in a queue (not the one playing)."""
        _check_id("queue id", queue_id)
        return parse_ids(await self.command(f"{queue_id}.queue"))

    async def skip(self, source_id: str) -> None:
        """End the current track of a queue or an output now (`<id>.skip`)."""
        _check_id("source id", source_id)
        cmd = f"{source_id}.skip"
        reply = await self.command(cmd)
        if reply.strip() != "Done.":
            raise LiquidsoapError(f"{cmd!r} failed: {reply.strip()!r}", command=cmd, reply=reply)

    async def var_set(self, name: str, value: float | int | bool | str) -> None:
        """Set one of the script's `interactive.*` variables (e.g. `MASTER_GAIN_VAR`)."""
        _check_id("variable", name)
        cmd = f"var.set {name}={_format_var(value)}"
        reply = await self.command(cmd)
        if reply.strip() != f"Variable {name} set.":
            raise LiquidsoapError(
                f"cannot set variable {name!r}: {reply.strip()}", command=cmd, reply=reply
            )

    async def var_get(self, name: str) -> str:
        _check_id("variable", name)
        cmd = f"var.get {name}"
        reply = await self.command(cmd)
        if reply.strip() == "Variable not found.":
            raise LiquidsoapError(f"no variable {name!r} in Liquidsoap", command=cmd, reply=reply)
        return reply.strip()

    async def uptime(self) -> timedelta:
        return parse_uptime(await self.command("uptime"))

    async def version(self) -> str:
        """E.g. "Liquidsoap 2.1.3"."""
        return (await self.command("version")).strip()


# --- shell: the process ----------------------------------------------------------------------


class LiquidsoapProcess:
    """`liquidsoap <script>` as a child process, with a connected client.

    Every stdout/stderr line is logged at debug level; the track hook's lines become
    `TrackChange`s on `tracks` (bounded: the oldest is dropped when nobody reads).
    `stop()` always reaps the child: terminate, then kill after `stop_timeout`.
    """

    def __init__(
        self,
        cfg: LiquidsoapConfig,
        *,
        binary: str = "liquidsoap",
        script_path: Path | None = None,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        track_backlog: int = 256,
    ) -> None:
        self.cfg = cfg
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.tracks: asyncio.Queue[TrackChange] = asyncio.Queue(maxsize=track_backlog)
        self._script_path = script_path
        self._temp_dir: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._tail: deque[str] = deque(maxlen=40)
        self._client: LiquidsoapClient | None = None

    @property
    def client(self) -> LiquidsoapClient:
        if self._client is None:
            raise LiquidsoapError("Liquidsoap is not running")
        return self._client

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc is not None else None

    @property
    def script_path(self) -> Path | None:
        return self._script_path

    def recent_output(self) -> list[str]:
        """The last lines Liquidsoap printed, for error messages."""
        return list(self._tail)

    async def __aenter__(self) -> LiquidsoapProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> LiquidsoapClient:
        if self._proc is not None:
            raise LiquidsoapError("Liquidsoap is already started")
        script = render_script(self.cfg)
        if self._script_path is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix="diaspor-liquidsoap-"))
            self._script_path = self._temp_dir / "radio.liq"
        # The script holds the Icecast passwords: readable by us only.
        fd = os.open(self._script_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(script)
        if self.cfg.socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.cfg.socket_path.unlink()  # a stale socket from a crashed run
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.binary,
                str(self._script_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            self._remove_temp_dir()
            raise LiquidsoapError(f"cannot run {self.binary}: {exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(self._proc.stdout, "stdout")),
            asyncio.create_task(self._read(self._proc.stderr, "stderr")),
        ]
        log.info(
            "started liquidsoap",
            extra={"pid": self._proc.pid, "script": str(self._script_path)},
        )
        try:
            self._client = await self._wait_for_server()
        except BaseException:
            await self.stop()
            raise
        return self._client

    async def _wait_for_server(self) -> LiquidsoapClient:
        assert self._proc is not None
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout
        while True:
            if self._proc.returncode is not None:
                await asyncio.gather(*self._readers, return_exceptions=True)
                raise LiquidsoapError(
                    f"Liquidsoap exited with status {self._proc.returncode} before its "
                    f"server answered: " + " | ".join(self.recent_output()[-8:])
                )
            client = (
                LiquidsoapClient(path=cfg.socket_path)
                if cfg.socket_path is not None
                else LiquidsoapClient(port=cfg.port, host=cfg.host)
            )
            try:
                await client.connect()
                await client.version()
                return client
            except LiquidsoapError:
                await client.close()
            if loop.time() > deadline:
                raise LiquidsoapError(
                    f"Liquidsoap's server at {client.address} did not answer within "
                    f"{self.startup_timeout} s: " + " | ".join(self.recent_output()[-8:])
                )
            await asyncio.sleep(0.1)

    async def _read(self, stream: asyncio.StreamReader, name: str) -> None:
        pid = self._proc.pid if self._proc is not None else None
        while True:
            try:
                raw = await stream.readline()
            except ValueError:  # a line longer than the buffer: skip it
                continue
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            track = parse_track_line(line)
            if track is not None:
                self._publish(track)
                continue
            self._tail.append(line)
            log.debug("liquidsoap output", extra={"pid": pid, "stream": name, "line": line})

    def _publish(self, track: TrackChange) -> None:
        log.info(
            "liquidsoap track started",
            extra={"rid": track.rid, "item": track.item, "title": track.title},
        )
        if self.tracks.full():
            dropped = self.tracks.get_nowait()
            log.warning("track change not read in time, dropped", extra={"rid": dropped.rid})
        self.tracks.put_nowait(track)

    async def stop(self) -> int | None:
        """Close the client, end the process and reap it; its exit status."""
        proc = self._proc
        try:
            if self._client is not None:
                client, self._client = self._client, None
                await client.close()
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    async with asyncio.timeout(self.stop_timeout):
                        await proc.wait()
                except TimeoutError:
                    log.warning(
                        "liquidsoap did not stop in time, killing it",
                        extra={"pid": proc.pid, "timeout": self.stop_timeout},
                    )
        finally:
            if proc is not None:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
                readers, self._readers = self._readers, []
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2.0):
                        await asyncio.gather(*readers, return_exceptions=True)
                for task in readers:
                    task.cancel()
                log.info(
                    "liquidsoap stopped", extra={"pid": proc.pid, "returncode": proc.returncode}
                )
            self._remove_temp_dir()
        return proc.returncode if proc is not None else None

    def _remove_temp_dir(self) -> None:
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
            self._script_path = None
