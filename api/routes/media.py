"""The media library over HTTP: upload, list, read, edit (editor token required)."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import Allowed, ServicesDep
from api.paging import Pages, paged
from api.problems import Problem, problems
from api.schemas import JobOut, Kind, MediaOut, MediaPage, MediaPatch, PeaksOut, UploadOut
from api.upload import (
    IMAGE_ANSWERS,
    IMAGE_BODY,
    IMAGE_MAX_BYTES,
    image_type,
    receive_body,
    receive_upload,
    take_in,
)
from media.artwork import IMAGE_TYPES
from media.library import IngestOptions

router = APIRouter(prefix="/api/v1/media", tags=["media"])
SUBTITLE_MAX_BYTES = 5 * 1024 * 1024

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"type": "string", "enum": list(get_args(Kind))},
                        "title": {"type": "string"},
                        "artist": {"type": "string"},
                        "languages": {
                            "type": "string",
                            "description": "comma-separated, e.g. az,en",
                        },
                    },
                }
            }
        },
    }
}


def parse_if_match(value: str | None) -> int:
    """Our ETags are "m<id>v<version>"; If-Match carries one back."""
    if not value:
        raise Problem(
            428,
            "Precondition required",
            "send If-Match with the ETag you read",
            "if-match-required",
        )
    tag = value.strip().removeprefix("W/").strip('"')
    _, sep, version = tag.rpartition("v")
    if not sep or not version.isdigit():
        raise Problem(
            412,
            "Precondition failed",
            f"If-Match {value!r} is not an ETag of ours",
            "stale-version",
        )
    return int(version)


@router.post(
    "",
    status_code=201,
    response_model=UploadOut,
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"model": UploadOut, "description": "the file was already in the library"},
        **problems(
            413,
            422,
            503,
            why={
                413: "larger than the upload limit",
                422: "not usable media (problem+json says why)",
            },
        ),
    },
)
async def upload_media(
    request: Request, response: Response, svc: ServicesDep, who: Allowed
) -> UploadOut:
    lib = svc.library
    staged = await receive_upload(request, lib.staging_path, lib.max_upload_bytes)
    try:
        f = staged.fields
        langs = tuple(x.strip() for x in f.get("languages", "").split(",") if x.strip())
        kind = f.get("kind") or None
        result, job = await take_in(
            svc,
            staged.path,  # type: ignore[arg-type]
            staged.filename,  # type: ignore[arg-type]
            IngestOptions(
                kind=kind,
                title=f.get("title") or None,
                artist=f.get("artist"),
                languages=langs or None,
            ),
            sha256=staged.sha256,
        )
    finally:
        staged.discard()
    response.status_code = 201 if result.created else 200
    response.headers["Location"] = f"/api/v1/media/{result.item.id}"
    response.headers["ETag"] = result.item.etag
    return UploadOut(
        media=MediaOut.of(result.item, svc.settings),
        created=result.created,
        job=JobOut.of(job) if job else None,
    )


@router.get("", response_model=MediaPage, summary="The library, the latest added first")
def list_media(
    svc: ServicesDep,
    who: Allowed,
    pages: Annotated[Pages, paged("media", 50, most=200)],
    kind: Kind | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|ready|failed)$")] = None,
    q: Annotated[str | None, Query(max_length=200, description="words in title/artist")] = None,
) -> MediaPage:
    before = pages.after_ints(1)
    page = svc.library.list(
        kind=kind, status=status, q=q, before_id=before[0] if before else None, limit=pages.limit
    )
    return pages.answer(MediaPage, page, lambda m: MediaOut.of(m, svc.settings))


@router.get("/{media_id}", response_model=MediaOut, responses=problems(404))
def get_media(media_id: int, response: Response, svc: ServicesDep, who: Allowed) -> MediaOut:
    item = svc.library.get(media_id)
    response.headers["ETag"] = item.etag
    return MediaOut.of(item, svc.settings)


@router.get(
    "/{media_id}/peaks",
    response_model=PeaksOut,
    summary="A media item's waveform peaks",
    responses=problems(
        404,
        422,
        503,
        why={422: "its sound could not be decoded (problem+json says why)"},
    ),
)
async def get_media_peaks(media_id: int, svc: ServicesDep, who: Allowed) -> Response:
    """Measured at analysis; for an item analysed before peaks were, measured at the first ask."""
    peaks = await svc.library.peaks(media_id)
    return Response(peaks.to_json(), media_type="application/json")


@router.patch(
    "/{media_id}",
    response_model=MediaOut,
    responses=problems(404, 412, 422, 428),
)
def update_media(
    media_id: int,
    body: MediaPatch,
    response: Response,
    svc: ServicesDep,
    who: Allowed,
    if_match: Annotated[str | None, Header()] = None,
) -> MediaOut:
    version = parse_if_match(if_match)
    changes = body.model_dump(exclude_unset=True)
    item = svc.library.update(media_id, version, changes)
    response.headers["ETag"] = item.etag
    return MediaOut.of(item, svc.settings)


@router.put(
    "/{media_id}/subtitles/{lang}",
    response_model=MediaOut,
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/vtt": {"schema": {"type": "string"}}}}
    },
    responses=problems(
        404,
        413,
        422,
        503,
        why={
            413: "larger than 5 MiB: refused as soon as that many bytes arrived",
            422: "not WebVTT, or not a language code (problem+json says why)",
        },
    ),
)
async def set_media_subtitle(
    media_id: int, lang: str, request: Request, response: Response, svc: ServicesDep, who: Allowed
) -> MediaOut:
    """Attach a WebVTT subtitle in one language (az, en, ru, ...), replacing any before it."""
    lib = svc.library
    tmp = lib.staging_path(".vtt")
    try:
        await receive_body(request, tmp, SUBTITLE_MAX_BYTES, "a subtitle file")
        item = await run_in_threadpool(lib.set_subtitle, media_id, lang, tmp)
    finally:
        tmp.unlink(missing_ok=True)
    response.headers["ETag"] = item.etag
    return MediaOut.of(item, svc.settings)


@router.delete(
    "/{media_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a media item and its stored files",
    responses=problems(
        404,
        409,
        503,
        why={
            409: "still used (`media-in-use`): `used_by` names the schedule entries, playlists, "
            "clocks, episodes, programmes and channels that use it"
        },
    ),
)
async def delete_media(media_id: int, svc: ServicesDep, who: Allowed) -> Response:
    """Refused while anything uses it; otherwise its row goes (audited), then its files."""
    item = await run_in_threadpool(svc.schedules.delete_media, media_id, who.name)
    await run_in_threadpool(svc.library.remove_files, item)
    return Response(status_code=204)


@router.put(
    "/{media_id}/artwork",
    response_model=MediaOut,
    openapi_extra=IMAGE_BODY,
    responses=problems(404, 413, 415, 422, 503, why=IMAGE_ANSWERS),
)
async def set_media_artwork(
    media_id: int, request: Request, response: Response, svc: ServicesDep, who: Allowed
) -> MediaOut:
    """Give an item its artwork (a cover, a poster), in place of the one taken from its file."""
    mime = image_type(request)
    lib = svc.library
    tmp = lib.staging_path(IMAGE_TYPES[mime][1])
    try:
        await receive_body(request, tmp, IMAGE_MAX_BYTES, "an artwork image")
        item = await lib.set_artwork(media_id, tmp, mime)
    finally:
        tmp.unlink(missing_ok=True)
    response.headers["ETag"] = item.etag
    return MediaOut.of(item, svc.settings)
