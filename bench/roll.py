"""Compiling a whole election's voter lists (issue 5): persons per second, 12M projection.

Starts both mock upstreams on a generated country (``voterctl mock ...``, separate processes,
load time and memory reported), loads the reference data into a fresh database, runs
``voterctl roll compile`` as an operator would and measures it from the outside: wall time,
persons/s, the projection to twelve million, CPU per person of every process involved
(the compile and its workers, each mock, and the PostgreSQL server when it is local), the
compile's peak RSS; then times ``voterctl audit verify``.

Usage:
  .venv/bin/python -m bench.roll --persons 1000000 [--data DIR] [--workers 2]
      [--postgres-admin postgresql+psycopg://USER@HOST:PORT/postgres] [--format csv]
      [--no-list-records]

Before the compile (outside its time) the voters' records of the ways onto a list are made
through the use cases (``bench/list_records.py``): presence lists at every special precinct,
absentee certificates, place-of-stay and mission applications, at the published rates.

Without --postgres-admin the service database is SQLite in a temporary directory. With it,
a fresh database is created there (and dropped afterwards unless --keep). --data reuses a
generated country (``voterctl data generate``); otherwise one is generated under var/bench.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
VOTERCTL = [sys.executable, "-m", "service.cli"]
TARGET_PERSONS = 12_000_000
ELECTION = "2027-president"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CpuSampler:
    """CPU seconds per process, sampled twice a second: processes that exit (the compile's
    workers, PostgreSQL backends) are counted up to their last sample."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, int, float]] = {}  # pid -> (comm, ppid, cpu seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                self.seen[int(entry.name)] = (comm, int(fields[1]), cpu)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> CpuSampler:
        self._sample()
        self.baseline = {pid: cpu for pid, (_, _, cpu) in self.seen.items()}
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def used(self, pid: int) -> float:
        return self.seen[pid][2] - self.baseline.get(pid, 0.0)

    def tree(self, root: int) -> float:
        """CPU of ``root`` and every descendant seen."""
        members = {root}
        grew = True
        while grew:
            grew = False
            for pid, (_, ppid, _) in self.seen.items():
                if ppid in members and pid not in members:
                    members.add(pid)
                    grew = True
        return sum(self.used(pid) for pid in members if pid in self.seen)

    def named(self, prefix: str) -> float:
        return sum(
            self.used(pid) for pid, (comm, _, _) in self.seen.items() if comm.startswith(prefix)
        )


@contextlib.contextmanager
def _mock(kind: str, data: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = _free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [*VOTERCTL, "mock", kind, "--data", str(data), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the {kind} mock exited with {process.returncode}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
                break
            time.sleep(0.5)
        print(
            f"{kind} mock: loaded in {time.monotonic() - started:.0f} s, "
            f"RSS {_rss_mb(process.pid):.0f} MB",
            flush=True,
        )
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _database(args: argparse.Namespace, scratch: Path) -> tuple[str, str | None]:
    if args.postgres_admin is None:
        return f"sqlite:///{scratch / 'voter.db'}", None
    name = f"roll_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(args.postgres_admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(args.postgres_admin).set(database=name)
    return url.render_as_string(hide_password=False), name


def _drop(admin: str, name: str) -> None:
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--data", type=Path, help="a generated country to reuse")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    parser.add_argument("--postgres-admin", help="admin URL of a local PostgreSQL cluster")
    parser.add_argument("--out", type=Path, help="where the lists go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the database and lists")
    parser.add_argument(
        "--no-list-records",
        action="store_true",
        help="compile without presence lists, certificates and applications",
    )
    args = parser.parse_args()

    data = args.data or ROOT / "var" / "bench" / f"roll-{args.persons}"
    if not (data / "population.jsonl").exists():
        print(f"generating {args.persons} persons into {data} ...", flush=True)
        _run(
            [*VOTERCTL, "data", "generate", "--persons", str(args.persons), "--out", str(data)],
            dict(os.environ),
        )
    with (data / "population.jsonl").open("rb") as handle:
        persons = sum(1 for line in handle if line.strip())

    from service.audit.signing import generate_signing_key

    scratch = Path(tempfile.mkdtemp(prefix="roll-bench-"))
    out = args.out or scratch / "lists"
    database_url, created = _database(args, scratch)
    env = {
        **os.environ,
        "VOTER_ENV": "dev",
        "VOTER_DATABASE_URL": database_url,
        "VOTER_AUDIT_SIGNING_KEY": generate_signing_key(),
        "VOTER_AUDIT_HMAC_KEY": "roll-bench-hmac-key-0123456789abcdef",
        "VOTER_LOG_FORMAT": "json",
    }
    try:
        with (
            _mock("registry", data / "population.jsonl", env) as (registry, registry_pid),
            _mock("addresses", data / "registrations.jsonl", env) as (addresses, addresses_pid),
        ):
            env |= {"VOTER_REGISTRY_URL": registry, "VOTER_ADDRESSES_URL": addresses}
            _run([*VOTERCTL, "db", "upgrade"], env)
            _run([*VOTERCTL, "import", "precincts", str(data / "precincts.jsonl")], env)
            _run([*VOTERCTL, "import", "elections", str(data / "elections.jsonl")], env)
            if not args.no_list_records:
                # Presence lists, certificates and applications, made through the use
                # cases before the compile (outside its time): bench/list_records.py.
                records = [sys.executable, "-m", "bench.list_records", "--data", str(data)]
                subprocess.run([*records, "--election", ELECTION], cwd=ROOT, env=env, check=True)
            compile_command = [
                *VOTERCTL,
                "roll",
                "compile",
                "--election",
                ELECTION,
                "--out",
                str(out),
                "--workers",
                str(args.workers),
                "--chunk-size",
                str(args.chunk_size),
                "--format",
                args.format,
            ]
            with CpuSampler() as cpu:
                started = time.monotonic()
                process = subprocess.Popen(compile_command, cwd=ROOT, env=env)
                _, status, usage = os.wait4(process.pid, 0)
                wall = time.monotonic() - started
            if status != 0:
                raise SystemExit(f"the compile failed: wait status {status}")
            compile_cpu = cpu.tree(process.pid)
            mocks = [cpu.used(registry_pid), cpu.used(addresses_pid)]
            postgres = cpu.named("postgres") if created else None
        verify_started = time.monotonic()
        _run([*VOTERCTL, "audit", "verify"], env)
        verify = time.monotonic() - verify_started
    finally:
        if created and not args.keep:
            _drop(args.postgres_admin, created)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    rate = persons / wall
    per_person = 1e6 / persons
    print()
    print(f"persons            {persons}")
    print(f"wall               {wall:.1f} s   ({rate:,.0f} persons/s)")
    print(f"12M projection     {TARGET_PERSONS / rate / 60:.1f} min at this rate")
    print(f"peak RSS           {usage.ru_maxrss / 1024:.0f} MB (largest process of the compile)")
    print(
        "CPU per person     "
        f"compile+workers {compile_cpu * per_person:.1f} us, "
        f"registry mock {mocks[0] * per_person:.1f} us, "
        f"address mock {mocks[1] * per_person:.1f} us"
        + (f", PostgreSQL {postgres * per_person:.1f} us" if postgres is not None else "")
    )
    total = compile_cpu + sum(mocks) + (postgres or 0.0)
    print(
        f"CPU in all         {total:.0f} s over {wall:.0f} s wall "
        f"({total / wall:.2f} cores busy; machine load {os.getloadavg()[0]:.1f})"
    )
    print(f"audit verify       {verify:.1f} s (ok)")


if __name__ == "__main__":
    main()
