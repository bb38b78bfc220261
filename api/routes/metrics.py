"""The process's metrics for Prometheus (`station/metrics.py`), in its text format.

Not in the OpenAPI document: it is for the operator's scraper, not for apps (a generated
client has no use for it), and its format is Prometheus's, versioned by its content type.
Like `/health` it needs no credential; nginx does not pass it on from outside
(`deploy/nginx.conf`), so it is read on the internal network, from each API replica.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.auth import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def get_metrics(svc: ServicesDep) -> Response:
    body = await svc.metrics.render()
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
