"""Live: icecast2 asks here whether a source client may use a presenter's live mount (its URL
authentication, `stream_auth`). The built-in relay asks the same live desk in-process.

Only icecast2 may ask: it sends `DIASPOR_ICECAST_AUTH_SECRET` as HTTP Basic (user `icecast`,
the `username`/`password` options of its URL authentication), and nginx refuses this path
from outside. Presenters come with their stream key; the source password is not taken here
(icecast2 checks it itself on the station's own mounts). Every refusal is the same answer.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from api.auth import ServicesDep
from api.problems import Problem, problems
from playout.live import REFUSED, LiveRefused
from station.credentials import same_secret
from station.errors import NotFound
from station.logs import address_tag

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)
ICECAST_USER = "icecast"
icecast_basic = HTTPBasic(
    auto_error=False,
    scheme_name="icecast2",
    description="icecast2's URL authentication: user `icecast`, DIASPOR_ICECAST_AUTH_SECRET.",
)


def is_icecast(svc: ServicesDep, creds: HTTPBasicCredentials | None) -> None:
    secret = svc.settings.icecast_auth_secret
    if secret is None:
        raise Problem(
            404,
            "Not found",
            "icecast2's URL authentication is off: set DIASPOR_ICECAST_AUTH_SECRET here and in "
            'the live mount\'s <authentication type="url"> of icecast.xml',
            "icecast-auth-off",
        )
    if (
        creds is None
        or creds.username != ICECAST_USER
        or not same_secret(creds.password, secret.get_secret_value())
    ):
        raise Problem(
            401,
            "Authentication required",
            "only icecast2 asks here, with its own credentials",
            "not-icecast",
            {"WWW-Authenticate": 'Basic realm="icecast2"'},
        )


@router.post(
    "/api/v1/live/icecast-auth",
    summary="icecast2's source authentication (stream_auth): may this source use this mount?",
    description=(
        "Called by icecast2 when a source connects to a live mount configured with URL "
        "authentication, with HTTP Basic credentials (user `icecast`, "
        "DIASPOR_ICECAST_AUTH_SECRET). Answers 200 either way; the header "
        "`icecast-auth-user: 1` means yes. A presenter on a channel's live mount "
        "(`/<slug>-live`) is let in with their username and stream key, inside a slot of a "
        "programme they present (± DIASPOR_LIVE_MARGIN_S); admins and editors at any time. "
        "Every refusal is the same answer (`icecast-auth-message: refused`). Attempts are "
        "throttled per source address (icecast2's `ip`) and per username."
    ),
    status_code=200,
    response_class=Response,
    responses=problems(
        401,
        404,
        why={
            401: "not icecast2: missing or wrong HTTP Basic credentials",
            404: "icecast2's URL authentication is off here: DIASPOR_ICECAST_AUTH_SECRET unset",
        },
    ),
)
def authorise_icecast_source(
    svc: ServicesDep,
    creds: Annotated[HTTPBasicCredentials | None, Depends(icecast_basic)],
    mount: Annotated[str, Form(max_length=200)],
    user: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(alias="pass", max_length=200)] = "",
    ip: Annotated[str, Form(max_length=64)] = "",
    action: Annotated[str, Form(max_length=32)] = "stream_auth",
) -> Response:
    is_icecast(svc, creds)
    refused = Response(headers={"icecast-auth-message": REFUSED})
    ctx = {"mount": mount, "user": user, "ip": address_tag(ip)}
    if action != "stream_auth":
        log.warning("icecast2 asked something else than stream_auth", extra=ctx)
        return refused
    slug = svc.live_desk.live_mounts().get(mount)
    if slug is None:
        log.warning("live source refused: not a live mount", extra=ctx)
        return refused
    try:
        svc.live_desk.authorise(slug, user, password, ip)
    except (LiveRefused, NotFound) as e:
        log.warning("live source refused", extra={**ctx, "why": e.message})
        return refused
    log.info("live source accepted", extra=ctx)
    return Response(headers={"icecast-auth-user": "1"})
