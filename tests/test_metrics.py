"""What the station tells its operator: `/metrics` (Prometheus) on the API and on the own port
of `diaspor worker` (and playout: tests/test_faults_killed.py, test_follow.py,
test_tv_onair.py, test_radio_render.py), and the request log with its request ids."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from diaspor.compose import Station, build_station, run_background
from jobs.queue import ProgressReporter
from media.binaries import Tools
from station.metrics import Metrics
from station.supervisor import Health
from tests.conftest import env_for, settings_for
from tests.radio_support import Playout
from tests.support import (
    Samples,
    free_port,
    interrupt,
    metric,
    parse_metrics,
    run,
    scrape,
    serve_app,
    wait_until_healthy,
)

PLAYLIST = "hls/tv/diaspor-tv/180p.m3u8"
HEX_ID = re.compile(r"[0-9a-f]{32}")
parse, value = parse_metrics, metric


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)
    return got


# --- the API ---------------------------------------------------------------------------------


def test_the_api_times_each_request_under_its_route_template_replays_included(
    station: Station,
) -> None:
    text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n"
    station.storage.put_bytes(PLAYLIST, text.encode(), durable=False)
    app = create_app(station)
    with serve_app(app) as base, httpx.Client(base_url=base, timeout=10) as c:
        for slug in ("ayriliq-1", "ayriliq-2"):
            assert c.get(f"/api/v1/channels/{slug}").status_code == 404
        ids = [c.get(f"/files/{PLAYLIST}").headers["x-request-id"] for _ in range(2)]
        assert app.state.replays.replayed == 1  # the second came from the replay table
        assert c.get("/no/such/page").status_code == 404
        assert c.request("PROPFIND", "/api/v1/channels").status_code == 405
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        assert "/metrics" not in c.get("/openapi.json").json()["paths"]
    got = parse(r.text)
    count = "diaspor_http_request_duration_seconds_count"
    assert value(got, count, method="GET", route="/api/v1/channels/{slug}", status="404") == 2
    assert value(got, count, method="GET", route="/files/{key:path}", status="200") == 2
    assert value(got, count, method="GET", route="unmatched", status="404") == 1
    assert value(got, count, method="other", route="/api/v1/channels", status="405") == 1
    # Route templates, never the values a client put in the path.
    assert not any("ayriliq" in v or "no/such" in v for _, ls in got for _, v in ls)
    # Each answer has its own id, the replayed one too.
    assert all(HEX_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]


def test_a_request_id_given_is_echoed_a_bad_one_replaced_and_browsers_may_read_it(
    station: Station,
) -> None:
    with (
        serve_app(create_app(station)) as base,
        httpx.Client(base_url=base, timeout=10) as c,
    ):

        def rid(given: bytes | None = None) -> str:
            headers = {"X-Request-ID": given} if given is not None else {}
            return str(c.get("/health", headers=headers).headers["x-request-id"])

        assert rid(b"deploy-7f3a.1:2") == "deploy-7f3a.1:2"
        for bad in (b"has space", b"x" * 129, "ə-not-ascii".encode(), b"a;b", b""):
            new = rid(bad)
            assert HEX_ID.fullmatch(new), (bad, new)
        assert rid() != rid()
        site = {"Origin": "https://icma.example"}
        cross = c.get("/health", headers=site)
        assert "x-request-id" in cross.headers["access-control-expose-headers"].lower()
        preflight = c.options(
            "/api/v1/channels",
            headers={**site, "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status_code == 200 and HEX_ID.fullmatch(preflight.headers["x-request-id"])


def test_diaspor_serve_logs_one_json_line_per_request_with_its_id_and_no_secret(
    tmp_path: Path, tools: Tools
) -> None:
    """The production command with DIASPOR_LOG_FORMAT=json: the request's line, and the other
    lines logged while it was answered (here the refused sign-in), carry its id; what the
    caller sent in headers and the query (a token, a password) is nowhere in the log."""
    port = free_port()
    settings = settings_for(
        tmp_path,
        f"sqlite:///{tmp_path / 'station.db'}",
        host="127.0.0.1",
        port=port,
        jwt_secret="jwt-signing-secret-Lw93-" + "x" * 20,
        log_format="json",
    )
    build_station(settings, tools=tools).close()
    base = f"http://127.0.0.1:{port}"
    log_file = tmp_path / "serve.log"
    with log_file.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "diaspor", "serve"],
            env=env_for(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_until_healthy(proc, base, 60)
        r = httpx.post(
            f"{base}/api/v1/auth/token?token=query-Gizli-456",
            data={"username": "aysel", "password": "parol-Gizli-789"},
            headers={"X-Request-ID": "trace-42", "Authorization": "Bearer tok-Gizli-123"},
        )
        assert r.status_code == 401 and r.headers["x-request-id"] == "trace-42"
        httpx.get(f"{base}/api/v1/channels/diaspor-fm?access_token=tok-Gizli-000")
    finally:
        interrupt(proc)
    text = log_file.read_text(encoding="utf-8")
    lines = [json.loads(ln) for ln in text.splitlines() if ln.startswith("{")]
    traced = [ln for ln in lines if ln.get("request_id") == "trace-42"]
    answered = [ln for ln in traced if ln["message"] == "request answered"]
    assert len(answered) == 1, traced
    line = answered[0]
    assert line["logger"] == "api.request_log" and line["level"] == "info"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/api/v1/auth/token", 401)
    # The client's address is never written: a tag of it (8 hex digits), the same for one
    # client all through the run.
    assert re.fullmatch("[0-9a-f]{8}", line["client"]) and line["duration_ms"] >= 0
    assert "127.0.0.1" not in json.dumps(answered)
    assert any(ln["message"] == "sign-in refused" for ln in traced), traced
    channel = [ln for ln in lines if ln.get("route") == "/api/v1/channels/{slug}"]
    assert len(channel) == 1 and HEX_ID.fullmatch(channel[0]["request_id"])
    assert "Gizli" not in text


# --- the worker's own port -------------------------------------------------------------------


async def server_away(payload: dict[str, Any], progress: ProgressReporter) -> None:
    raise RuntimeError("the file's server did not answer")


async def fine(payload: dict[str, Any], progress: ProgressReporter) -> None:
    return None


@pytest.fixture
def worker_station(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Station]:
    settings = settings_for(
        tmp_path,
        db_url,
        metrics_port=free_port(),
        job_max_attempts=2,
        job_retry_base_s=0.1,
        job_poll_s=0.1,
    )
    st = build_station(settings, tools=tools)
    st.handlers.update({"test.server-away": server_away, "test.fine": fine})
    yield st
    st.close()


def test_the_worker_answers_health_and_metrics_with_its_queue_and_failures(
    worker_station: Station,
) -> None:
    st = worker_station
    with st.db.session() as s:
        st.queue.enqueue(s, "test.server-away", {})
        st.queue.enqueue(s, "test.fine", {})
        st.queue.enqueue(s, "test.fine", {}, run_after=st.clock.now() + timedelta(hours=1))
    port = st.settings.metrics_port
    base = f"http://127.0.0.1:{port}"
    worker = Playout(st, run_background)
    try:

        def settled() -> Samples | None:
            try:
                got = scrape(f"{base}/metrics")
            except httpx.TransportError:  # not listening yet
                return None
            return got if value(got, "diaspor_jobs", status="failed") == 1 else None

        got = wait_for("the failing job given up", settled)
        # Both attempts of the job that failed are counted; the queue holds the later one.
        assert value(got, "diaspor_job_failures_total", kind="test.server-away") == 2
        assert value(got, "diaspor_job_failures_total", kind="test.fine") is None
        assert value(got, "diaspor_jobs", status="queued") == 1
        assert value(got, "diaspor_jobs", status="done") == 1
        assert value(got, "diaspor_jobs", status="running") == 0
        assert value(got, "diaspor_part_up", part="worker", channel="") == 1
        assert value(got, "diaspor_part_up", part="vod-windows", channel="") == 1
        health = httpx.get(f"{base}/health", timeout=5)
        assert health.status_code == 200 and health.headers["cache-control"] == "no-store"
        assert health.json()["status"] == "ok" and "worker" in health.json()["parts"]
        head = httpx.head(f"{base}/health", timeout=5)
        assert head.status_code == 200 and head.content == b""
        assert httpx.get(f"{base}/elsewhere", timeout=5).status_code == 404
    finally:
        worker.close()
    # It stopped with the process: nothing listens there any more.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


# --- the metrics themselves ------------------------------------------------------------------


def test_a_value_that_cannot_be_read_is_left_out_and_the_rest_is_still_told() -> None:
    metrics = Metrics()
    health = Health()
    health.register("diaspor-fm/engine", "diaspor-fm")
    health.register("worker")
    health.degraded("diaspor-fm/as-run", "the database is away", "diaspor-fm")
    metrics.watch_health(health)

    def broken() -> float:
        raise OSError("the relay is stopping")

    metrics.listeners.read(("diaspor-fm", "/diaspor-fm.mp3"), lambda: 3)
    metrics.listeners.read(("diaspor-fm", "/diaspor-fm.aac"), broken)
    metrics.tv_playlist_lag.read(("diaspor-tv",), lambda: None)  # not written yet
    got = parse(run(metrics.render()).decode())
    assert value(got, "diaspor_listeners", channel="diaspor-fm", mount="/diaspor-fm.mp3") == 3
    assert value(got, "diaspor_listeners", channel="diaspor-fm", mount="/diaspor-fm.aac") is None
    assert value(got, "diaspor_tv_playlist_lag_seconds", channel="diaspor-tv") is None
    up = "diaspor_part_up"
    assert value(got, up, part="diaspor-fm/engine", channel="diaspor-fm") == 1
    assert value(got, up, part="diaspor-fm/as-run", channel="diaspor-fm") == 0
    assert value(got, up, part="worker", channel="") == 1
    fails = "diaspor_part_failures_total"
    assert value(got, fails, part="diaspor-fm/as-run", channel="diaspor-fm") == 1
    # Each station keeps its own numbers (a registry per process, not the global one).
    assert value(parse(run(Metrics().render()).decode()), up, part="worker", channel="") is None
