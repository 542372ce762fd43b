"""A citizen's access log at country scale: how long reading one voter's accesses takes in an
audit log of 12 million entries, against the same read in a log of 100,000 built in the same
run (the ratio says what the log's size costs; the absolute figures say what the machine did).

Each log is a real service database (SQLite file, the migrated schema, its indexes) filled
with entries shaped like the service's (kinds in voting-day proportions, payloads with an
actor, pseudonym subjects of one voter per ten entries); the rows are inserted directly, not
chained, since the hash chain plays no part in reading them. The read is the service's own
(``SqlAuditTrail.about`` in a read session), for voters drawn at random.

Usage:
  .venv/bin/python -m bench.access_log [--entries 12000000] [--reads 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner, generate_signing_key
from service.audit.tables import AuditEntryRow
from service.db.engine import open_database, read_session
from service.db.migrations import create_schema
from service.db.storage import SqlAuditTrail

ENTRIES_PER_VOTER = 10
BASELINE_ENTRIES = 100_000
BATCH = 20_000
KINDS = (
    ("eligibility.check", 70),
    ("roll.decision", 15),
    ("precinct.check", 10),
    ("day_registration.create", 2),
    ("override.lookup", 2),
    ("list_entry.add", 1),
)
START = dt.datetime(2027, 3, 21, 2, 0, tzinfo=dt.UTC)


def _subject(voter: int) -> str:
    return "v1:" + hashlib.sha256(voter.to_bytes(8, "big")).hexdigest()


def _body(seq: int, kind: str, subject: str, at: str) -> str:
    return (
        f'{{"kind":"{kind}","payload":{{"actor":{{"org":"egov","roles":["egov"],'
        f'"sub":"clerk-{seq % 5000}@egov.kz"}},"basis":"permanent_registration",'
        f'"election_id":"2027-president","outcome":"eligible","precinct_id":"75-0123",'
        f'"request_id":"r-{seq}"}},"recorded_at":"{at}","seq":{seq},"subject":"{subject}"}}'
    )


def build(path: Path, entries: int, *, seed: int = 1) -> float:
    """A service database holding ``entries`` entries; returns the seconds it took."""
    started = time.perf_counter()
    database = open_database(f"sqlite:///{path}")
    create_schema(database)
    rng = random.Random(seed)
    voters = max(1, entries // ENTRIES_PER_VOTER)
    kinds = [kind for kind, weight in KINDS for _ in range(weight)]
    table = AuditEntryRow.metadata.tables["audit_entries"]
    statement = insert(table)
    with database.writer.begin() as connection:
        for first in range(1, entries + 1, BATCH):
            rows = []
            for seq in range(first, min(first + BATCH, entries + 1)):
                at = START + dt.timedelta(milliseconds=seq)
                subject = _subject(rng.randrange(voters))
                kind = rng.choice(kinds)
                rows.append(
                    {
                        "seq": seq,
                        "prev_hash": "0" * 64,
                        "entry_hash": "0" * 64,
                        "kind": kind,
                        "subject": subject,
                        "body": _body(seq, kind, subject, at.isoformat()),
                        "recorded_at": at,
                    }
                )
            connection.execute(statement, rows)
    database.dispose()
    return time.perf_counter() - started


def read_times(path: Path, entries: int, reads: int, *, seed: int = 2) -> list[float]:
    """Milliseconds per access-log read (newest 100) of ``reads`` random voters."""
    database = open_database(f"sqlite:///{path}")
    audit_log = AuditLog(CheckpointSigner(generate_signing_key()))
    rng = random.Random(seed)
    voters = max(1, entries // ENTRIES_PER_VOTER)
    times: list[float] = []
    found = 0
    try:
        with read_session(database) as session:
            trail = SqlAuditTrail(session, audit_log)
            for _ in range(reads):
                subject = _subject(rng.randrange(voters))
                started = time.perf_counter()
                found += len(trail.about(subject, before_seq=None, limit=100))
                times.append((time.perf_counter() - started) * 1000)
    finally:
        database.dispose()
    assert found > 0, "no voter had an entry: the bench read nothing"
    return times


def _summary(label: str, times: list[float]) -> float:
    ordered = sorted(times)
    median = statistics.median(ordered)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{label:<30} median {median:7.3f} ms   p95 {p95:7.3f} ms   max {ordered[-1]:7.3f} ms")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=12_000_000)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="build the logs here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        medians = []
        for entries in (BASELINE_ENTRIES, args.entries):
            path = directory / f"access-{entries}.db"
            if not path.exists():
                seconds = build(path, entries)
                size = path.stat().st_size >> 20
                print(f"built {entries:,} entries in {seconds:.0f} s ({size} MiB)")
            read_times(path, entries, 20)  # warm the page cache as a running service has it
            medians.append(_summary(f"{entries:,} entries", read_times(path, entries, args.reads)))
        print(
            f"ratio (median {args.entries:,} / {BASELINE_ENTRIES:,}): {medians[1] / medians[0]:.2f}"
        )


if __name__ == "__main__":
    main()
