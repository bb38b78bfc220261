"""The audio and video containers the library accepts, and the input options that hold every
ffmpeg and ffprobe run over uploaded or stored media to them.

Some formats ffmpeg opens are not media but lists of other inputs: an HLS playlist, an
ffconcat script, an image sequence, a DASH manifest. Given such a file, ffmpeg follows it,
fetching URLs (with whatever credentials are written in them) or reading other local files.
Uploads are untrusted, so every input is opened with a demuxer allow-list (the containers
below, none of which refers to anything outside itself; or one forced demuxer where the file
is our own output) and a protocol allow-list: a local file, or, for an original read through a
pre-signed storage URL, HTTP(S) and the TCP and TLS under it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# File suffix -> the ffmpeg demuxer that reads it. An upload whose name ends otherwise is
# refused; any file is then opened only by one of these demuxers, whatever its suffix says.
SUFFIXES: Mapping[str, str] = {
    ".mp3": "mp3",
    ".aac": "aac",
    ".m4a": "mov",
    ".mp4": "mov",
    ".m4v": "mov",
    ".mov": "mov",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".flac": "flac",
    ".wav": "wav",
    ".aif": "aiff",
    ".aiff": "aiff",
    ".wma": "asf",
    ".mkv": "matroska",
    ".webm": "matroska",
    ".ts": "mpegts",
    ".mxf": "mxf",
    ".avi": "avi",
    ".mpg": "mpeg",
    ".mpeg": "mpeg",
}
DEMUXERS = tuple(sorted(set(SUFFIXES.values())))
# `pipe` for a live stream on stdin; HLS's `crypto` and the rest are never needed.
LOCAL_PROTOCOLS = ("file", "pipe")
URL_PROTOCOLS = ("http", "https", "tcp", "tls")


def input_args(source: str | Path, *, demuxer: str | None = None) -> list[str]:
    """The options of one ffmpeg or ffprobe input, ending with `-i source`.

    A source with `://` is a pre-signed URL; anything else is a local path (or `pipe:0`).
    `demuxer` forces one format, for files we wrote ourselves (MPEG-TS segments).
    """
    text = str(source)
    protocols = URL_PROTOCOLS if "://" in text else LOCAL_PROTOCOLS
    formats = ["-f", demuxer] if demuxer else ["-format_whitelist", ",".join(DEMUXERS)]
    return ["-protocol_whitelist", ",".join(protocols), *formats, "-i", text]
