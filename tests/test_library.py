"""The library service on its own: what it reads from files and how it files them."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from diaspor.compose import Station, build_station
from jobs.queue import DONE, QUEUED, Job
from media.binaries import Tools
from media.errors import CorruptMedia, MediaError, StorageError, TruncatedMedia
from media.library import IngestOptions
from media.storage import LocalStorage, Storage
from station.clock import SimulatedClock
from tests.conftest import settings_for
from tests.support import child_processes, make_media, run, tone


@pytest.fixture(scope="module")
def with_cover(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Path:
    """An MP3 with a cover picture embedded, as music from a shop comes."""
    tmp_path = tmp_path_factory.mktemp("cover")
    ff = tools.ffmpeg
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
    return make_media(
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


def test_an_mp3_with_embedded_cover_art_gets_that_artwork(
    station: Station, with_cover: Path
) -> None:
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


def test_a_file_measured_at_import_gets_the_figures_its_analysis_job_gives(
    station: Station, with_cover: Path, tmp_path: Path
) -> None:
    """`diaspor media import` measures a file before storing it, in the decode that also
    checks its end; an upload is measured later by a job. Same audio, same figures."""
    again = make_media(  # the same frames under other tags: another file to the library
        station.tools.ffmpeg,
        tmp_path / "yenə.mp3",
        *("-i", str(with_cover), "-map", "0", "-c", "copy", "-metadata", "comment=yenə"),
    )
    queued = run(station.library.ingest(with_cover, options=IngestOptions(kind="music")))
    assert run(station.worker().drain()) == 1
    now = run(station.library.ingest(again, options=IngestOptions(kind="music"), analyse_now=True))
    assert now.created and now.job_id is None  # nothing left to do for a song
    assert run(station.worker().drain()) == 0

    by_job, at_import = station.library.get(queued.item.id), station.library.get(now.item.id)
    figures = (
        "status",
        "duration_ms",
        "loudness_lufs",
        "loudness_range_lu",
        "true_peak_dbtp",
        "cue_in_ms",
        "cue_out_ms",
    )
    assert [getattr(at_import, f) for f in figures] == [getattr(by_job, f) for f in figures]
    assert at_import.status == "ready" and at_import.loudness_lufs is not None
    assert at_import.artwork_key == f"artwork/{at_import.sha256}.jpg"
    with station.storage.open(at_import.artwork_key) as fh:
        assert fh.read(3) == b"\xff\xd8\xff"


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    """An MP3 missing 1.8 s of its 100 (within the 2 % a decode's length may
    differ from the header's: only the rule of the tail check tells), an MP4 (index in
    front) cut a third from its end, and an MP4 scrambled inside."""
    d = tmp_path_factory.mktemp("broken")
    song = make_media(
        tools.ffmpeg,
        d / "song.mp3",
        *("-f", "lavfi", "-i", "sine=f=440:sample_rate=8000:d=100", "-ac", "1", "-b:a", "16k"),
    )
    video = make_media(
        tools.ffmpeg,
        d / "video.mp4",
        *("-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=8", "-f", "lavfi", "-i", "sine=d=8"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-shortest"),
        *("-movflags", "+faststart"),
    )
    out = {".mp3": d / "yarımçıq.mp3", ".mp4": d / "yarımçıq.mp4"}
    out[".mp3"].write_bytes(song.read_bytes()[:-3600])  # 1.8 s of 16 kbit/s
    data = video.read_bytes()
    out[".mp4"].write_bytes(data[: len(data) * 2 // 3])
    data = bytearray(video.read_bytes())
    n = len(data)
    data[n // 4 : n * 3 // 4] = bytes(i % 251 for i in range(n * 3 // 4 - n // 4))
    out["damaged"] = d / "zədəli.mp4"
    out["damaged"].write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    ("kind", "refusal"),
    [(".mp3", TruncatedMedia), (".mp4", TruncatedMedia), ("damaged", CorruptMedia)],
)
def test_a_broken_file_measured_at_import_is_refused_and_nothing_is_stored(
    station: Station, cut_short: dict[str, Path], kind: str, refusal: type[MediaError]
) -> None:
    """The one decode gives the verdicts the tail check and the analysis job give, before
    anything is written (a truncated file is refused by an upload's tail check too)."""
    path = cut_short[kind]
    if refusal is TruncatedMedia:
        with pytest.raises(TruncatedMedia):
            run(station.library.ingest(path))
    with pytest.raises(refusal, match=path.name):
        run(station.library.ingest(path, analyse_now=True))
    assert list(station.storage.keys()) == [] and station.library.list().items == []
    staging = station.settings.staging_dir
    assert not staging.exists() or list(staging.iterdir()) == []


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


# --- analysis that fails: a verdict on the file, or a passing fault --------------------------

START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


class ArtworkWriteFailsOnce(LocalStorage):
    """A local storage whose first artwork write fails, as a bucket that blinks."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.refused: list[str] = []

    def put_file(self, key: str, src: Path, *, move: bool = False) -> None:
        if key.startswith("artwork/") and not self.refused:
            self.refused.append(key)
            raise StorageError(f"could not store {key}: the storage did not answer")
        super().put_file(key, src, move=move)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A local storage; a test may ask for a subclass (`indirect` parametrisation)."""
    kind: type[LocalStorage] = getattr(request, "param", LocalStorage)
    return kind(tmp_path / "storage")


@pytest.fixture
def clocked(
    tmp_path: Path, db_url: str, tools: Tools, clock: SimulatedClock, storage: Storage
) -> Iterator[Station]:
    """A station on a simulated clock (retries come when the test says), on `storage`."""
    st = build_station(settings_for(tmp_path, db_url), tools=tools, clock=clock, storage=storage)
    yield st
    st.close()


def job_of(station: Station, job_id: int | None) -> Job:
    assert job_id is not None
    job = station.queue.get(job_id)
    assert job is not None
    return job


@pytest.mark.parametrize("storage", [ArtworkWriteFailsOnce], indirect=True)
def test_an_artwork_write_that_fails_keeps_the_original_and_the_retry_finishes(
    clocked: Station, clock: SimulatedClock, with_cover: Path
) -> None:
    res = run(clocked.library.ingest(with_cover, options=IngestOptions(kind="music")))
    worker = clocked.worker()

    assert run(worker.drain()) == 1
    job = job_of(clocked, res.job_id)
    assert (job.status, job.attempts) == (QUEUED, 1)
    assert job.error is not None and "did not answer" in job.error
    item = clocked.library.get(res.item.id)
    assert item.status == "pending"  # nothing is wrong with the file
    assert item.error is not None and "did not answer" in item.error
    assert clocked.storage.exists(item.storage_key)

    clock.advance(5)  # the queue's first back-off
    assert run(worker.drain()) == 1
    job = job_of(clocked, res.job_id)
    assert (job.status, job.attempts) == (DONE, 2)
    item = clocked.library.get(res.item.id)
    assert (item.status, item.error) == ("ready", None)
    assert item.artwork_key is not None and clocked.storage.exists(item.artwork_key)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Path:
    """Half an hour of silence: seconds to analyse."""
    return make_media(
        tools.ffmpeg,
        tmp_path_factory.mktemp("night") / "gecə yayımı.flac",
        *("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "1800"),
    )


async def kill_the_analysis(station: Station) -> int:
    """Run the next job and SIGKILL its ffmpeg as soon as it is measuring (as the kernel's
    out-of-memory killer would); returns the pid it killed."""
    worker = station.worker()
    run_once = asyncio.create_task(worker.run_once())
    try:
        async with asyncio.timeout(30):
            while not (pids := child_processes("ebur128")):
                await asyncio.sleep(0.02)
        os.kill(pids[0], signal.SIGKILL)
    finally:
        await run_once
    return pids[0]


def test_an_analysis_whose_ffmpeg_is_killed_is_retried_and_the_original_stays(
    clocked: Station, clock: SimulatedClock, night: Path
) -> None:
    res = run(clocked.library.ingest(night))

    run(kill_the_analysis(clocked))
    job = job_of(clocked, res.job_id)
    assert (job.status, job.attempts) == (QUEUED, 1)
    assert job.error is not None and "signal 9" in job.error
    item = clocked.library.get(res.item.id)
    assert item.status == "pending"
    assert clocked.storage.exists(item.storage_key)

    clock.advance(5)
    assert run(clocked.worker().drain()) == 1
    assert job_of(clocked, res.job_id).status == DONE
    item = clocked.library.get(res.item.id)
    assert item.status == "ready" and item.duration_ms == 1_800_000


def test_an_analysis_that_outlasts_its_time_limit_is_stopped_and_retried_later(
    tmp_path: Path,
    db_url: str,
    tools: Tools,
    clock: SimulatedClock,
    storage: Storage,
    night: Path,
) -> None:
    # 0.1 ms per second of sound: half an hour gets 0.18 s, far less than it needs.
    hurried = settings_for(
        tmp_path, db_url, analysis_timeout_base_s=0, analysis_timeout_factor=1e-4
    )
    st = build_station(hurried, tools=tools, clock=clock, storage=storage)
    try:
        res = run(st.library.ingest(night))
        assert run(st.worker().drain()) == 1
        job = job_of(st, res.job_id)
        assert (job.status, job.attempts) == (QUEUED, 1)  # a passing fault, not a verdict
        assert job.error is not None and "took longer than 0.2 s" in job.error
        item = st.library.get(res.item.id)
        assert item.status == "pending" and storage.exists(item.storage_key)
        assert child_processes("ebur128") == []  # the ffmpeg was stopped, not left running
    finally:
        st.close()

    # The operator gives analysis its usual time (60 s + half the duration); the retry runs.
    st = build_station(settings_for(tmp_path, db_url), tools=tools, clock=clock, storage=storage)
    try:
        clock.advance(5)
        assert run(st.worker().drain()) == 1
        assert job_of(st, res.job_id).status == DONE
        assert st.library.get(res.item.id).status == "ready"
    finally:
        st.close()
