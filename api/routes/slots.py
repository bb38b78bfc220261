"""A presenter's own slots: where and when they are on next, from the resolved guide, by the
same rule the live desk lets them onto the live mount with (`playout.live.LiveDesk`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Allowed, ServicesDep
from api.lang import LangDep
from api.problems import problems
from api.routes.stream_keys import NOT_A_PERSON, person
from schedules.guide import pick
from schedules.plan import from_ms

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class SlotOut(BaseModel):
    channel: str = Field(description="the channel's slug")
    programme: str = Field(description="the programme's slug")
    programme_title: str = Field(description="in the language asked for (else Azerbaijani)")
    start: datetime
    end: datetime


class SlotsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slots": [
                        {
                            "channel": "diaspor-fm",
                            "programme": "veten-uzaqda-deyil",
                            "programme_title": "Vətən uzaqda deyil",
                            "start": "2026-12-06T16:00:00Z",
                            "end": "2026-12-06T17:00:00Z",
                        }
                    ]
                }
            ]
        }
    )

    slots: list[SlotOut] = Field(description="in time order; one under way now included")


@router.get(
    "/me/slots",
    response_model=SlotsOut,
    summary="Your upcoming slots as a presenter, on every channel",
    description=(
        "The slots of the programmes that name you (your username or display name) among "
        "their presenters, from now for `days` days, as the guide resolves them: the slots "
        "your stream key lets you go live in (± DIASPOR_LIVE_MARGIN_S)."
    ),
    responses=problems(404, 409, why={404: "your account is gone", 409: NOT_A_PERSON}),
)
async def list_my_slots(
    svc: ServicesDep,
    who: Allowed,
    lang: LangDep,
    response: Response,
    days: Annotated[int, Query(ge=1, le=31, description="how many days ahead")] = 14,
) -> SlotsOut:
    person(who)
    user = await run_in_threadpool(svc.users.get, who.name)
    slots = await run_in_threadpool(svc.live_desk.slots_of, user, days)
    response.headers["Content-Language"] = lang
    return SlotsOut(
        slots=[
            SlotOut(
                channel=s.channel,
                programme=s.programme,
                programme_title=pick(s.titles, lang),
                start=from_ms(s.start_ms),
                end=from_ms(s.end_ms),
            )
            for s in slots
        ]
    )
