"""The radio's regional icecast2 relays, as a listener's app is offered them: each radio channel
on air lists its mounts on every relay, those serving the listener's country first (from
`?country=`, else from the country header the station's edge sets, believed only from a
trusted proxy), and `?relays=nearest` only the first. The API is served as `diaspor serve`
serves it (`diaspor.demo.server_config`), so the proxy's headers go the production way."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError

from accounts.tokens import create_token
from api.app import create_app
from diaspor.compose import Station, build_station
from diaspor.demo import server_config
from diaspor.radio import streams_of
from media.binaries import Tools
from station.clock import SystemClock
from station.settings import Settings
from tests.conftest import settings_for
from tests.support import free_port

RELAYS = [
    {
        "name": "us",
        "region": "North America",
        "url": "https://us.diaspor.example/listen",
        "countries": ["US", "CA"],
    },
    {
        "name": "eu",
        "region": "Europe",
        "url": "https://eu.diaspor.example/listen/",
        "countries": ["DE", "FR", "GB", "NL", "TR"],
    },
    {
        "name": "kafkaz",
        "region": "Caucasus",
        "url": "http://az.diaspor.example:8000/listen",
        "countries": ["az", "GE", "TR"],
    },
]
BASES = {
    "us": "https://us.diaspor.example/listen",
    "eu": "https://eu.diaspor.example/listen",
    "kafkaz": "http://az.diaspor.example:8000/listen",
}
HEADER = "CF-IPCountry"
RADIO = {"slug": "diaspor-fm", "kind": "radio", "names": {"az": "Diaspor.FM"}}
TV = {"slug": "diaspor-tv", "kind": "tv", "names": {"az": "Diaspor TV"}}


@dataclass
class OnAir:
    station: Station
    base: str
    proxy: httpx.Client  # on the loopback: DIASPOR_TRUSTED_PROXIES' default
    stranger: httpx.Client  # from 127.0.0.2: trusted by no one

    def channel(self, slug: str = "diaspor-fm", **params: str) -> dict[str, Any]:
        r = self.proxy.get(f"/api/v1/channels/{slug}", params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def names(channel: dict[str, Any]) -> list[str]:
    return [r["name"] for r in channel["relays"]]


@contextmanager
def served(app: Any, settings: Settings) -> Iterator[None]:
    """The app under uvicorn as `diaspor serve` runs it, in a thread."""
    server = uvicorn.Server(server_config(app, settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def on_air(tmp_path: Path, db_url: str, tools: Tools, **extra: Any) -> Iterator[OnAir]:
    """A station with Diaspor.FM and Diaspor TV, both on air as playout would list them
    (the API follows no other process here: now_playing_follow_s=0)."""
    port = free_port()
    settings = settings_for(
        tmp_path,
        db_url,
        host="127.0.0.1",
        port=port,
        now_playing_follow_s=0,
        icecast_public_url="https://diaspor.example/listen",
        radio_server="icecast",
        **extra,
    )
    st = build_station(settings, tools=tools)
    try:
        token = create_token(st.db, SystemClock(), "Günay", "editor")
        app = create_app(st)
        base = f"http://127.0.0.1:{port}"
        stranger_side = httpx.HTTPTransport(local_address="127.0.0.2")
        with (
            served(app, settings),
            httpx.Client(base_url=base, timeout=30) as proxy,
            httpx.Client(base_url=base, transport=stranger_side, timeout=30) as stranger,
        ):
            editor = {"Authorization": f"Bearer {token}"}
            for channel in (RADIO, TV):
                r = proxy.post("/api/v1/manage/channels", json=channel, headers=editor)
                assert r.status_code == 201, r.text
            st.on_air["diaspor-fm"] = streams_of(settings, "diaspor-fm", hls=True)
            hls = {"url": f"{base}/files/hls/tv/diaspor-tv/master.m3u8", "format": "hls"}
            st.on_air["diaspor-tv"] = [{**hls, "bitrate": None}]
            yield OnAir(st, base, proxy, stranger)
    finally:
        st.close()


@pytest.fixture
def relays(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[OnAir]:
    with on_air(tmp_path, db_url, tools, radio_relays=RELAYS, country_header=HEADER) as o:
        yield o


def test_each_relay_lists_the_channels_mounts_on_its_own_base(relays: OnAir) -> None:
    fm = relays.channel()
    assert names(fm) == ["us", "eu", "kafkaz"], "without a country: the declared order"
    assert [r["region"] for r in fm["relays"]] == ["North America", "Europe", "Caucasus"]
    mounts = [s for s in fm["streams"] if s["format"] != "hls"]
    assert [s["url"] for s in mounts] == [
        "https://diaspor.example/listen/diaspor-fm.mp3",
        "https://diaspor.example/listen/diaspor-fm.aac",
        "https://diaspor.example/listen/diaspor-fm-64.aac",
    ], "the master's own streams are as before"
    assert any(s["format"] == "hls" for s in fm["streams"])
    for relay in fm["relays"]:
        base = BASES[relay["name"]]
        assert relay["streams"] == [
            {"url": f"{base}/diaspor-fm.mp3", "format": "mp3", "bitrate": 128},
            {"url": f"{base}/diaspor-fm.aac", "format": "aac", "bitrate": 128},
            {"url": f"{base}/diaspor-fm-64.aac", "format": "aac", "bitrate": 64},
        ], relay["name"]
    assert fm["relays"] == relays.channel(relays="all")["relays"]


def test_a_listener_in_turkey_gets_the_relays_serving_turkey_first(relays: OnAir) -> None:
    # Both relays serving TR first, in their declared order; then the rest.
    assert names(relays.channel(country="TR")) == ["eu", "kafkaz", "us"]
    assert names(relays.channel(country="tr")) == ["eu", "kafkaz", "us"], "any case"
    assert names(relays.channel(country="AZ")) == ["kafkaz", "us", "eu"], "az upper-cased"
    assert names(relays.channel(country="CA")) == ["us", "eu", "kafkaz"]
    assert names(relays.channel(country="JP")) == ["us", "eu", "kafkaz"], "served by none"
    r = relays.proxy.get("/api/v1/channels", params={"country": "TR", "lang": "en"})
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    listed = {c["slug"]: c for c in r.json()["items"]}
    assert names(listed["diaspor-fm"]) == ["eu", "kafkaz", "us"]
    assert listed["diaspor-tv"]["relays"] == []


def test_nearest_gives_the_one_relay_first_in_line(relays: OnAir) -> None:
    nearest = relays.channel(country="GE", relays="nearest")
    assert names(nearest) == ["kafkaz"]
    assert nearest["relays"][0]["streams"][0]["url"] == f"{BASES['kafkaz']}/diaspor-fm.mp3"
    assert names(relays.channel(relays="nearest")) == ["us"], "no country: the first declared"
    r = relays.proxy.get("/api/v1/channels", params={"relays": "nearest", "country": "NL"})
    listed = {c["slug"]: c for c in r.json()["items"]}
    assert names(listed["diaspor-fm"]) == ["eu"]
    wrong = relays.proxy.get("/api/v1/channels/diaspor-fm", params={"relays": "closest"})
    assert wrong.status_code == 422 and wrong.json()["reason"] == "invalid-request"


def test_the_edge_country_is_believed_from_a_trusted_proxy_and_from_no_one_else(
    relays: OnAir,
) -> None:
    """nginx (on the loopback, trusted) passes on the CDN's country and the client's address;
    a stranger connecting directly names a country of their own, which changes nothing."""
    path = "/api/v1/channels/diaspor-fm"
    from_edge = {HEADER: "TR", "X-Forwarded-For": "203.0.113.7"}
    r = relays.proxy.get(path, headers=from_edge)
    assert names(r.json()) == ["eu", "kafkaz", "us"]
    assert HEADER.lower() in r.headers["vary"].lower()
    assert "accept-encoding" in r.headers["vary"].lower(), "the cache's own Vary is kept"
    assert names(relays.proxy.get(path, headers={HEADER: "ca"}).json())[0] == "us"
    # ?country= is the listener's own word: it wins over the edge's
    asked = relays.proxy.get(path, params={"country": "CA"}, headers=from_edge)
    assert names(asked.json()) == ["us", "eu", "kafkaz"]
    # what is not a country (Cloudflare's T1, Tor) is no country
    assert names(relays.proxy.get(path, headers={HEADER: "T1"}).json())[0] == "us"
    forged = relays.stranger.get(path, headers=from_edge)
    assert forged.status_code == 200
    assert names(forged.json()) == ["us", "eu", "kafkaz"], "a stranger's header was believed"
    listed = relays.stranger.get("/api/v1/channels", headers={HEADER: "GE"})
    assert HEADER.lower() in listed.headers["vary"].lower()
    fm = next(c for c in listed.json()["items"] if c["slug"] == "diaspor-fm")
    assert names(fm) == ["us", "eu", "kafkaz"]
    from_edge_listed = relays.proxy.get("/api/v1/channels", headers={HEADER: "GE"}).json()
    fm = next(c for c in from_edge_listed["items"] if c["slug"] == "diaspor-fm")
    assert names(fm) == ["kafkaz", "us", "eu"]


@pytest.mark.parametrize("bad", ["TUR", "T", "1A", "t1", "Türkiyə"])
def test_a_country_that_is_not_two_letters_is_a_problem(relays: OnAir, bad: str) -> None:
    for path in ("/api/v1/channels/diaspor-fm", "/api/v1/channels"):
        r = relays.proxy.get(path, params={"country": bad})
        assert r.status_code == 422, (path, bad)
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["reason"] == "invalid-country"
        assert problem["type"] == f"{relays.station.settings.base_url}/problems/invalid-country"
        assert repr(bad) in problem["detail"]
    page = relays.proxy.get("/problems/invalid-country")
    assert page.status_code == 200 and "ISO 3166-1" in page.text


def test_tv_channels_list_no_relays(relays: OnAir) -> None:
    tv = relays.channel("diaspor-tv", country="TR")
    assert tv["streams"] and tv["streams"][0]["format"] == "hls", "TV is on air"
    assert tv["relays"] == []


def test_a_radio_channel_off_air_lists_no_relays(relays: OnAir) -> None:
    """The relays carry what playout sends; while it sends nothing they have nothing."""
    relays.station.on_air.pop("diaspor-fm")
    fm = relays.channel(country="TR")
    assert fm["streams"] == [] and fm["relays"] == []


def test_without_relays_nothing_changes(tmp_path: Path, db_url: str, tools: Tools) -> None:
    with on_air(tmp_path, db_url, tools, country_header=HEADER) as plain:
        r = plain.proxy.get("/api/v1/channels/diaspor-fm", headers={HEADER: "TR"})
        fm = r.json()
        assert fm["relays"] == []
        assert fm["streams"] == plain.station.on_air["diaspor-fm"]
        # nothing varies by country: a CDN keeps one copy for everyone
        assert HEADER.lower() not in r.headers.get("vary", "").lower()
        assert names(plain.channel(country="TR", relays="nearest")) == []


def test_without_a_country_header_the_answer_does_not_vary_by_country(
    tmp_path: Path, db_url: str, tools: Tools
) -> None:
    with on_air(tmp_path, db_url, tools, radio_relays=RELAYS) as no_header:
        r = no_header.proxy.get("/api/v1/channels/diaspor-fm", headers={HEADER: "TR"})
        assert names(r.json()) == ["us", "eu", "kafkaz"], "an unconfigured header was read"
        assert HEADER.lower() not in r.headers["vary"].lower()
        assert names(no_header.channel(country="TR")) == ["eu", "kafkaz", "us"]


def test_the_document_describes_the_relays_and_their_parameters(relays: OnAir) -> None:
    spec = relays.proxy.get("/openapi.json").json()
    for path in ("/api/v1/channels", "/api/v1/channels/{slug}"):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert {"country", "relays", "lang"} <= set(params), path
        assert params["country"]["description"] and params["relays"]["description"]
        assert params["country"]["schema"]["pattern"] == "^[A-Za-z]{2}$"
        assert params["relays"]["schema"] == {
            "$ref": "#/components/schemas/RelayChoice",
            "description": params["relays"]["description"],
            "default": "all",
        }
    schemas = spec["components"]["schemas"]
    assert "relays" in schemas["ChannelOut"]["required"]
    assert set(schemas["RelayOut"]["required"]) == {"name", "region", "streams"}
    (example,) = schemas["ChannelOut"]["examples"]
    assert [r["name"] for r in example["relays"]] == ["eu", "us"]


# --- the setting ----------------------------------------------------------------------------


def test_relays_are_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIASPOR_RADIO_RELAYS", json.dumps(RELAYS))
    monkeypatch.setenv("DIASPOR_COUNTRY_HEADER", HEADER)
    s = Settings()
    assert [r.name for r in s.radio_relays] == ["us", "eu", "kafkaz"]
    assert s.radio_relays[1].url == "https://eu.diaspor.example/listen", "trailing / dropped"
    assert s.radio_relays[2].countries == ("AZ", "GE", "TR"), "upper-cased"
    assert s.country_header == HEADER
    monkeypatch.delenv("DIASPOR_RADIO_RELAYS")
    monkeypatch.delenv("DIASPOR_COUNTRY_HEADER")
    assert Settings().radio_relays == [] and Settings().country_header == ""


def relay(**changes: Any) -> dict[str, Any]:
    return {**RELAYS[1], **changes}


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ([relay(countries=["DE", "TUR"])], "'TUR': a country is its ISO 3166-1 alpha-2 code"),
        ([relay(countries=["T1"])], "'T1': a country is its ISO 3166-1 alpha-2 code"),
        ([relay(countries=["D"])], "'D': a country is its ISO 3166-1 alpha-2 code"),
        ([relay(), relay(url="https://eu2.diaspor.example")], "'eu' named more than once"),
        ([relay(url="ftp://eu.diaspor.example/listen")], "is not an http(s) URL"),
        ([relay(url="eu.diaspor.example/listen")], "is not an http(s) URL"),
        ([relay(name="")], "at least 1 character"),
    ],
)
def test_a_bad_relay_is_refused_saying_why(given: list[dict[str, Any]], said: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(radio_relays=given)
    assert said in str(refused.value)


def test_a_country_header_must_be_a_header_name() -> None:
    with pytest.raises(ValidationError, match="not an HTTP header name"):
        Settings(country_header="CF IPCountry")
    assert Settings(country_header=" X-Country ").country_header == "X-Country"
