"""On-air controls for editors: skip the item on air, play a media item now.

Each is an action stored for the resolver (`Schedules.act`), taking effect a few seconds
after it is given, so every playout hears of it before its instant; the guide, now-playing,
the radio line and the as-run follow from the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import Allowed, ServicesDep
from api.problems import problems
from api.routes.manage import actor
from api.schedule_schemas import ActionOut, PlayNowIn
from schedules.service import OnAirAction

router = APIRouter(prefix="/api/v1/manage/channels/{slug}", tags=["on-air"])
Slug = Annotated[str, Path(max_length=64, description="the channel's slug")]


def accepted(a: OnAirAction) -> ActionOut:
    return ActionOut(action_id=a.id, at=a.at)


@router.post(
    "/skip",
    status_code=202,
    response_model=ActionOut,
    summary="Skip the item on air: it ends within seconds and what follows plays",
    responses=problems(404, 409, why={409: "nothing is on air to skip (a gap's slate)"}),
)
def skip_on_air(slug: Slug, svc: ServicesDep, who: Allowed) -> ActionOut:
    return accepted(svc.schedules.act(slug, "skip", actor(who)))


@router.post(
    "/play-now",
    status_code=202,
    response_model=ActionOut,
    summary="Play a media item now (an urgent announcement); then the schedule resumes",
    responses=problems(
        404,
        409,
        422,
        why={
            409: "the media is not ready to air yet (its analysis is not done, or failed)",
            422: "no such media, or not of a kind the channel airs (sound on radio, video on TV)",
        },
    ),
)
def play_now(slug: Slug, body: PlayNowIn, svc: ServicesDep, who: Allowed) -> ActionOut:
    return accepted(svc.schedules.act(slug, "play-now", actor(who), body.media_id))
