"""Fixtures: generated media, a station on SQLite and on PostgreSQL, an S3 server, a live API."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from accounts.tokens import create_token
from diaspor import migrate
from diaspor.compose import Station, build_station
from media.binaries import Tools, find_tools
from station.db import Base, scratch_database
from station.settings import Settings
from tests.support import REQUIRE_ALL, free_port, make_media, tone

pytest_plugins = ["tests.schedule_support", "tests.console_support"]
PG_URL = os.environ.get("DIASPOR_TEST_DATABASE_URL", "")
AZ_TITLE = "Vətən uzaqda deyil — ğ ı ş ç ö ü ə"
AZ_ARTIST = "Aşıq Ələsgər"


@pytest.fixture(scope="session")
def tools() -> Tools:
    """The ffmpeg the station would use here (DIASPOR_FFMPEG_PATH / DIASPOR_FFPROBE_PATH apply:
    `DIASPOR_FFPROBE_PATH=` runs the whole suite the way a machine without ffprobe would)."""
    s = Settings()
    return find_tools(s.ffmpeg_path, s.ffprobe_path)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Path:
    """Small generated files, made once per run, with Azerbaijani tags."""
    d = tmp_path_factory.mktemp("media")
    ff = tools.ffmpeg
    tone(
        ff,
        d / "tone.mp3",
        seconds=8,
        lead=1.0,
        tail=1.5,
        volume=0.5,
        tags={"title": AZ_TITLE, "artist": AZ_ARTIST, "album": "Qarabağ", "language": "aze"},
    )
    tone(ff, d / "short.wav", seconds=3, volume=0.25, codec=("-c:a", "pcm_s16le"))
    make_media(
        ff,
        d / "episode.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=640x360:r=25:d=6",
        "-f",
        "lavfi",
        "-i",
        "sine=f=330:sample_rate=48000:d=6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "50",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-shortest",
        "-metadata",
        f"title={AZ_TITLE}",
        "-movflags",
        "+faststart",
    )
    (d / "episode.az.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nXoş gəlmisiniz!\n", encoding="utf-8"
    )
    (d / "episode.en.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nWelcome!\n", encoding="utf-8"
    )
    return d


# --- databases ----------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database on the test server, dropped at the end (or a skip, or in CI
    a failure, when there is no server to use)."""
    if not PG_URL:
        if REQUIRE_ALL:
            pytest.fail("DIASPOR_TEST_DATABASE_URL is required in CI")
        pytest.skip("PostgreSQL leg: set DIASPOR_TEST_DATABASE_URL to run it")
    with scratch_database(PG_URL, prefix) as url:
        yield url


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated once, dropped at the end."""
    with fresh_pg_database("diaspor_test") as url:
        migrate.upgrade(url)
        yield url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        c.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that touches the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        migrate.upgrade(url)
        return url
    url = str(request.getfixturevalue("pg_database"))
    _truncate(url)
    return url


# --- S3 -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server over real HTTP on a free port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[dict[str, Any]]:
    import boto3

    bucket = f"diaspor-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=bucket)
    yield {"client": client, "bucket": bucket, "endpoint": s3_endpoint}
    client.close()


# --- stations -----------------------------------------------------------------------------


def settings_for(tmp_path: Path, db_url: str, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, **extra)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def station(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Station]:
    st = build_station(settings_for(tmp_path, db_url), tools=tools)
    yield st
    st.close()


@pytest.fixture
def any_station(
    request: pytest.FixtureRequest, tmp_path: Path, db_url: str, tools: Tools, storage_kind: str
) -> Iterator[Station]:
    """A station on local storage, and one on the S3 server (5 MiB parts, a key prefix)."""
    extra: dict[str, Any] = {}
    if storage_kind == "s3":
        b = request.getfixturevalue("s3_bucket")
        extra = {
            "storage_backend": "s3",
            "s3_bucket": b["bucket"],
            "s3_endpoint_url": b["endpoint"],
            "s3_prefix": "station",
            "s3_part_size_mb": 5,
            "s3_access_key_id": "test",
            "s3_secret_access_key": "test",
        }
    st = build_station(settings_for(tmp_path, db_url, **extra), tools=tools)
    yield st
    st.close()


def env_for(settings: Settings) -> dict[str, str]:
    """The environment a `diaspor` subprocess needs to be the same station as `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_")}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None or name in ("cors_origins",):
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"DIASPOR_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, list) else str(value)
        )
    return env


@pytest.fixture
def editor_token(station: Station) -> str:
    return create_token(station.db, station.clock, "test editor", "editor")


# --- no hidden skips in CI ----------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With DIASPOR_TEST_REQUIRE_ALL=1 (CI) a skip is a failure, whatever raised it (a
    `pytest.skip` anywhere, a skip marker, an import that failed): CI runs every test."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"skipped, but every test must run in CI (DIASPOR_TEST_REQUIRE_ALL=1): {reason}"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first. Workers take a whole file at a time (`--dist loadfile`), so a
    long file begun last is a tail nobody shares. A file marked `runs(seconds=N)` says how
    long it runs on a quiet machine; files run longest first, unmarked ones after in their
    own order, and a test's place within its file is unchanged."""

    def seconds(item: pytest.Item) -> float:
        marks = item.iter_markers("runs")
        return max((float(m.kwargs["seconds"]) for m in marks), default=0.0)

    def file(item: pytest.Item) -> str:
        return item.nodeid.partition("::")[0]

    weight: dict[str, float] = {}
    order: dict[str, int] = {}
    for i, item in enumerate(items):
        weight[file(item)] = max(weight.get(file(item), 0.0), seconds(item))
        order.setdefault(file(item), i)
    items.sort(key=lambda item: (-weight[file(item)], order[file(item)]))
