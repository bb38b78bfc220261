"""/health: anyone may learn whether the station is well; only a signed-in admin learns what
it runs on (database, storage, ffmpeg) and why a part is degraded — those name paths,
buckets and hosts a stranger has no use for."""

from __future__ import annotations

import httpx

from accounts.tokens import create_token
from api.app import create_app
from diaspor.compose import Station
from tests.support import serve_app


def test_a_stranger_learns_only_whether_the_station_is_well(station: Station) -> None:
    station.health.degraded(
        "diaspor-fm/now-playing", "write to /srv/secret-path failed", "diaspor-fm"
    )
    admin = create_token(station.db, station.clock, "ops", "admin")
    editor = create_token(station.db, station.clock, "desk", "editor")
    hidden = [str(station.settings.data_dir), station.storage.describe(), "secret-path"]
    with serve_app(create_app(station)) as base:
        for headers in ({}, {"Authorization": f"Bearer {editor}"}, {"Authorization": "Bearer x"}):
            r = httpx.get(f"{base}/health", headers=headers, timeout=5)
            assert r.status_code == 200
            body = r.json()
            assert body["status"] == "degraded" and body["database_reachable"] is True
            assert body["channels"] == {"diaspor-fm": {"status": "degraded", "degraded": None}}
            assert not any(h in r.text for h in hidden), r.text
            assert body["storage"] is None and body["ffmpeg"] is None
        told = httpx.get(f"{base}/health", headers={"Authorization": f"Bearer {admin}"}).json()
    assert told["storage"] == station.storage.describe() and told["ffmpeg"]
    assert told["database"] in ("sqlite", "postgresql")
    assert told["channels"]["diaspor-fm"]["degraded"] == {
        "diaspor-fm/now-playing": "write to /srv/secret-path failed"
    }
