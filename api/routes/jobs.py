"""Background jobs: what the worker is doing and how far it got."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import Allowed, ServicesDep
from api.problems import Problem, problems
from api.schemas import JobOut

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut, responses=problems(404))
def get_job(job_id: int, svc: ServicesDep, who: Allowed) -> JobOut:
    job = svc.queue.get(job_id)
    if job is None:
        raise Problem(404, "Not found", f"there is no job {job_id}", "not-found")
    return JobOut.of(job)
