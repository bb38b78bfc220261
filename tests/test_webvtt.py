"""Subtitles read and cut at the media's segment boundaries."""

from __future__ import annotations

from media.webvtt import parse_webvtt, vtt_segments


def test_webvtt_pieces_keep_styles_and_drop_notes() -> None:
    doc = parse_webvtt(
        "\ufeffWEBVTT\r\n\r\nSTYLE\r\n::cue { color: yellow }\r\n\r\nNOTE a comment\r\n\r\n"
        "a\r\n00:01.000 --> 00:05.500 line:0\r\nBirinci\r\n\r\n"
        "00:00:05.500 --> 00:00:06.000\r\nİkinci\r\n\r\nbroken --> timing\r\nx\r\n"
    )
    assert [(c.start_ms, c.end_ms) for c in doc.cues] == [(1000, 5500), (5500, 6000)]
    pieces = vtt_segments(doc, [4000, 4000], mpegts=126000)
    assert all(
        p.startswith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n") for p in pieces
    )
    assert "::cue" in pieces[0] and "::cue" in pieces[1]
    assert "Birinci" in pieces[0] and "Birinci" in pieces[1] and "İkinci" in pieces[1]
    assert "İkinci" not in pieces[0] and "NOTE" not in pieces[0] + pieces[1]
    assert "a\n00:01.000 --> 00:05.500 line:0\nBirinci" in pieces[0]
