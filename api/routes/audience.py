"""icecast2's listeners in the audience ledger: its URL authentication's `listener_add` and
`listener_remove` hooks on the mounts listeners use call here (deploy/icecast-relay.xml).

icecast2 2.4 lets a listener in only when this answers with `icecast-auth-user: 1`; if the
call fails (the API away, a timeout: icecast2 waits up to 15 s, one listener after another)
it refuses the listener. A station must never turn listeners away because its statistics
are down, so: every answer here says yes, those to a caller without icecast2's credentials
too (the mounts are public; such a caller is simply not counted); the answer is sent before
any database work (the report is queued, audience/report_queue.py); and in docker-compose icecast2
calls through nginx, which says yes itself when no API replica answers within two seconds
(deploy/nginx.conf, `location = /api/v1/audience/icecast` on port 80).

Only icecast2 is counted: it sends DIASPOR_ICECAST_AUTH_SECRET as HTTP Basic (user
`icecast`), as for live sources (api/routes/live.py). The listener's address is icecast2's
`ip`, or, when that is one of DIASPOR_TRUSTED_PROXIES (nginx in front of icecast2), the
client its `X-Forwarded-For` names (icecast2 passes that header on with the `headers` option).
A relay pulling a mount (an icecast2 relay's own connection) is let in and not counted.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response
from fastapi.security import HTTPBasicCredentials

from api.auth import ServicesDep
from api.problems import Problem, problems
from api.proxies import client_behind
from api.routes.live import icecast_basic, is_icecast
from audience.ledger import Arrival, Ledger, Surface

router = APIRouter(tags=["audience"])
ADMIT = {"icecast-auth-user": "1"}
MOUNT = re.compile(r"/([a-z0-9][a-z0-9-]*?)(?:-\d+)?\.(?:mp3|aac|ogg|opus)")
FORWARDED_FIELD = "ClientHeader.x-forwarded-for"  # icecast2's header_prefix + the header


def icecast_key(server: str, port: str, client: str, started: datetime) -> str:
    """A listener's key: icecast2's client id restarts from 1 when icecast2 does, so the
    second it came is part of it."""
    return f"icecast:{server}:{port}:{client}:{int(started.timestamp())}"


def settle(ledger: Ledger, keys: list[str], at: datetime, seconds: int) -> None:
    for key in keys:
        if ledger.settle(key, at, seconds):
            return


@router.post(
    "/api/v1/audience/icecast",
    summary="icecast2's listener hooks (listener_add, listener_remove): a listener came or left",
    description=(
        "Called by icecast2's URL authentication on the station's mounts, with HTTP Basic "
        "credentials (user `icecast`, DIASPOR_ICECAST_AUTH_SECRET). Every answer carries "
        "`icecast-auth-user: 1`, its 401 and 404 too: a listener is never refused for the "
        "statistics' sake (a caller without icecast2's credentials is let in, not counted). "
        "`listener_add` opens a session in the audience ledger (its country from the "
        "listener's address, its player from `agent`; the address is not kept), "
        "`listener_remove` ends it after `duration` seconds. Relays pulling a mount are not "
        "counted. The session is written after the answer, never before."
    ),
    status_code=200,
    response_class=Response,
    responses=problems(
        401,
        404,
        why={
            401: "not icecast2: missing or wrong HTTP Basic credentials (let in, not counted)",
            404: "icecast2's hooks are off here: DIASPOR_ICECAST_AUTH_SECRET unset",
        },
    ),
)
async def report_icecast_listener(
    svc: ServicesDep,
    creds: Annotated[HTTPBasicCredentials | None, Depends(icecast_basic)],
    action: Annotated[str, Form(max_length=32)],
    mount: Annotated[str, Form(max_length=200)] = "",
    server: Annotated[str, Form(max_length=200)] = "",
    port: Annotated[str, Form(max_length=8)] = "",
    client: Annotated[str, Form(max_length=32)] = "",
    ip: Annotated[str, Form(max_length=64)] = "",
    agent: Annotated[str, Form(max_length=512)] = "",
    user: Annotated[str, Form(max_length=200)] = "",
    duration: Annotated[int, Form(ge=0)] = 0,
    forwarded: Annotated[str, Form(alias=FORWARDED_FIELD, max_length=1000)] = "",
) -> Response:
    try:
        is_icecast(svc, creds)
    except Problem as refused:  # told, but let in all the same
        refused.headers = {**(refused.headers or {}), **ADMIT}
        raise
    if user == "relay" or agent.startswith("Icecast"):
        return Response(headers=ADMIT)  # a relay's own connection: not a listener
    now = svc.clock.now()
    slug = channel_of_mount(mount)
    if action == "listener_add":
        address = client_behind(svc.settings, ip, forwarded)
        key = icecast_key(server, port, client, now)
        a = Arrival(key, Surface.ICECAST, now, address, agent, channel=slug, mount=mount)
        svc.audience.put(lambda ledger: ledger.open(a))
    elif action == "listener_remove":
        started = now - timedelta(seconds=duration)
        # icecast2 counts from its accept, the add was heard a moment later: a second or so.
        keys = [
            icecast_key(server, port, client, started + timedelta(seconds=d)) for d in (0, 1, -1, 2)
        ]
        svc.audience.put(lambda ledger: settle(ledger, keys, now, duration))
    return Response(headers=ADMIT)


def channel_of_mount(mount: str) -> str | None:
    """The channel of one of its mounts: `/<slug>.mp3`, `/<slug>.aac`, `/<slug>-64.aac`
    (playout.radio_channel.mounts_of)."""
    match = MOUNT.fullmatch(mount.split("?", 1)[0])
    return match.group(1) if match else None
