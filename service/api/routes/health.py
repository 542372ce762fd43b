"""Liveness, readiness and metrics: for the orchestrator and Prometheus, no token needed."""

from __future__ import annotations

from typing import Literal

import anyio
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from service.api.bodies import JsonBodyRoute
from service.api.deps import MetricsDep, ReadinessDep
from service.api.schemas import Health
from service.errors import ErrorCode, ServiceError
from service.observability.metrics import MEDIA_TYPE
from service.observability.readiness import CheckStatus

router = APIRouter(tags=["health"], route_class=JsonBodyRoute)


class ReadinessChecks(BaseModel):
    database: CheckStatus
    registry: CheckStatus
    addresses: CheckStatus


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: ReadinessChecks


class PrometheusText(Response):
    # Starlette appends "; charset=utf-8"; the contract names the type without it.
    media_type = MEDIA_TYPE


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness)
async def readyz(readiness: ReadinessDep) -> Readiness:
    report = await readiness.report()
    checks = {name: status.value for name, status in report.checks.items()}
    if not report.is_ready:
        raise ServiceError(ErrorCode.SERVICE_UNAVAILABLE, checks=checks)
    return Readiness(status="ready", checks=ReadinessChecks.model_validate(checks))


@router.get("/metrics", response_class=PrometheusText)
async def metrics(metrics: MetricsDep) -> PrometheusText:
    # Off the event loop: the audit gauges query the database while rendering.
    body = await anyio.to_thread.run_sync(metrics.render)
    return PrometheusText(body)
