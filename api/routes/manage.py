"""Editors' CRUD for the schedule: channels, programmes, episodes, playlists, clocks, entries.

Every resource has an ETag; PATCH and DELETE need If-Match (428 without, 412 when stale).
The same five routes are made for each resource by one function, so they behave alike.
(No `from __future__ import annotations` here: FastAPI must see the body models, which are
local to that function, as real types.)
"""

from datetime import datetime
from typing import Annotated, Any, Optional, cast

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, create_model

from accounts.tokens import Principal
from api.auth import Allowed, ServicesDep
from api.paging import Paged, Pages, paged
from api.problems import problems
from api.routes.media import parse_if_match
from api.schedule_schemas import (
    AuditOut,
    AuditPage,
    ChannelIn,
    ChannelOutEditor,
    ClockIn,
    ClockOut,
    EntryIn,
    EntryOut,
    EpisodeIn,
    EpisodeOut,
    PlaylistIn,
    PlaylistOut,
    ProgrammeIn,
    ProgrammeOut,
)
from api.schemas import left_out
from api.services import public_file_url
from api.upload import IMAGE_ANSWERS, IMAGE_BODY, IMAGE_MAX_BYTES, image_type, receive_body
from media.artwork import IMAGE_TYPES, check_image
from media.library import sha256_of
from schedules.service import Record

router = APIRouter(prefix="/api/v1/manage", tags=["editing"])


def partial(model: type[BaseModel]) -> type[BaseModel]:
    """The same fields, each of which may be left out: a PATCH body. A field keeps its type
    and its constraints, so a change is held to the rules of a new record (null only where a
    new record may have null)."""
    fields: dict[str, Any] = {
        name: (f.rebuild_annotation(), left_out(description=f.description))
        for name, f in model.model_fields.items()
    }
    return create_model(f"{model.__name__[:-2]}Patch", __base__=model.__base__, **fields)


def pascal(snake: str) -> str:
    return "".join(word.capitalize() for word in snake.split("_"))


def actor(who: Principal) -> str:
    return f"{who.name} ({who.role})"


def stored_values(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """Body fields as the database keeps them."""
    if kind == "entry" and "exdates" in body and body["exdates"] is not None:
        body["exdates"] = [x.isoformat() if isinstance(x, datetime) else x for x in body["exdates"]]
    return body


DRY_RUN = (
    "true: make every check of the write (conflicts, the frozen past, If-Match) and answer "
    "200 with the record as it would be, writing nothing and auditing nothing"
)


def dry_run_asked(
    dry_run: Annotated[bool, Query(description=DRY_RUN)] = False,
) -> bool:
    return dry_run


def never_dry() -> bool:
    return False


def crud(
    kind: str,
    path: str,
    model_in: type[BaseModel],
    model_out: type[BaseModel],
    filters: tuple[str, ...] = (),
    noun: tuple[str, str] | None = None,
    dry_runs: bool = False,
) -> None:
    """The five routes of one resource. `noun` (singular, plural; snake case) names its
    operations: listManagedChannels, createChannel, getManagedChannel, updateChannel,
    deleteChannel. With `dry_runs`, its POST and PATCH take `?dry_run=true`."""
    one_of, many = noun or (kind, path.strip("/"))
    dry = Depends(dry_run_asked if dry_runs else never_dry)
    model_patch = partial(model_in)
    plural = path.strip("/")
    by: dict[str, Any] = {f: (Optional[int], None) for f in filters}  # noqa: UP045
    model_where = create_model(f"{model_in.__name__[:-2]}Filter", **by)

    def out(rec: Record, response: Response, dry_run: bool = False) -> BaseModel:
        if not dry_run:  # a dry run's record is not stored: it has no ETag to match
            response.headers["ETag"] = rec.etag
        return model_out.model_validate(dict(rec.data))

    model_page = cast(
        type[Paged[Any]],
        create_model(f"Managed{pascal(many)}Page", __base__=Paged[model_out]),  # type: ignore[valid-type]
    )

    def list_all(
        where: Annotated[model_where, Query()],
        svc: ServicesDep,
        who: Allowed,
        pages: Annotated[Pages, paged(f"managed-{many}", 100)],
    ) -> Any:
        page = pages.whole(
            svc.schedules.find(kind, **where.model_dump(exclude_none=True)), lambda r: (r.id,)
        )
        return pages.answer(model_page, page, lambda r: model_out.model_validate(dict(r.data)))

    def read(rid: int, response: Response, svc: ServicesDep, who: Allowed) -> Any:
        return out(svc.schedules.get(kind, rid), response)

    def create(
        body: model_in,  # type: ignore[valid-type]
        response: Response,
        svc: ServicesDep,
        who: Allowed,
        dry_run: Annotated[bool, dry],
    ) -> Any:
        values = stored_values(kind, body.model_dump())  # type: ignore[attr-defined]
        rec = svc.schedules.create(kind, values, actor(who), dry_run=dry_run)
        if dry_run:
            response.status_code = 200
            return out(rec, response, dry_run)
        response.status_code = 201
        response.headers["Location"] = f"/api/v1/manage/{plural}/{rec.id}"
        return out(rec, response)

    def update(
        rid: int,
        body: model_patch,  # type: ignore[valid-type]
        response: Response,
        svc: ServicesDep,
        who: Allowed,
        dry_run: Annotated[bool, dry],
        if_match: Annotated[str | None, Header()] = None,
    ) -> Any:
        version = parse_if_match(if_match)
        changes = stored_values(kind, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
        rec = svc.schedules.update(kind, rid, version, changes, actor(who), dry_run=dry_run)
        return out(rec, response, dry_run)

    def delete(
        rid: int,
        svc: ServicesDep,
        who: Allowed,
        if_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        svc.schedules.delete(kind, rid, parse_if_match(if_match), actor(who))
        return Response(status_code=204)

    why = {409: "conflicts with the schedule, is still in use, or the past is frozen"}
    if dry_runs:
        why[409] += "; with ?dry_run=true the same answer, and nothing written"
    dry_answer: dict[int | str, dict[str, Any]] = (
        {200: {"model": model_out, "description": "?dry_run=true: as it would be; not written"}}
        if dry_runs
        else {}
    )
    one = f"{path}/{{rid}}"
    router.add_api_route(
        path,
        list_all,
        methods=["GET"],
        response_model=model_page,
        summary=f"List {plural}, by id",
        name=f"list_managed_{many}",
    )
    router.add_api_route(
        path,
        create,
        methods=["POST"],
        response_model=model_out,
        status_code=201,
        summary=f"Create a {kind}",
        name=f"create_{one_of}",
        responses={**dry_answer, **problems(409, 422, why=why)},
    )
    router.add_api_route(
        one,
        read,
        methods=["GET"],
        response_model=model_out,
        summary=f"Read a {kind}",
        name=f"get_managed_{one_of}",
        responses=problems(404),
    )
    router.add_api_route(
        one,
        update,
        methods=["PATCH"],
        response_model=model_out,
        summary=f"Change a {kind}",
        name=f"update_{one_of}",
        responses=problems(404, 409, 412, 422, 428, why=why),
    )
    router.add_api_route(
        one,
        delete,
        methods=["DELETE"],
        status_code=204,
        summary=f"Delete a {kind}",
        name=f"delete_{one_of}",
        responses=problems(404, 409, 412, 428, why=why),
    )


crud("channel", "/channels", ChannelIn, ChannelOutEditor)
crud("programme", "/programmes", ProgrammeIn, ProgrammeOut)
crud("episode", "/episodes", EpisodeIn, EpisodeOut, filters=("programme_id",))
crud("playlist", "/playlists", PlaylistIn, PlaylistOut)
crud("clock", "/clocks", ClockIn, ClockOut)
crud(
    "entry",
    "/entries",
    EntryIn,
    EntryOut,
    filters=("channel_id",),
    noun=("schedule_entry", "schedule_entries"),
    dry_runs=True,
)


@router.put(
    "/channels/{rid}/logo",
    response_model=ChannelOutEditor,
    summary="Give a channel its logo",
    openapi_extra=IMAGE_BODY,
    responses=problems(404, 412, 413, 415, 422, 428, 503, why=IMAGE_ANSWERS),
)
async def set_channel_logo(
    rid: int,
    request: Request,
    response: Response,
    svc: ServicesDep,
    who: Allowed,
    if_match: Annotated[str | None, Header()] = None,
) -> Any:
    """The image (checked by decoding it) is stored and the channel's `logo_url` points at it."""
    version = parse_if_match(if_match)
    mime = image_type(request)
    tmp = svc.library.staging_path(IMAGE_TYPES[mime][1])
    try:
        await receive_body(request, tmp, IMAGE_MAX_BYTES, "a logo")
        await check_image(svc.tools, tmp, mime)
        key = f"logos/{rid}/{sha256_of(tmp)[:16]}{IMAGE_TYPES[mime][1]}"
        kept_before = await run_in_threadpool(svc.storage.exists, key)  # the same image again
        await run_in_threadpool(svc.storage.put_file, key, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    url = public_file_url(svc.settings, key)
    try:
        rec = await run_in_threadpool(
            svc.schedules.update, "channel", rid, version, {"logo_url": url}, actor(who)
        )
    except BaseException:
        if not kept_before:
            await run_in_threadpool(svc.storage.delete, key)
        raise
    response.headers["ETag"] = rec.etag
    return ChannelOutEditor.model_validate(dict(rec.data))


@router.get(
    "/audit", response_model=AuditPage, summary="Who changed what, and when: the latest first"
)
def list_audit_events(
    svc: ServicesDep,
    who: Allowed,
    pages: Annotated[Pages, paged("audit", 100)],
    resource: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPage:
    before = pages.after_ints(1)
    page = svc.schedules.audit(resource, pages.limit, before[0] if before else None)
    return pages.answer(AuditPage, page, AuditOut.model_validate)
