"""Stream keys: what a presenter's source client sends to go live (`accounts/stream_keys.py`).

Each signed-in person makes, rotates and revokes their own; an admin may revoke anyone's (a
presenter who leaves, a key seen where it should not be). The key is shown once, when it is
made; afterwards only its last four characters.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.auth import Allowed, ServicesDep
from api.problems import Problem, problems
from api.routes.auth import NO_STORE
from playout.live import live_mount

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
log = logging.getLogger(__name__)


class StreamKeyOut(BaseModel):
    hint: str = Field(description="the key's last four characters")
    created_at: datetime


class NewStreamKeyOut(StreamKeyOut):
    key: str = Field(description="the stream key: shown this once")
    username: str = Field(description="the source client's user name")
    mounts: list[str] = Field(description="the channels' live mounts")


NO_KEY = "no stream key (none made yet, or it was revoked)"
NOT_A_PERSON = "an API key, not a person: sign in as the one who goes live"


def person(who: Allowed) -> int:
    if who.user_id is None:
        raise Problem(
            409,
            "Conflict",
            "stream keys belong to people: sign in as the one who goes live (an API key has none)",
            "not-a-person",
        )
    return who.user_id


def no_key(whose: str) -> Problem:
    return Problem(404, "Not found", f"{whose} no stream key", "no-stream-key")


@router.get(
    "/me/stream-key",
    response_model=StreamKeyOut,
    summary="Your stream key: when it was made and its last characters (never the key)",
    responses=problems(404, 409, why={404: NO_KEY, 409: NOT_A_PERSON}),
)
async def get_my_stream_key(svc: ServicesDep, who: Allowed) -> StreamKeyOut:
    info = await run_in_threadpool(svc.stream_keys.info, person(who))
    if info is None:
        raise no_key("you have")
    return StreamKeyOut(hint=info.hint, created_at=info.created_at)


@router.post(
    "/me/stream-key",
    response_model=NewStreamKeyOut,
    status_code=201,
    summary="Make a new stream key (the old one stops working); shown once",
    description=(
        "Set your source client (BUTT, Mixxx, ffmpeg) to your live mount with your username "
        "as the user and this key as the password. Making a new key ends the old one."
    ),
    responses=problems(409, why={409: NOT_A_PERSON}),
)
async def rotate_my_stream_key(
    svc: ServicesDep, who: Allowed, response: Response
) -> NewStreamKeyOut:
    key, info = await run_in_threadpool(svc.stream_keys.issue, person(who))
    log.info("stream key made", extra={"username": who.name, "hint": info.hint})
    channels = await run_in_threadpool(svc.schedules.find, "channel")
    response.headers.update(NO_STORE)
    return NewStreamKeyOut(
        hint=info.hint,
        created_at=info.created_at,
        key=key,
        username=who.name,
        mounts=[live_mount(c.data["slug"]) for c in channels if c.data["kind"] == "radio"],
    )


@router.delete(
    "/me/stream-key",
    status_code=204,
    summary="Revoke your stream key",
    responses=problems(404, 409, why={404: NO_KEY, 409: NOT_A_PERSON}),
)
async def delete_my_stream_key(svc: ServicesDep, who: Allowed) -> Response:
    if not await run_in_threadpool(svc.stream_keys.revoke, person(who)):
        raise no_key("you have")
    log.info("stream key revoked", extra={"username": who.name, "by": who.name})
    return Response(status_code=204)


@router.delete(
    "/users/{username}/stream-key",
    status_code=204,
    summary="Revoke someone's stream key",
    responses=problems(404, why={404: "no such user, or they have no stream key"}),
)
async def delete_user_stream_key(username: str, svc: ServicesDep, who: Allowed) -> Response:
    user = await run_in_threadpool(svc.users.get, username)  # NotFound: a 404
    if not await run_in_threadpool(svc.stream_keys.revoke, user.id):
        raise no_key(f"{username} has")
    log.info("stream key revoked", extra={"username": username, "by": who.name})
    return Response(status_code=204)
