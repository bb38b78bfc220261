"""Liveness and readiness: answers once the database is reachable."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.auth import ServicesDep
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(svc: ServicesDep) -> Health:
    with svc.db.session() as s:
        s.execute(text("SELECT 1"))
    return Health(
        status="ok",
        database=svc.db.engine.dialect.name,
        storage=svc.storage.describe(),
        ffmpeg=svc.tools.source,
    )
