"""Merkle appends per second in one process: what the check path would pay per audit entry.

Three figures over the same leaves, each on a fresh tree:
- ``compact range``: ``CompactRange.append`` of a precomputed leaf hash (the frontier only);
- ``leaf hash + compact range``: hashing a canonical-body-sized entry and appending it;
- ``leaf hash + subtree store``: the same, keeping every perfect subtree hash in memory
  (``MemorySubtreeHashes``, what the database will store: about two hashes per leaf).
Then the time to build an inclusion and a consistency proof at the final size.

Usage:
  .venv/bin/python -m bench.merkle_appends [--leaves 1000000]
"""

from __future__ import annotations

import argparse
import time

from service.audit.merkle import (
    CompactRange,
    MemorySubtreeHashes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)

# About the size of a decision's canonical body (seq, kind, instant, pseudonym, payload).
ENTRY_TEMPLATE = (
    '{{"kind":"eligibility.check","payload":{{"basis":"resident","outcome":"eligible",'
    '"precinct":"75-0123","election":"e-2026"}},"recorded_at":"2026-12-05T17:42:35.000000Z",'
    '"seq":{seq},"subject":"v1:{pseudonym}"}}'
)


def _entries(count: int) -> list[bytes]:
    pseudonym = "ab" * 32
    return [ENTRY_TEMPLATE.format(seq=seq, pseudonym=pseudonym).encode() for seq in range(count)]


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<28} {count / seconds:>12,.0f} appends/s  ({seconds:.2f} s for {count:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    count = parser.parse_args().leaves
    entries = _entries(count)
    leaves = [leaf_hash(entry) for entry in entries]

    compact = CompactRange()
    started = time.perf_counter()
    for leaf in leaves:
        compact.append(leaf)
    _rate("compact range", count, time.perf_counter() - started)

    compact = CompactRange()
    started = time.perf_counter()
    for entry in entries:
        compact.append(leaf_hash(entry))
    _rate("leaf hash + compact range", count, time.perf_counter() - started)

    store = MemorySubtreeHashes()
    started = time.perf_counter()
    for entry in entries:
        store.append(leaf_hash(entry))
    _rate("leaf hash + subtree store", count, time.perf_counter() - started)
    if store.root() != compact.root():
        raise SystemExit("the two trees disagree")
    print(f"stored subtree hashes: {store.stored():,} ({store.stored() / count:.3f} per leaf)")

    started = time.perf_counter()
    inclusion = inclusion_proof(store, index=count // 3, tree_size=count)
    consistency = consistency_proof(store, first=count // 3, second=count)
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(
        f"inclusion ({len(inclusion)} hashes) + consistency ({len(consistency)} hashes) "
        f"proofs at {count:,}: {elapsed_ms:.3f} ms"
    )


if __name__ == "__main__":
    main()
