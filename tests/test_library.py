"""The library service on its own: what it reads from files and how it files them."""

from __future__ import annotations

from pathlib import Path

from diaspor.compose import Station
from media.library import IngestOptions
from tests.support import make_media, run, tone


def test_an_mp3_with_embedded_cover_art_gets_that_artwork(station: Station, tmp_path: Path) -> None:
    ff = station.tools.ffmpeg
    song = tone(ff, tmp_path / "song.mp3", seconds=4, tags={"title": "Ayrılıq"})
    cover = make_media(
        ff,
        tmp_path / "cover.png",
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=300x300:d=1",
        "-frames:v",
        "1",
    )
    with_cover = make_media(
        ff,
        tmp_path / "with-cover.mp3",
        "-i",
        str(song),
        "-i",
        str(cover),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "copy",
        "-c:v",
        "mjpeg",
        "-disposition:v",
        "attached_pic",
        "-id3v2_version",
        "3",
    )
    res = run(station.library.ingest(with_cover, options=IngestOptions(kind="music")))
    assert res.item.video_codec is None  # a cover is not a video
    run(station.worker().drain())
    item = station.library.get(res.item.id)
    assert item.status == "ready" and item.artwork_key == f"artwork/{item.sha256}.jpg"
    with station.storage.open(item.artwork_key) as fh:
        assert fh.read(3) == b"\xff\xd8\xff"


def test_a_plain_tone_has_no_artwork_and_kinds_are_guessed_from_the_file(
    station: Station, tmp_path: Path
) -> None:
    ff = station.tools.ffmpeg
    short = run(station.library.ingest(tone(ff, tmp_path / "id.mp3", seconds=5)))
    long = run(station.library.ingest(tone(ff, tmp_path / "song.mp3", seconds=40, freq=500)))
    news = run(
        station.library.ingest(
            tone(ff, tmp_path / "news.mp3", seconds=5, freq=300, tags={"genre": "Speech"})
        )
    )
    assert (short.item.kind, long.item.kind, news.item.kind) == ("jingle", "music", "speech")
    run(station.worker().drain())
    assert station.library.get(short.item.id).artwork_key is None


def test_ingest_keeps_editor_titles_in_every_language(station: Station, media_dir: Path) -> None:
    titles = {"az": "Vətən uzaqda deyil", "en": "Homeland Is Not Far", "ru": "Родина недалеко"}
    res = run(
        station.library.ingest(
            media_dir / "episode.mp4",
            options=IngestOptions(titles=titles, subtitles={"az": media_dir / "episode.az.vtt"}),
        )
    )
    item = station.library.get(res.item.id)
    assert item.titles == titles
    assert [s.lang for s in item.subtitles] == ["az"]
    # Searching works in any of the languages.
    assert [m.id for m in station.library.list(q="родина").items] == [item.id]
    assert [m.id for m in station.library.list(q="homeland").items] == [item.id]
