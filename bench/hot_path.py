"""Where a check's CPU goes, measured in one process with no network in the way.

The service (real auth, logging, metrics, group commit on a SQLite file) and the bare app are
driven through httpx's ASGI transport by 64 concurrent tasks; the upstreams are in-process
fakes answering batch lookups from memory. CPU time per request is process time divided by
requests, so neighbours on a shared machine cost wall time here, not CPU. The difference
between the two apps is what the service adds to a request; ``--profile`` prints cProfile's
view of it. Usage: .venv/bin/python -m bench.hot_path [--requests N] [--profile]

Ablations, to see what each part costs (BENCHMARKS.md quotes them):
  BENCH_LOG_LEVEL=30                   no INFO lines (the canonical request line is one)
  BENCH_NO_UPSTREAM_CLIENTS=1          in-memory upstream sources instead of the HTTP clients
  BENCH_ABLATE=commit,metrics,ratelimit  no group commit / Prometheus / rate limiter
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.bare import app as bare_app
from bench.service_vs_bare import bench_token, prepare_service
from service.adapters.pipeline import Transports
from service.api.app import create_app
from service.clock import FixedClock
from service.config import Settings
from service.db.group_commit import DecisionWriter
from service.demo import (
    ensure_country,
    ensure_keys,
    inside_the_window,
)
from service.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 64


def fake_upstreams(country: Path) -> Transports:
    persons: dict[str, Any] = {}
    with (country / "population.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = orjson.loads(line)
            persons[record["iin"]] = record
    registrations: dict[str, list[Any]] = {}
    with (country / "registrations.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = orjson.loads(line)
            registrations.setdefault(record["iin"], []).append(record)

    def registry(request: httpx.Request) -> httpx.Response:
        iins = orjson.loads(request.content)["iins"]
        results = [{"iin": i, "found": i in persons, "person": persons.get(i)} for i in iins]
        return httpx.Response(200, content=orjson.dumps({"results": results}))

    def addresses(request: httpx.Request) -> httpx.Response:
        iins = orjson.loads(request.content)["iins"]
        results = [{"iin": i, "registrations": registrations.get(i, [])} for i in iins]
        return httpx.Response(200, content=orjson.dumps({"results": results}))

    return Transports(
        registry=httpx.MockTransport(registry), addresses=httpx.MockTransport(addresses)
    )


async def drive(app: Any, bodies: list[bytes], token: str, requests: int) -> float:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        queue = iter(range(requests))
        failures = 0

        async def worker() -> None:
            nonlocal failures
            for n in queue:
                response = await client.post(
                    "/v1/eligibility/check", content=bodies[n % len(bodies)], headers=headers
                )
                failures += response.status_code != 200

        started = time.process_time()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        used = time.process_time() - started
        if failures:
            raise SystemExit(f"{failures} requests failed")
    return used * 1e6 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cache = ROOT / "var" / "bench"
    keys = ensure_keys(cache / "keys")
    country = cache / "country"
    ensure_country(country, persons=20_000, seed=2026)
    work = Path(tempfile.mkdtemp(prefix="voter-hot-path-"))
    clock = inside_the_window(country)
    prepare_service(
        work,
        keys,
        country,
        registry_url="http://registry",
        addresses_url="http://addresses",
        clock=clock,
    )
    settings = Settings()
    configure_logging(json_output=True, level=int(os.environ.get("BENCH_LOG_LEVEL", "20")))
    election = json.loads((country / "elections.jsonl").read_text().splitlines()[0])["id"]
    iins = [orjson.loads(line)["iin"] for line in (country / "population.jsonl").open()][:5000]
    bodies = [orjson.dumps({"iin": iin, "election_id": election}) for iin in iins]
    token = bench_token(keys, clock)
    if os.environ.get("BENCH_NO_UPSTREAM_CLIENTS"):
        # Ablation: the upstreams as in-memory sources, no HTTP client layers at all.
        import service.bootstrap as app_module
        from service.adapters.pipeline import Upstreams
        from service.datafiles import PersonRecord, RegistrationRecord, iter_records

        people = {
            r.iin: r.to_domain()
            for _, r in iter_records(country / "population.jsonl", PersonRecord)
        }
        homes: dict[str, list[Any]] = {}
        for _, r in iter_records(country / "registrations.jsonl", RegistrationRecord):
            homes.setdefault(r.iin, []).append(r.to_domain())

        class Memory:
            async def lookup(self, iin: str) -> Any:
                return people.get(iin)

            async def registrations(self, iin: str) -> Any:
                return tuple(homes.get(iin, ()))

        def in_memory(*_args: Any, **_kwargs: Any) -> Upstreams:
            return Upstreams(persons=Memory(), registrations=Memory(), clients={}, guards=())

        app_module.build_upstreams = in_memory  # type: ignore[attr-defined]
    ablate = set(filter(None, os.environ.get("BENCH_ABLATE", "").split(",")))
    if "commit" in ablate:
        from service.usecases.ports import NO_STANDING, Receipt, Recorded

        async def no_commit(self: Any, job: Any) -> Any:
            decided = job.decide(NO_STANDING, clock)
            return Recorded(decided.result, clock, Receipt(1, "0" * 64))

        DecisionWriter.decide_and_record = no_commit  # type: ignore[method-assign]
    if "metrics" in ablate:
        from service.observability.metrics import Metrics

        for name in ("observe_request", "count_decision", "observe_upstream"):
            setattr(Metrics, name, lambda *a, **k: None)
    if "ratelimit" in ablate:
        from service.ratelimit import RequestLimits

        RequestLimits.admit = lambda *a, **k: None  # type: ignore[method-assign]
    service = create_app(settings, clock=FixedClock(clock), transports=fake_upstreams(country))
    commit_cpu = [0.0, 0]
    original_commit = DecisionWriter._commit

    def timed_commit(self: DecisionWriter, jobs: Any) -> Any:
        started = time.thread_time()
        try:
            return original_commit(self, jobs)
        finally:
            commit_cpu[0] += time.thread_time() - started
            commit_cpu[1] += 1

    DecisionWriter._commit = timed_commit  # type: ignore[method-assign]

    async def measure() -> tuple[float, float]:
        async with service.router.lifespan_context(service):
            await drive(service, bodies, token, 300)  # warm-up
            await drive(bare_app, bodies, token, 300)
            bare = await drive(bare_app, bodies, token, args.requests)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
            commit_cpu[:] = [0.0, 0]
            ours = await drive(service, bodies, token, args.requests)
            if args.profile:
                profiler.disable()
                text = io.StringIO()
                stats = pstats.Stats(profiler, stream=text)
                stats.sort_stats("cumulative").print_stats(
                    r"service/|fastapi/routing|fastapi/dependencies/utils.py.*solve|structlog|"
                    r"prometheus_client/metrics|sqlalchemy/orm/session.py.*commit",
                    45,
                )
                print(text.getvalue())
                callees = io.StringIO()
                pstats.Stats(profiler, stream=callees).sort_stats("cumulative").print_callees(
                    "solve_dependencies"
                )
                print(callees.getvalue()[:6000])
        return bare, ours

    # stderr is where the service's JSON lines go; keep them off the terminal.
    with open(os.devnull, "w") as sink, contextlib_redirect(sink):
        bare, ours = asyncio.run(measure())
    print(f"CPU per request, {CONCURRENCY} in flight, {args.requests} requests, in-process:")
    print(f"  bare FastAPI app                 {bare:8.0f} µs  (includes the httpx client)")
    print(f"  eligibility check (fake upstreams){ours:8.0f} µs")
    print(f"  what the service adds            {ours - bare:8.0f} µs")
    print(
        f"    of which the group commit thread {commit_cpu[0] * 1e6 / args.requests:6.0f} µs"
        f" ({commit_cpu[1]} commits, {args.requests / max(commit_cpu[1], 1):.1f} decisions each)"
    )


def contextlib_redirect(sink: Any) -> Any:
    import contextlib
    import sys

    if os.environ.get("BENCH_SHOW_LOGS"):
        return contextlib.nullcontext()
    return contextlib.redirect_stderr(sink) if sys.stderr.isatty() else contextlib.nullcontext()


if __name__ == "__main__":
    main()
