"""Merkle proofs served from the stored tree at country scale: inclusion and consistency
proofs in an audit log of 12 million entries, against the same in one of 100,000 built in
the same run (the ratio is what the log's size costs).

Each log is a real service database (SQLite file, the migrated schema) written through the
service's own append path (``AuditLog.append_many`` in batches of 10,000, as the voter-list
compiler writes): the chain, the stored subtrees and the checkpoints are the service's. The
proofs are the service's own reads (``AuditReader.inclusion`` / ``consistency``), for random
positions, each checked with the RFC 9162 verifier so a fast wrong answer cannot pass.

Usage:
  .venv/bin/python -m bench.proofs [--entries 12000000] [--proofs 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from service.audit.log import AuditLog, NewEntry
from service.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, generate_signing_key
from service.db.engine import open_database, read_session
from service.db.migrations import create_schema

BASELINE_ENTRIES = 100_000
BATCH = 10_000
AT = dt.datetime(2027, 3, 21, 5, 0, tzinfo=dt.UTC)


def build(path: Path, entries: int) -> float:
    started = time.perf_counter()
    database = open_database(f"sqlite:///{path}")
    create_schema(database)
    log = AuditLog(CheckpointSigner(generate_signing_key()), checkpoint_every=100_000)
    key = b"bench-hmac-key-0123456789abcdef01"
    written = 0
    while written < entries:
        count = min(BATCH, entries - written)
        batch = [
            NewEntry(
                kind="roll.decision",
                subject=pseudonymise(f"{(written + i) % 10**12:012d}", key=key),
                payload={"election_id": "2027-president", "outcome": "eligible", "n": written + i},
                recorded_at=AT,
            )
            for i in range(count)
        ]
        with database.writer.begin() as connection:
            log.append_many(connection, batch)
        written += count
    database.dispose()
    return time.perf_counter() - started


def proof_times(path: Path, entries: int, count: int) -> tuple[list[float], list[float]]:
    """Milliseconds per inclusion proof and per consistency proof, each verified."""
    database = open_database(f"sqlite:///{path}")
    reader = AuditLog(CheckpointSigner(generate_signing_key()))
    rng = random.Random(3)
    inclusion: list[float] = []
    consistency: list[float] = []
    try:
        with read_session(database) as session:
            root = reader.tree_root(session, entries)
            for _ in range(count):
                seq = rng.randint(1, entries)
                started = time.perf_counter()
                proof = reader.inclusion(session, seq=seq, tree_size=entries)
                inclusion.append((time.perf_counter() - started) * 1000)
                assert proof is not None
                assert verify_inclusion(
                    leaf=leaf_hash(proof.entry.body.encode()),
                    index=proof.leaf_index,
                    tree_size=entries,
                    proof=proof.path,
                    root=root,
                )
                first = rng.randint(1, entries)
                started = time.perf_counter()
                path_ = reader.consistency(session, first=first, second=entries)
                consistency.append((time.perf_counter() - started) * 1000)
                assert verify_consistency(
                    first=first,
                    second=entries,
                    first_root=reader.tree_root(session, first),
                    second_root=root,
                    proof=path_,
                )
    finally:
        database.dispose()
    return inclusion, consistency


def _line(label: str, times: list[float]) -> float:
    ordered = sorted(times)
    median = statistics.median(ordered)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{label:<34} median {median:7.3f} ms   p95 {p95:7.3f} ms")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=12_000_000)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="build the logs here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        medians: dict[str, list[float]] = {"inclusion": [], "consistency": []}
        for entries in (BASELINE_ENTRIES, args.entries):
            path = directory / f"proofs-{entries}.db"
            if not path.exists():
                seconds = build(path, entries)
                size = path.stat().st_size >> 20
                print(f"appended {entries:,} entries in {seconds:.0f} s ({size} MiB)")
            proof_times(path, entries, 20)  # warm the page cache as a running service has it
            inclusion, consistency = proof_times(path, entries, args.proofs)
            medians["inclusion"].append(_line(f"inclusion, {entries:,} entries", inclusion))
            medians["consistency"].append(_line(f"consistency, {entries:,} entries", consistency))
        for kind, (small, large) in medians.items():
            sizes = f"{args.entries:,} / {BASELINE_ENTRIES:,}"
            print(f"ratio {kind} (median {sizes}): {large / small:.2f}")


if __name__ == "__main__":
    main()
