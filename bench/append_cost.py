"""CPU and statement cost of one audit append on SQLite, per entry: ``AuditLog.append_many``
with 1 entry per transaction (a lone request) and 32 (a group commit's batch), on a database
in /dev/shm so that fsync does not hide the CPU. The check path pays this per decision.

Usage (compare two checkouts by running each one's copy, interleaved):
  .venv/bin/python -m bench.append_cost
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from service.audit.log import AuditLog, NewEntry
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, generate_signing_key
from service.db.engine import open_database
from service.db.migrations import create_schema

SHM = Path("/dev/shm")


def run(batch: int, total: int) -> float:
    """Microseconds per entry over ``total`` entries after a warm-up."""
    with tempfile.TemporaryDirectory(dir=SHM if SHM.is_dir() else None) as directory:
        database = open_database(f"sqlite:///{directory}/bench.db")
        create_schema(database)
        log = AuditLog(CheckpointSigner(generate_signing_key()), checkpoint_every=1000)
        subject = pseudonymise("900101300001", key=b"k" * 32)
        payload = {"decision_id": "x" * 36, "outcome": "eligible", "reasons": []}
        at = datetime(2026, 12, 5, tzinfo=UTC)
        entries = [
            NewEntry(kind="eligibility.check", subject=subject, payload=payload, recorded_at=at)
            for _ in range(batch)
        ]
        for _ in range(20):
            with database.writer.begin() as connection:
                log.append_many(connection, entries)
        started = time.perf_counter()
        written = 0
        while written < total:
            with database.writer.begin() as connection:
                log.append_many(connection, entries)
            written += batch
        elapsed = time.perf_counter() - started
        database.dispose()
        return elapsed / written * 1e6


def main() -> None:
    for batch, total in ((1, 4000), (32, 20000)):
        runs = [run(batch, total) for _ in range(3)]
        print(
            f"{batch:>3} per transaction: {statistics.median(runs):7.1f} µs per entry "
            f"(runs {', '.join(f'{r:.1f}' for r in runs)})"
        )


if __name__ == "__main__":
    main()
