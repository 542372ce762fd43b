"""The baseline: a bare FastAPI app answering a small JSON document, served like the service."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/eligibility/check")
async def check() -> dict[str, str]:
    return {"outcome": "eligible", "precinct": "75-0123"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
