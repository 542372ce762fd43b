"""How fast `voterctl data generate` makes people, and what that means for 12 million (issue 5).

Generates a country of --persons people into a scratch directory (deleted afterwards) and
prints persons/s, seconds per 100,000 people, the CPU time of this process and its workers,
the largest resident set of any of them, the load average around the run, and the time 12
million people would take at this rate. The rate includes each process's start-up (about two
seconds of building the geography), so the projection errs on the slow side.

--full makes the real thing instead: 12,000,000 people into --out (about 6 GB, kept), and
says whether it stayed within the three minutes issue 5 allows.

Usage: .venv/bin/python -m bench.datagen [--persons 1000000] [--workers N] [--seed 1]
       .venv/bin/python -m bench.datagen --full --out DIR
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from service.datagen import generate_country

FULL_PERSONS = 12_000_000
FULL_BUDGET_SECONDS = 180.0


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def _measure(*, persons: int, out_dir: Path, seed: int, workers: int | None) -> float:
    load_before = _load()
    started = time.perf_counter()
    summary = generate_country(out_dir=out_dir, persons=persons, seed=seed, workers=workers)
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = sum(path.stat().st_size for path in summary.files)
    print(f"persons          {summary.persons:,} ({summary.registrations:,} registrations)")
    print(f"files            {size / 1e9:.2f} GB in {out_dir}")
    print(f"wall             {wall:.1f} s")
    print(
        f"rate             {persons / wall:,.0f} persons/s, {wall / persons * 1e5:.2f} s per 100k"
    )
    print(
        f"cpu              {own.ru_utime:.1f} s user + {own.ru_stime:.1f} s system here, "
        f"{children.ru_utime:.1f} s + {children.ru_stime:.1f} s in workers"
    )
    # ru_maxrss is in KiB on Linux.
    print(
        f"peak rss         {own.ru_maxrss / 1024:.0f} MiB here, "
        f"{children.ru_maxrss / 1024:.0f} MiB in the largest worker"
    )
    print(f"load average     {load_before} before, {_load()} after (1, 5, 15 min)")
    print(f"cpus             {os.cpu_count()}, workers {workers or 'one per cpu'}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="make 12,000,000 people into --out")
    parser.add_argument("--out", type=Path, help="where --full writes (kept)")
    args = parser.parse_args(argv)

    if args.full:
        if args.out is None:
            parser.error("--full needs --out: the files are kept")
        wall = _measure(
            persons=FULL_PERSONS, out_dir=args.out, seed=args.seed, workers=args.workers
        )
        verdict = "within" if wall <= FULL_BUDGET_SECONDS else "OVER"
        print(f"12M              {wall:.1f} s, {verdict} the {FULL_BUDGET_SECONDS:.0f} s budget")
        return 0 if wall <= FULL_BUDGET_SECONDS else 1

    with tempfile.TemporaryDirectory(prefix="bench-datagen-") as scratch:
        wall = _measure(
            persons=args.persons, out_dir=Path(scratch), seed=args.seed, workers=args.workers
        )
    projected = wall / args.persons * FULL_PERSONS
    print(
        f"12M projection   {projected:.0f} s at this rate "
        f"(budget {FULL_BUDGET_SECONDS:.0f} s; --full measures it)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
