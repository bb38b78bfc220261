"""The TV channel's playlist text: its media, subtitle and master playlists and their names,
written from the sequencer's window with media/hls.py's writers. Pure (text in memory, no
storage), so what players read is made in one place and tested without a sequencer.

One window feeds every rendition and every subtitle language, so all list the same numbers,
durations and date-times. A segment is named by its URI relative to the playlists' folder, so
local files, the API's /files/, nginx, S3 and a CDN serve them unchanged; a subtitle language
that a segment's package does not have is the empty subtitle segment for that long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from media import hls
from media.packaged import Rendition, Subtitle
from playout.tv_line import LineSegment

MASTER = "master.m3u8"
EMPTY_VTT = "empty.vtt"  # stands in for a subtitle language an item does not have


def playlist_name(rendition: str) -> str:
    return f"{rendition}.m3u8"


def subtitle_playlist_name(lang: str) -> str:
    return f"subs-{lang}.m3u8"


def master_playlist(renditions: Sequence[Rendition], subtitles: Sequence[Subtitle]) -> str:
    variants = [
        hls.Variant(
            playlist_name(r.name),
            r.bandwidth,
            r.average_bandwidth,
            r.codecs,
            r.width,
            r.height,
            r.frame_rate if r.kind == "video" else None,
        )
        for r in renditions
    ]
    tracks = [hls.SubtitleTrack(subtitle_playlist_name(s.lang), s.lang, s.name) for s in subtitles]
    return hls.master_playlist(variants, tracks)


class Playlists:
    """The media and subtitle playlists of a window, for playlists kept in `prefix`. A
    segment's lines are made once while it is in the window and kept, since every playlist
    is written again at every change of the window; `forget_before` drops those of segments
    that slid out."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._rel: dict[str, str] = {}  # a segment folder as seen from the playlists
        self._entries: dict[tuple[int, str], str] = {}  # (seq, playlist): its lines

    def all(
        self,
        window: Sequence[LineSegment],
        renditions: Iterable[Rendition],
        subtitles: Iterable[Subtitle],
        *,
        target_duration_s: int,
        media_sequence: int,
        discontinuity_sequence: int,
    ) -> Iterator[tuple[str, str]]:
        """Every playlist's name and text, each rendition's, then each subtitle language's:
        made one at a time, as the caller takes them."""
        head = hls.playlist_head(
            target_duration_s=target_duration_s,
            media_sequence=media_sequence,
            discontinuity_sequence=discontinuity_sequence,
        )
        for r in renditions:
            yield playlist_name(r.name), self.media(window, r, head)
        for s in subtitles:
            yield subtitle_playlist_name(s.lang), self.subtitle(window, s, head)

    def media(self, window: Iterable[LineSegment], rendition: Rendition, head: str) -> str:
        return head + "".join(self._entry(s, rendition.name, rendition.segment) for s in window)

    def subtitle(self, window: Iterable[LineSegment], sub: Subtitle, head: str) -> str:
        track = f"subs-{sub.lang}"
        return head + "".join(
            self._entry(s, track, sub.segment if sub.lang in s.langs else None) for s in window
        )

    def forget_before(self, seq: int) -> None:
        for key in [k for k in self._entries if k[0] < seq]:
            del self._entries[key]

    def _uri(self, source: str, name: str) -> str:
        rel = self._rel.get(source)
        if rel is None:
            rel = self._rel[source] = hls.relative_uri(self.prefix, source)
        return f"{rel}/{name}"

    def _entry(self, s: LineSegment, track: str, segment: Callable[[int], str] | None) -> str:
        """A segment's lines in one playlist, made once while it is in the window (`segment`
        names the file in its package; None: the empty subtitle stands in)."""
        key = (s.seq, track)
        text = self._entries.get(key)
        if text is None:
            uri = self._uri(s.source, segment(s.index)) if segment else EMPTY_VTT
            text = self._entries[key] = hls.segment_entry(
                hls.MediaSegment(uri, s.duration, s.pdt_ms, s.discontinuity)
            )
        return text
