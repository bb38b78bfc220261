"""The Liquidsoap script and its side of the contract: the .liq text a station runs, the
request annotations it reads and the track lines it prints. Pure: no process, no socket.

Kept apart from the client and the process so that what Liquidsoap is told to do can be read,
tested and benchmarked without running it. Written against Liquidsoap 2.1 (Debian's 2.1.3);
what 2.1.3 taught us, and this relies on:

- The `annotate:` protocol reads back the escapes `request.metadata` prints (JSON-style
  `\\"`, `\\\\`, `\\n`, `\\uXXXX`; UTF-8 letters as they are), so a title survives the
  round trip.
- The server drops a client after `settings.server.timeout` seconds of silence (30 by
  default); the engine holds one connection for hours, so the script turns that off.
- `"#{...}"` inside any string literal is interpolated, and escapes do not prevent it; the
  renderer splits such literals into a concatenation.
- `cross(override_duration=...)` reads the overlap from the ending track's metadata; the
  transition function sees that metadata as `a.metadata`. A request cued in at or past its
  end (`cue_cut`) makes the next track end early: cue points must lie inside the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from streamer.outputs import LAME_QUALITY, IcecastOutput, aac_options

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
_LITERAL_CONTROL = "\\x%02x"  # how a .liq string literal spells a control character
_ANNOTATE_CONTROL = "\\u%04x"  # how the annotate: protocol reads one
_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def check_id(kind: str, value: str) -> None:
    """Ids go into the script and into command lines unquoted: only what Liquidsoap reads
    as one word."""
    if not _ID.fullmatch(value):
        raise ValueError(f"{kind} {value!r}: use letters, digits, _ . -")


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
        check_id("queue id", self.queue_id)
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


def encoder_format(codec: str, bitrate_kbps: int) -> str:
    """The Liquidsoap encoder (`%mp3(...)`, `%ffmpeg(...)`, `%wav`) for a codec."""
    # The same encoding as the ffmpeg engine's (streamer/outputs.py says why).
    if codec == "mp3":
        return f"%mp3(bitrate={bitrate_kbps}, internal_quality={LAME_QUALITY})"
    if codec == "aac":
        # No fdkaac in Debian's build; ffmpeg's native AAC encoder, as ADTS frames.
        pairs = aac_options(bitrate_kbps)
        options = "".join(f", {name}={liq_string(value)}" for name, value in pairs)
        return f'%ffmpeg(format="adts", %audio(codec="aac", b="{bitrate_kbps}k"{options}))'
    if codec == "wav":
        return "%wav"
    raise ValueError(f"unknown codec {codec!r}")


def output_id(index: int) -> str:
    """The id of the script's `index`-th output (`<id>.skip` and friends on the server)."""
    return f"out{index}"


def _render_output(index: int, out: Output, source: str) -> str:
    oid = liq_string(output_id(index))
    if isinstance(out, FileOutput):
        enc = encoder_format(out.codec, out.bitrate_kbps)
        append = "append=true, " if out.append else ""
        return f"output.file(id={oid}, {append}{enc}, {liq_string(_file_name(out.path))}, {source})"
    args = [
        f"id={oid}",
        encoder_format(out.codec, out.bitrate_kbps),
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


# --- pure: requests ---------------------------------------------------------------------------


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


# --- pure: the track hook's lines -------------------------------------------------------------


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
