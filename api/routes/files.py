"""Stored files served by the API itself: the embedded default (production uses nginx/CDN)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.responses import Response

from api.auth import ServicesDep
from api.problems import problems
from media.errors import NotFound
from media.storage import LocalStorage, check_key, content_type

router = APIRouter(tags=["files"])
BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
TEXT = {"text/plain": {"schema": {"type": "string"}}}
# From local storage, a Range request is answered by Starlette's FileResponse (players seek).
STORED = {
    200: {"description": "the file, typed by its name", "content": BYTES},
    206: {"description": "the bytes a Range asked for (local storage)", "content": BYTES},
    400: {"description": "a Range header that cannot be read (local storage)", "content": TEXT},
    416: {"description": "a Range past the end of the file (local storage)", "content": TEXT},
    **problems(404, 503, why={503: "the storage cannot be read now"}),
}


def says(path: Path, body: bytes) -> bool:
    try:
        return path.read_bytes() == body
    except OSError:
        return False


@router.get(
    "/files/{key:path}",
    summary="A stored file (artwork, subtitles, media)",
    response_class=Response,
    responses=STORED,
)
async def get_file(key: str, svc: ServicesDep, request: Request) -> Response:
    try:
        key = check_key(key)
    except Exception as exc:
        raise NotFound(f"no stored file {key}") from exc
    ctype = content_type(key)
    if isinstance(svc.storage, LocalStorage):
        # On the event loop: a stat, or reading a playlist of a few KB from a local disk,
        # costs less than the thread pool trip that would be made for it.
        path = svc.storage.path(key)
        if key.endswith(".m3u8"):  # a playlist: a few KB, read again every few seconds
            try:
                text = path.read_bytes()
            except (FileNotFoundError, IsADirectoryError) as exc:
                raise NotFound(f"no stored file {key}") from exc
            # The answer holds while the file says the same (reading a few KB costs far less
            # than the framework; a file's times are too coarse to tell two writes apart).
            request.state.replay = partial(says, path, text)
            return Response(text, media_type=ctype)  # tagged by HttpCache
        if not path.is_file():
            raise NotFound(f"no stored file {key}")
        # FileResponse answers Range requests, so players can seek.
        return FileResponse(path, media_type=ctype)
    body = await asyncio.to_thread(svc.storage.open, key)  # a bucket: over the network

    def chunks() -> Iterator[bytes]:
        try:
            while block := body.read(256 * 1024):
                yield block
        finally:
            body.close()

    return StreamingResponse(chunks(), media_type=ctype)
