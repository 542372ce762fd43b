"""Audit appends per second through the real code path, with 1, 4 and 8 concurrent writers.

Each writer is a process with its own DecisionWriter (what one service worker or replica holds):
decision row plus hash-chained audit entry, committed by the group commit. Every writer
keeps ``--in-flight`` decisions outstanding (1: a worker serving one request at a time, the
worst case for grouping; 32: a busy worker). All writers share one chain, so this measures
where the single chain's lock (PostgreSQL: a transaction-level advisory lock; SQLite: the
database's write lock) becomes the bottleneck. Afterwards the chain must verify and hold
exactly the decisions written.

Usage:
  .venv/bin/python -m bench.audit_appends --database-url postgresql+psycopg://... [--writers 1,4,8]
  bench/audit-appends        starts a throwaway PostgreSQL (scripts/postgres) and runs this
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.audit.log import AuditLog
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, CheckpointVerifier, generate_signing_key
from service.audit.verify import verify_database
from service.clock import SystemClock
from service.db.engine import open_database, read_session
from service.db.group_commit import DecisionWriter
from service.db.migrations import create_schema
from service.usecases.ports import already_decided

HMAC_KEY = b"bench-audit-appends-hmac-key-0123456789"


def _writer(url: str, key: str, writer: int, seconds: float, in_flight: int, out: object) -> None:
    database = open_database(url)
    decisions = DecisionWriter(
        database=database,
        audit_log=AuditLog(CheckpointSigner(key), checkpoint_every=1000),
        clock=SystemClock(),
    )

    async def one_stream(stream: int, deadline: float) -> int:
        written = 0
        while time.monotonic() < deadline:
            decision_id = str(uuid.uuid4())
            await decisions.decide_and_record(
                already_decided(
                    kind="eligibility.check",
                    subject=pseudonymise(f"{writer:03d}{stream:03d}{written:06d}", key=HMAC_KEY),
                    decision_id=decision_id,
                    election_id="2027-president",
                    outcome="eligible",
                    payload={"decision_id": decision_id, "outcome": "eligible", "reasons": []},
                )
            )
            written += 1
        return written

    async def run() -> int:
        deadline = time.monotonic() + seconds
        counts = await asyncio.gather(*(one_stream(s, deadline) for s in range(in_flight)))
        await decisions.aclose()
        return sum(counts)

    total = asyncio.run(run())
    database.dispose()
    out.put(total)  # type: ignore[attr-defined]


def _fresh_database(url: str, name: str) -> str:
    """A new, empty database for one measurement (the log is append-only: no resetting)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        fresh = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-audit-')) / name}.db"
    else:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        fresh = parsed.set(database=name).render_as_string(hide_password=False)
    database = open_database(fresh)
    create_schema(database)
    database.dispose()
    return fresh


def measure(url: str, key: str, *, writers: int, in_flight: int, seconds: float) -> float:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=_writer, args=(url, key, w, seconds, in_flight, results))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    total = sum(results.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join()
    # Each writer counts only inside its own window of ``seconds``; start-up is not counted.
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--writers", default="1,4,8")
    parser.add_argument("--in-flight", default="1,32", help="outstanding decisions per writer")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    key = generate_signing_key()
    print(f"{os.cpu_count()} CPUs; {args.database_url.split('@')[-1]}; {args.seconds:.0f} s each")
    print("| writers | in flight per writer | appends/s | chain verifies |")
    print("|---------|----------------------|-----------|----------------|")
    for in_flight in [int(n) for n in args.in_flight.split(",")]:
        for writers in [int(n) for n in args.writers.split(",")]:
            url = _fresh_database(args.database_url, f"bench_audit_{writers}_{in_flight}")
            rate = measure(url, key, writers=writers, in_flight=in_flight, seconds=args.seconds)
            database = open_database(url)
            report = verify_database(
                database, verifier=CheckpointVerifier(CheckpointSigner(key).public_key_pem)
            )
            with read_session(database) as session:
                decisions = session.connection().execute(text("SELECT count(*) FROM decisions"))
                matches = decisions.scalar_one() == report.entries_checked
            database.dispose()
            print(
                f"| {writers:>7} | {in_flight:>20} | {rate:>9.0f} |"
                f" {'yes' if report.ok and matches else 'NO: ' + report.detail:>14} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
