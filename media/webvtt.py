"""WebVTT: subtitle files read into cues and cut into one document per media segment, its
timestamps read and written, and the names subtitle renditions go by.

A subtitle rendition in HLS is segmented like the video, so each language is cut at the
media's segment boundaries; each piece carries an `X-TIMESTAMP-MAP` because its cue times are
the asset's while the segments beside it run on the MPEG-TS clock. The text of each cue is
kept as written: the cutting moves whole cues, never edits them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from media.errors import PackagingError

LANGUAGE_NAMES = {
    "az": "Azərbaycanca",
    "en": "English",
    "ru": "Русский",
    "tr": "Türkçe",
    "de": "Deutsch",
    "fr": "Français",
    "fa": "فارسی",
    "ka": "ქართული",
    "uk": "Українська",
    "ar": "العربية",
}


def language_name(lang: str) -> str:
    return LANGUAGE_NAMES.get(lang, lang)


_VTT_TIME = re.compile(r"^(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})$")


@dataclass(frozen=True, slots=True)
class Cue:
    start_ms: int
    end_ms: int
    block: str  # as written: optional identifier, timing line (with settings), payload


@dataclass(frozen=True, slots=True)
class WebVtt:
    preamble: tuple[str, ...]  # STYLE and REGION blocks, which must precede every cue
    cues: tuple[Cue, ...]


def vtt_time_ms(text: str) -> int | None:
    m = _VTT_TIME.match(text.strip())
    if not m:
        return None
    h, mi, s, ms = (int(g) if g else 0 for g in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + ms


def vtt_clock(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def parse_webvtt(text: str) -> WebVtt:
    """Blocks separated by blank lines; a block without a valid timing line is ignored, as a
    WebVTT parser would. NOTE blocks are dropped; cue text is kept byte for byte."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.startswith("WEBVTT"):
        raise PackagingError("a subtitle file does not start with 'WEBVTT'")
    blocks = [b.strip("\n") for b in re.split(r"\n[ \t]*\n", text)]
    preamble: list[str] = []
    cues: list[Cue] = []
    for block in blocks[1:]:
        if not block.strip():
            continue
        lines = block.split("\n")
        head = lines[0]
        if head.startswith("NOTE"):
            continue
        if not cues and (head.startswith("STYLE") or head.startswith("REGION")):
            preamble.append(block)
            continue
        timing = next((ln for ln in lines[:2] if "-->" in ln), None)
        if timing is None:
            continue
        start_text, _, rest = timing.partition("-->")
        parts = rest.split()
        start = vtt_time_ms(start_text)
        end = vtt_time_ms(parts[0]) if parts else None
        if start is None or end is None or end < start:
            continue
        cues.append(Cue(start, end, block))
    return WebVtt(tuple(preamble), tuple(cues))


def vtt_segments(vtt: WebVtt, segments_ms: Sequence[int], mpegts: int) -> list[str]:
    """One WebVTT document per media segment, holding every cue that shows during it (a cue
    across a boundary is in both; players drop the repeat). Cue times stay those of the asset;
    `X-TIMESTAMP-MAP` says that asset time 0 is MPEG-TS time `mpegts` (the first frame's PTS)."""
    header = f"WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:00:00:00.000\n"
    out: list[str] = []
    start = 0
    for dur in segments_ms:
        end = start + dur
        blocks = [*vtt.preamble]
        blocks += [c.block for c in vtt.cues if c.start_ms < end and c.end_ms > start]
        out.append(header + "".join(f"\n{b}\n" for b in blocks))
        start = end
    return out
