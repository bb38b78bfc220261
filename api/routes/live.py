"""Live: icecast2 asks here whether a source client may use a mount (its URL
authentication, `stream_auth`). The built-in relay asks the same live desk in-process."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Response

from api.auth import ServicesDep
from playout.live import LiveDesk, LiveRefused, live_mount
from station.errors import NotFound

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)


@router.post(
    "/api/v1/live/icecast-auth",
    summary="icecast2's source authentication (stream_auth): may this source use this mount?",
    description=(
        "Called by icecast2 when a source connects to a mount configured with URL "
        "authentication. Answers 200 either way; the header `icecast-auth-user: 1` means yes. "
        "The station's own encoder is let in with the source password; a presenter on a "
        "channel's live mount (`/<slug>-live`) with their username and password, inside a "
        "slot of a programme they present (± DIASPOR_LIVE_MARGIN_S)."
    ),
    status_code=200,
    response_class=Response,
)
def icecast_stream_auth(
    svc: ServicesDep,
    mount: Annotated[str, Form()],
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form(alias="pass")] = "",
    action: Annotated[str, Form()] = "stream_auth",
) -> Response:
    s = svc.settings
    yes = Response(headers={"icecast-auth-user": "1"})
    if action != "stream_auth":
        return Response(headers={"icecast-auth-message": "only stream_auth is handled here"})
    source = s.source_password.get_secret_value() if s.source_password else None
    if source and user == "source" and hmac.compare_digest(password.encode(), source.encode()):
        return yes
    slugs = {live_mount(c.data["slug"]): c.data["slug"] for c in svc.schedules.find("channel")}
    slug = slugs.get(mount)
    if slug is None:
        log.warning("source refused: not a live mount", extra={"mount": mount, "user": user})
        return Response(headers={"icecast-auth-message": "not a live mount"})
    desk = LiveDesk(svc.schedules, svc.users, svc.clock, s.live_margin_s)
    try:
        desk.authorise(slug, user, password)
    except (LiveRefused, NotFound) as e:
        log.warning("live source refused", extra={"mount": mount, "user": user, "why": e.message})
        return Response(headers={"icecast-auth-message": e.reason})
    log.info("live source accepted", extra={"mount": mount, "user": user})
    return yes
