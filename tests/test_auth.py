"""Signing in, refresh rotation, API keys, users, the permission matrix route by route,
sign-in throttling, and that no secret ever leaves in a response or a log line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import stat
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select, text

from accounts.tokens import create_token, jwt_secret, verify_access
from accounts.users import User, Users
from api.app import create_app
from api.auth import MATRIX, authorise
from diaspor.compose import Station, build_station
from media.binaries import Tools
from station.clock import SimulatedClock
from station.db import Base, Database
from station.errors import StationError
from station.settings import Settings
from tests.conftest import env_for, settings_for
from tests.support import free_port, interrupt, serve_app, wait_until_healthy

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Baku"))
PASSWORDS = {
    "aysel": "admin-parol-Ə1x9",
    "gunay": "editor-parol-Ş2k7",
    "elvin": "presenter-parol-Ç3m5",
}
ROLE_OF = {"aysel": "admin", "gunay": "editor", "elvin": "presenter"}
ADMIN_TOKEN = "settings-admin-token-Zq81"
SOURCE_PASSWORD = "source-secret-Kp22"
JWT_SECRET = "jwt-signing-secret-Lw93-" + "x" * 20
ICECAST_AUTH_SECRET = "icecast-asks-with-Tr45"
PUBLIC_AUTH = {"/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout"}
# Concurrent refreshes of one token, repeated: a race shows only some of the time.
ROUNDS = 30
TOKEN_URL = "/api/v1/auth/token"
PROTECTED_PREFIXES = (
    "/api/v1/manage",
    "/api/v1/media",
    "/api/v1/jobs",
    "/api/v1/auth",
    "/api/v1/reports",
)


class CheckedUsers(Users):
    """The station's users, noting every password check the API asks them for."""

    def __init__(self, db: Database, clock: SimulatedClock) -> None:
        super().__init__(db, clock)
        self.checked: list[str] = []
        self._lock = threading.Lock()

    def authenticate(self, username: str, password: str) -> User | None:
        with self._lock:
            self.checked.append(username)
        return super().authenticate(username, password)


@dataclass
class Gate:
    station: Station
    clock: SimulatedClock
    app: Any
    client: httpx.Client
    users: CheckedUsers

    def sign_in(
        self, username: str, password: str | None = None, *, address: str | None = None
    ) -> httpx.Response:
        """As a browser would; with `address`, through the reverse proxy (this client is on
        the trusted loopback) for a client at that address."""
        form = {"username": username, "password": password or PASSWORDS[username]}
        headers = {"X-Forwarded-For": address} if address else {}
        return self.client.post(TOKEN_URL, data=form, headers=headers)

    def bearer(self, username: str) -> dict[str, str]:
        r = self.sign_in(username)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def gate(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Gate]:
    clock = SimulatedClock(NOW)
    settings = settings_for(
        tmp_path,
        db_url,
        admin_token=ADMIN_TOKEN,
        source_password=SOURCE_PASSWORD,
        jwt_secret=JWT_SECRET,
        icecast_auth_secret=ICECAST_AUTH_SECRET,
    )
    st = build_station(settings, tools=tools, clock=clock)
    users = st.users = CheckedUsers(st.db, clock)
    for name, password in PASSWORDS.items():
        st.users.create(name, name.title(), ROLE_OF[name], password)
    app = create_app(st)
    try:
        with serve_app(app) as base, httpx.Client(base_url=base, timeout=30) as client:
            yield Gate(st, clock, app, client, users)
    finally:
        st.close()


def test_a_password_sign_in_gives_a_short_lived_jwt_and_a_refresh_token(gate: Gate) -> None:
    r = gate.sign_in("gunay")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert r.headers["cache-control"] == "no-store"
    claims = jwt.decode(
        body["access_token"],
        JWT_SECRET,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "gunay" and claims["role"] == "editor"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    me = gate.client.get("/api/v1/auth/me", headers=auth)
    assert {k: v for k, v in me.json().items() if k != "permissions"} == {
        "name": "gunay",
        "role": "editor",
        "kind": "user",
    }

    gate.clock.advance(901)
    late = gate.client.get("/api/v1/auth/me", headers=auth)
    assert late.status_code == 401
    assert late.headers["content-type"] == "application/problem+json"
    assert late.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_password_or_a_forged_token_is_refused(gate: Gate) -> None:
    r = gate.sign_in("gunay", "not-her-password")
    assert r.status_code == 401 and r.json()["reason"] == "bad-credentials"
    nobody = gate.sign_in("nobody", "whatever-it-is")
    assert nobody.status_code == 401
    assert nobody.json() == r.json(), "a wrong username must read like a wrong password"
    forged = jwt.encode(
        {"sub": "aysel", "role": "admin", "exp": 2**40, "iat": 0, "jti": "x"},
        "another-secret-of-enough-length-1234",
        algorithm="HS256",
    )
    r = gate.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_whole_sign_in(gate: Gate) -> None:
    first = gate.sign_in("elvin").json()["refresh_token"]
    r = gate.client.post("/api/v1/auth/refresh", data={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    # The spent one again: a thief, or a confused client. Both tokens of the family end.
    again = gate.client.post("/api/v1/auth/refresh", data={"refresh_token": first})
    assert again.status_code == 401
    assert (
        gate.client.post("/api/v1/auth/refresh", data={"refresh_token": second}).status_code == 401
    )


def refresh_together(client: httpx.Client, token: str, start: threading.Barrier) -> httpx.Response:
    start.wait()
    return client.post("/api/v1/auth/refresh", data={"refresh_token": token})


def test_two_refreshes_of_one_token_at_once_let_one_through_and_end_the_sign_in(
    gate: Gate,
) -> None:
    """A thief and the owner present the same refresh token at the same moment: one of them
    gets a new pair, the other is refused as a reuse, and the reuse ends the whole sign-in,
    the winner's new refresh token too. Repeated, since a race shows only some of the time."""
    base = str(gate.client.base_url)
    owner = httpx.Client(base_url=base, timeout=30)
    thief = httpx.Client(base_url=base, timeout=30)
    try:
        for attempt in range(ROUNDS):
            token = gate.sign_in("elvin").json()["refresh_token"]
            start = threading.Barrier(2)

            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(refresh_together, (owner, thief), [token] * 2, [start] * 2))
            codes = sorted(r.status_code for r in answers)
            assert codes == [200, 401], f"round {attempt}: {codes}"
            (won,) = [r for r in answers if r.status_code == 200]
            after = gate.client.post(
                "/api/v1/auth/refresh", data={"refresh_token": won.json()["refresh_token"]}
            )
            assert after.status_code == 401, f"round {attempt}: the family outlived the reuse"
    finally:
        owner.close()
        thief.close()


def test_logout_revokes_the_refresh_token_and_expired_ones_do_not_refresh(gate: Gate) -> None:
    token = gate.sign_in("elvin").json()["refresh_token"]
    assert gate.client.post("/api/v1/auth/logout", data={"refresh_token": token}).status_code == 204
    assert (
        gate.client.post("/api/v1/auth/refresh", data={"refresh_token": token}).status_code == 401
    )
    old = gate.sign_in("elvin").json()["refresh_token"]
    gate.clock.advance(31 * 86400)
    assert gate.client.post("/api/v1/auth/refresh", data={"refresh_token": old}).status_code == 401


def test_api_keys_are_shown_once_work_and_can_be_revoked(gate: Gate) -> None:
    admin = gate.bearer("aysel")
    r = gate.client.post(
        "/api/v1/auth/keys", json={"name": "encoder", "role": "editor"}, headers=admin
    )
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    listed = gate.client.get("/api/v1/auth/keys", headers=admin)
    assert key not in listed.text and [k["name"] for k in listed.json()["items"]] == ["encoder"]
    as_key = {"Authorization": f"Bearer {key}"}
    assert gate.client.get("/api/v1/auth/me", headers=as_key).json()["role"] == "editor"
    assert gate.client.delete(f"/api/v1/auth/keys/{key_id}", headers=admin).status_code == 204
    assert gate.client.get("/api/v1/auth/me", headers=as_key).status_code == 401
    # Keys made on the command line are the same keys.
    cli_key = create_token(gate.station.db, gate.clock, "cli", "presenter")
    me = gate.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {cli_key}"})
    assert {k: me.json()[k] for k in ("name", "role", "kind")} == {
        "name": "cli",
        "role": "presenter",
        "kind": "key",
    }
    assert "GET /api/v1/manage/asrun" in me.json()["permissions"]


def test_admins_manage_users_and_a_disabled_user_is_signed_out(gate: Gate) -> None:
    admin = gate.bearer("aysel")
    new = {
        "username": "nigar",
        "display_name": "Nigar",
        "role": "presenter",
        "password": "nigar-parol-123",
    }
    r = gate.client.post("/api/v1/auth/users", json=new, headers=admin)
    assert r.status_code == 201, r.text
    assert "password" not in r.text and "nigar-parol-123" not in r.text
    PASSWORDS["nigar"] = new["password"]
    try:
        session = gate.sign_in("nigar").json()
        nigar = {"Authorization": f"Bearer {session['access_token']}"}
        r = gate.client.patch("/api/v1/auth/users/nigar", json={"role": "editor"}, headers=admin)
        assert r.json()["role"] == "editor"
        assert gate.client.get("/api/v1/auth/me", headers=nigar).json()["role"] == "editor"
        r = gate.client.patch("/api/v1/auth/users/nigar", json={"disabled": True}, headers=admin)
        assert r.json()["disabled"] is True
        assert gate.client.get("/api/v1/auth/me", headers=nigar).status_code == 401
        refresh = {"refresh_token": session["refresh_token"]}
        assert gate.client.post("/api/v1/auth/refresh", data=refresh).status_code == 401
        assert gate.sign_in("nigar").status_code == 401
        weak = gate.client.post(
            "/api/v1/auth/users", json={**new, "username": "x1", "password": "short"}, headers=admin
        )
        assert weak.status_code == 422 and weak.json()["reason"] == "weak-password"
        users = gate.client.get("/api/v1/auth/users", headers=admin).json()["items"]
        assert {u["username"] for u in users} == {"aysel", "gunay", "elvin", "nigar"}
    finally:
        del PASSWORDS["nigar"]


# --- the permission matrix, route by route -------------------------------------------------


def guarded(route: APIRoute) -> bool:
    stack = [route.dependant]
    while stack:
        d = stack.pop()
        if d.call is authorise:
            return True
        stack.extend(d.dependencies)
    return False


def api_routes(app: Any) -> list[APIRoute]:
    """Every API route, through the included routers (FastAPI nests them since 0.16x)."""
    out: list[APIRoute] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                if isinstance(ctx.original_route, APIRoute):
                    out.append(ctx.original_route)
    return out


def protected_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in api_routes(app):
        if guarded(route):
            out += [(m, route.path) for m in sorted(route.methods)]
    return out


PATH_VALUES = {
    "rid": "1",
    "media_id": "1",
    "job_id": "1",
    "key_id": "999",
    "username": "nobody",
    "lang": "en",
    "upload_id": "0" * 32,
    "chart": "day",
}


def concrete(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace(f"{{{name}}}", value)
    return path


# Valid bodies, so that a write the guard let through would really change something.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "channels"): {"slug": "tv", "kind": "tv", "names": {"az": "TV"}},
    ("PATCH", "channels"): {"names": {"az": "Dəyişdirildi"}},
    ("POST", "users"): {"username": "intruder", "role": "admin", "password": "a-long-password"},
    ("PATCH", "users"): {"role": "admin"},
    ("POST", "keys"): {"name": "intruder", "role": "admin"},
}


def everything(gate: Gate) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as text: what a refused request must leave as it was."""
    with gate.station.db.session() as s:
        return {
            t.name: sorted(tuple(str(v) for v in row) for row in s.execute(select(t)).all())
            for t in Base.metadata.sorted_tables
        }


def test_every_protected_route_is_in_the_matrix_and_nothing_is_left_open(gate: Gate) -> None:
    routes = protected_routes(gate.app)
    assert set(routes) == set(MATRIX), "the matrix and the guarded routes differ"
    assert len(api_routes(gate.app)) > len(routes)  # public routes are seen too
    for route in api_routes(gate.app):
        if route.path in PUBLIC_AUTH:
            continue
        if route.path.startswith(PROTECTED_PREFIXES):
            assert guarded(route), f"{route.path} is not guarded by the permission matrix"


def test_the_permission_matrix_holds_route_by_route(gate: Gate) -> None:
    tokens = {ROLE_OF[u]: gate.bearer(u) for u in PASSWORDS}
    admin = tokens["admin"]
    # Something for refused writes to damage: a channel, with its ETag, and a key and a user.
    channel = {"slug": "radio", "kind": "radio", "names": {"az": "Radio"}}
    ch = gate.client.post("/api/v1/manage/channels", headers=admin, json=channel)
    assert ch.status_code == 201, ch.text
    etag = ch.headers["etag"]
    gate.client.post("/api/v1/auth/keys", json={"name": "k", "role": "editor"}, headers=admin)
    before = everything(gate)

    def call(method: str, path: str, headers: dict[str, str]) -> httpx.Response:
        kind = [*path.split("/"), "", "", "", "", ""][4]
        body = BODIES.get((method, kind), {}) if method in ("POST", "PATCH", "PUT") else None
        return gate.client.request(
            method, concrete(path), json=body, headers={**headers, "If-Match": etag}
        )

    spec = gate.client.get("/openapi.json").json()

    def documented(method: str, path: str, r: httpx.Response) -> None:
        """Every answer seen is one the OpenAPI description gives for the route."""
        assert str(r.status_code) in spec["paths"][path][method.lower()]["responses"], (
            method,
            path,
            r.status_code,
        )

    routes = protected_routes(gate.app)
    assert len(routes) >= 40
    for method, path in routes:
        anon = call(method, path, {})
        assert anon.status_code == 401, (method, path, anon.text)
        assert anon.headers["www-authenticate"] == "Bearer"
        assert anon.headers["content-type"] == "application/problem+json"
        documented(method, path, anon)
        bad = call(method, path, {"Authorization": "Bearer dsp_not-a-key"})
        assert bad.status_code == 401, (method, path)
        for role, headers in tokens.items():
            if role not in MATRIX[(method, path)]:
                r = call(method, path, headers)
                assert r.status_code == 403, (method, path, role, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                if method != "HEAD":  # an answer to HEAD has no body
                    assert r.json()["reason"] == "forbidden"
                documented(method, path, r)
    assert everything(gate) == before, "a refused request changed something"

    for method, path in routes:
        for role in MATRIX[(method, path)]:
            r = call(method, path, tokens[role])
            assert r.status_code not in (401, 403), (method, path, role, r.text)
            documented(method, path, r)


def test_presenters_read_the_schedule_but_change_neither_it_nor_media_nor_users(
    gate: Gate,
) -> None:
    p = gate.bearer("elvin")
    assert gate.client.get("/api/v1/manage/channels", headers=p).status_code == 200
    assert gate.client.get("/api/v1/media", headers=p).status_code == 200
    refused = [
        ("POST", "/api/v1/manage/channels"),
        ("POST", "/api/v1/media"),
        ("GET", "/api/v1/auth/users"),
        ("GET", "/api/v1/manage/audit"),
    ]
    for method, path in refused:
        assert gate.client.request(method, path, headers=p).status_code == 403
    e = gate.bearer("gunay")
    r = gate.client.post(
        "/api/v1/auth/users",
        headers=e,
        json={"username": "zz", "role": "admin", "password": "a-long-password"},
    )
    assert r.status_code == 403


def test_me_lists_what_each_role_may_do_as_the_matrix_decides(gate: Gate) -> None:
    """The console shows only what the caller may do: /me lists it, from the same matrix
    the server enforces, and each listed route is one the caller is really let through."""
    said = {}
    for username, role in ROLE_OF.items():
        r = gate.client.get("/api/v1/auth/me", headers=gate.bearer(username))
        assert r.status_code == 200, r.text
        said[role] = set(r.json()["permissions"])
    assert "POST /api/v1/media" in said["editor"]
    assert "GET /api/v1/manage/audit" not in said["editor"]
    assert "GET /api/v1/manage/audit" in said["admin"]
    assert "POST /api/v1/media" not in said["presenter"]
    assert "GET /api/v1/auth/me" in said["presenter"]
    assert said["presenter"] < said["editor"] < said["admin"]
    everything = {f"{m} {p}" for m, p in protected_routes(gate.app)}
    assert said["admin"] == everything


# --- throttling ------------------------------------------------------------------------------


def test_five_failed_sign_ins_throttle_the_username_even_with_the_right_password(
    gate: Gate,
) -> None:
    for _ in range(5):
        assert gate.sign_in("gunay", "wrong-password").status_code == 401
    r = gate.sign_in("gunay")
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert 1 <= int(r.headers["retry-after"]) <= 300
    assert r.json()["reason"] == "login-throttled"
    gate.clock.advance(301)
    assert gate.sign_in("gunay").status_code == 200


def test_failures_across_usernames_throttle_the_client_address(gate: Gate) -> None:
    for i in range(5):
        assert gate.sign_in(f"guess{i}", "wrong-password").status_code == 401
    assert gate.sign_in("aysel").status_code == 429


def wrong_password_at_once(base: str, n: int) -> list[httpx.Response]:
    """n clients send a wrong password for gunay at the same moment, from one address."""
    start = threading.Barrier(n)

    def guess(i: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=60) as c:
            start.wait()
            return c.post(TOKEN_URL, data={"username": "gunay", "password": f"guess-{i}-Ö"})

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(guess, range(n)))


def test_a_burst_of_parallel_wrong_passwords_gets_no_more_checks_than_the_limit(
    gate: Gate,
) -> None:
    """Twenty guesses sent at once from one address: five passwords are checked and refused,
    the other fifteen are throttled before any check, though none had been refused yet."""
    answers = wrong_password_at_once(str(gate.client.base_url), 20)
    assert Counter(r.status_code for r in answers) == {401: 5, 429: 15}
    assert len(gate.users.checked) == 5
    for r in answers:
        if r.status_code == 429:
            assert r.json()["reason"] == "login-throttled"
            assert 1 <= int(r.headers["retry-after"]) <= 300


def test_a_stranger_failing_the_admin_password_does_not_lock_the_admin_out_elsewhere(
    gate: Gate,
) -> None:
    stranger, office = "198.51.100.23", "203.0.113.5"
    for i in range(5):
        assert gate.sign_in("aysel", f"guess-{i}", address=stranger).status_code == 401
    throttled = gate.sign_in("aysel", "one-more-guess", address=stranger)
    assert throttled.status_code == 429 and throttled.headers["retry-after"]
    # From the stranger's address even the right password waits: nothing is learnt there.
    assert gate.sign_in("aysel", address=stranger).status_code == 429
    # Aysel, at the office, signs in as usual.
    assert gate.sign_in("aysel", address=office).status_code == 200


def test_an_oversized_username_or_password_is_refused_before_any_password_check(
    gate: Gate,
) -> None:
    r = gate.sign_in("a" * 10_000, "whatever-it-is")
    assert r.status_code == 422, r.status_code
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["reason"] == "invalid-request" and "username" in r.json()["detail"]
    r = gate.sign_in("gunay", "p" * 1025)
    assert r.status_code == 422 and "password" in r.json()["detail"]
    assert gate.users.checked == [], "an oversized sign-in reached argon2"
    # Refused, not counted: more of them than the limit leave the address free.
    for _ in range(6):
        assert gate.sign_in("b" * 151, "whatever-it-is").status_code == 422
    assert gate.sign_in("gunay").status_code == 200
    # At the limits the form is accepted and the password checked.
    assert gate.sign_in("u" * 150, "p" * 1024).status_code == 401
    assert gate.users.checked == ["gunay", "u" * 150]


@contextmanager
def diaspor_serve(env: dict[str, str], base: str) -> Iterator[None]:
    """`diaspor serve`, the production command, until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "diaspor", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_healthy(proc, base, 60)
        yield
    finally:
        interrupt(proc)


def test_a_forged_forwarded_for_does_not_change_the_address_the_throttle_sees(
    tmp_path: Path, db_url: str, tools: Tools
) -> None:
    """The API runs as in production, `diaspor serve`, with uvicorn's FORWARDED_ALLOW_IPS=*
    in its environment as docker-compose.yml once had it, and its reverse proxy on the
    loopback (DIASPOR_TRUSTED_PROXIES' default). A stranger connecting from 127.0.0.2 names
    a new address in X-Forwarded-For with every guess; the throttle still counts 127.0.0.2.
    What the proxy forwards is believed: for the stranger, and for Aysel elsewhere."""
    port = free_port()
    settings = settings_for(tmp_path, db_url, host="127.0.0.1", port=port, jwt_secret=JWT_SECRET)
    st = build_station(settings, tools=tools)
    st.users.create("aysel", "Aysel", "admin", PASSWORDS["aysel"])
    st.close()
    env = env_for(settings)
    env["FORWARDED_ALLOW_IPS"] = "*"
    base = f"http://127.0.0.1:{port}"
    stranger_side = httpx.HTTPTransport(local_address="127.0.0.2")
    with (
        diaspor_serve(env, base),
        httpx.Client(base_url=base, transport=stranger_side, timeout=30) as stranger,
        httpx.Client(base_url=base, timeout=30) as proxy,
    ):

        def guess(i: int) -> httpx.Response:
            forged = {"X-Forwarded-For": f"198.51.100.{i}"}
            form = {"username": f"guess{i}", "password": "wrong-password"}
            return stranger.post(TOKEN_URL, data=form, headers=forged)

        for i in range(5):
            assert guess(i).status_code == 401
        assert guess(5).status_code == 429, "a forged X-Forwarded-For escaped the throttle"
        for_stranger = {"X-Forwarded-For": "127.0.0.2"}
        form = {"username": "aysel", "password": PASSWORDS["aysel"]}
        assert proxy.post(TOKEN_URL, data=form, headers=for_stranger).status_code == 429
        for_aysel = {"X-Forwarded-For": "203.0.113.5"}
        assert proxy.post(TOKEN_URL, data=form, headers=for_aysel).status_code == 200


# --- stream keys -----------------------------------------------------------------------------


def test_each_person_makes_rotates_and_revokes_their_own_stream_key_shown_once(
    gate: Gate,
) -> None:
    elvin, admin = gate.bearer("elvin"), gate.bearer("aysel")
    url = "/api/v1/auth/me/stream-key"
    none = gate.client.get(url, headers=elvin)
    assert none.status_code == 404 and none.json()["reason"] == "no-stream-key"
    made = gate.client.post(url, headers=elvin)
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    key = made.json()["key"]
    assert made.json()["username"] == "elvin" and key.endswith(made.json()["hint"])
    users = gate.station.users
    assert gate.station.stream_keys.verify("elvin", key) == users.get("elvin")
    shown = gate.client.get(url, headers=elvin)
    assert shown.status_code == 200 and key not in shown.text
    assert shown.json()["hint"] == made.json()["hint"]
    # A new key ends the old one.
    rotated = gate.client.post(url, headers=elvin).json()["key"]
    assert gate.station.stream_keys.verify("elvin", key) is None
    assert gate.station.stream_keys.verify("elvin", rotated) is not None
    assert gate.client.delete(url, headers=elvin).status_code == 204
    assert gate.station.stream_keys.verify("elvin", rotated) is None
    assert gate.client.delete(url, headers=elvin).status_code == 404
    # An admin revokes anyone's; an editor may not; an API key has no key of its own.
    again = gate.client.post(url, headers=elvin).json()["key"]
    theirs = "/api/v1/auth/users/elvin/stream-key"
    assert gate.client.delete(theirs, headers=gate.bearer("gunay")).status_code == 403
    assert gate.client.delete(theirs, headers=admin).status_code == 204
    assert gate.station.stream_keys.verify("elvin", again) is None
    assert gate.client.delete(theirs, headers=admin).status_code == 404
    nobody = gate.client.delete("/api/v1/auth/users/nobody/stream-key", headers=admin)
    assert nobody.status_code == 404
    api_key = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    refused = gate.client.post(url, headers=api_key)
    assert refused.status_code == 409 and refused.json()["reason"] == "not-a-person"


# --- secrets ---------------------------------------------------------------------------------


def test_no_secret_is_returned_by_a_route_or_logged(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = gate.bearer("aysel")
    session = gate.sign_in("gunay").json()
    key = gate.client.post(
        "/api/v1/auth/keys", json={"name": "k", "role": "editor"}, headers=admin
    ).json()["key"]
    secrets = [
        ADMIN_TOKEN,
        SOURCE_PASSWORD,
        JWT_SECRET,
        key,
        session["refresh_token"],
        session["access_token"],
        "new-password-Ü42",
        *PASSWORDS.values(),
    ]
    stream_key = gate.client.post("/api/v1/auth/me/stream-key", headers=gate.bearer("elvin"))
    secrets += [stream_key.json()["key"], ICECAST_AUTH_SECRET]
    gate.sign_in("elvin", "wrong-password-Ğ77")
    secrets.append("wrong-password-Ğ77")
    gate.client.patch(
        "/api/v1/auth/users/elvin", json={"password": "new-password-Ü42"}, headers=admin
    )
    for password in ("new-password-Ü42", stream_key.json()["key"]):
        for auth in (("icecast", ICECAST_AUTH_SECRET), None):
            gate.client.post(
                "/api/v1/live/icecast-auth",
                data={"mount": "/x-live", "user": "elvin", "pass": password, "ip": "192.0.2.1"},
                auth=auth,
            )

    seen = []
    for route in api_routes(gate.app):
        streams = route.path.endswith("/events")  # Server-Sent Events: they never end
        if "GET" in route.methods and "{" not in route.path and not streams:
            for headers in ({}, admin):
                r = gate.client.get(route.path, headers=headers)
                seen.append(r.text + " " + str(r.headers))
    for rec in caplog.records:
        seen.append(rec.getMessage() + " " + " ".join(str(v) for v in rec.__dict__.values()))
    seen.append(caplog.text)
    for s in secrets:
        assert not any(s in text for text in seen), f"a secret leaked: {s[:6]}..."


def test_the_generated_jwt_secret_is_kept_private_and_survives_a_restart(
    tmp_path: Path, db_url: str, tools: Tools
) -> None:
    st = build_station(settings_for(tmp_path, db_url), tools=tools)
    try:
        st.users.create("aysel", "Aysel", "admin", PASSWORDS["aysel"])
        with serve_app(create_app(st)) as base, httpx.Client(base_url=base) as c:
            form = {"username": "aysel", "password": PASSWORDS["aysel"]}
            access = c.post("/api/v1/auth/token", data=form).json()["access_token"]
        secret_file = st.settings.data_dir / "jwt_secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        with serve_app(create_app(st)) as base, httpx.Client(base_url=base) as c:
            me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
            assert me.status_code == 200
        with st.db.session() as s:
            assert s.execute(text("SELECT count(*) FROM refresh_tokens")).scalar_one() == 1
    finally:
        st.close()


# --- the signing key: never empty, never short, never half-written ------------------------


def forge_access_token(username: str, role: str, now: datetime, key: bytes) -> str:
    """An HS256 token made by hand, as an attacker would (PyJWT itself refuses an empty key)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    iat = int(now.timestamp())
    claims = {"sub": username, "role": role, "iat": iat, "exp": iat + 900, "jti": "forged"}
    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(json.dumps(claims).encode())
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


@pytest.mark.parametrize(
    "content", ["", "\n", "only-20-bytes-secret"], ids=["empty", "blank", "short"]
)
def test_an_empty_or_short_jwt_secret_file_is_refused_with_a_message_naming_it(
    tmp_path: Path, content: str
) -> None:
    (tmp_path / "jwt_secret").write_text(content, encoding="ascii")
    with pytest.raises(StationError, match=r"jwt_secret.*at least 32 bytes.*delete it") as err:
        jwt_secret(Settings(data_dir=tmp_path))
    assert str(tmp_path / "jwt_secret") in str(err.value)
    assert (tmp_path / "jwt_secret").read_text(encoding="ascii") == content  # left for a look


def test_a_configured_jwt_secret_shorter_than_32_bytes_is_refused_naming_the_setting(
    tmp_path: Path,
) -> None:
    with pytest.raises(StationError, match=r"DIASPOR_JWT_SECRET is 9 bytes.*at least 32 bytes"):
        jwt_secret(Settings(data_dir=tmp_path, jwt_secret="too-short"))
    assert not (tmp_path / "jwt_secret").exists()


def test_a_secret_file_is_never_left_half_written_and_is_made_private(tmp_path: Path) -> None:
    """A disk that fills up while the secret is written (here: a 16-byte file size limit on a
    real process) must leave no file under the real name, not an empty or partial one."""
    write_under_limit = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))\n"
        "from accounts.tokens import jwt_secret\n"
        "from station.settings import Settings\n"
        "jwt_secret(Settings(data_dir=sys.argv[1]))\n"
    )
    failed = subprocess.run(
        [sys.executable, "-c", write_under_limit, str(tmp_path)], capture_output=True, text=True
    )
    assert failed.returncode != 0 and "File too large" in failed.stderr
    assert list(tmp_path.iterdir()) == []  # no partial secret, no temp file left behind

    secret = jwt_secret(Settings(data_dir=tmp_path))
    path = tmp_path / "jwt_secret"
    assert len(secret.encode()) >= 32 and path.read_text(encoding="ascii") == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret"]
    assert jwt_secret(Settings(data_dir=tmp_path)) == secret  # kept across restarts


def test_a_token_forged_with_an_empty_key_is_not_accepted(
    tmp_path: Path, db_url: str, tools: Tools
) -> None:
    settings = settings_for(tmp_path, db_url)
    st = build_station(settings, tools=tools)
    try:
        st.users.create("aysel", "Aysel", "admin", PASSWORDS["aysel"])
        forged = forge_access_token("aysel", "admin", st.clock.now(), key=b"")
        with pytest.raises(StationError, match="at least 32 bytes"):
            verify_access(st.db, "", st.clock, forged)
        # A crash left the station's secret file empty: the API still lets nobody in with it.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / "jwt_secret").write_text("", encoding="ascii")
        with serve_app(create_app(st)) as base, httpx.Client(base_url=base) as c:
            r = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 503 and r.json()["reason"] == "jwt-secret"
    finally:
        st.close()
