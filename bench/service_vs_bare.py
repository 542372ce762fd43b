"""The eligibility check against a bare FastAPI app, measured side by side in one run.

Starts, on this machine: both mock upstreams (separate processes, generated data), a bare
FastAPI "hello" app and the real service (``voterctl serve``: real JWT auth, JSON logs, the
durable SQLite audit log), each served by uvicorn in the same way with one worker. Drives each
with wrk (a separate process) at every connection count, and prints requests/s, p50, p99, the
server's CPU time per request and the ratio of the service to the bare app.

Usage: bench/run [--duration S] [--repeat N] [--connections 16,64] [--commit-delay-ms 10]
                 [--workers 1,2] [--profile] [--baseline DIR]

All servers run at once; each round measures every server at every connection count, one
after the other, and the table gives the median over rounds (the ratio is computed within a
round, against the bare app measured minutes apart at most): on a shared machine this keeps
a neighbour's burst from landing on one side of the comparison only.

``--baseline DIR`` also measures another checkout of the service (one worker, its own code
and database), in the same rounds: for example ``git worktree add /tmp/before HEAD~3`` before
a change, so a before/after comparison shares the machine's moment instead of an hour apart.

``--commit-delay-ms`` adds a run whose database commits each take that much longer (a sleep
in SQLAlchemy's commit event, installed by bench/slow_commit.py): a stand-in for a cloud disk
whose fsync is ten times slower than this one's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings
from service.demo import (
    DEMO_AUDIENCE,
    DEMO_ISSUER,
    DEMO_KID,
    DemoKeys,
    demo_environment,
    ensure_country,
    ensure_keys,
    free_port,
    inside_the_window,
    load_reference_data,
    start_mock,
    wait_until_healthy,
)
from service.domain.caller import Role
from service.security.tokens import mint_token

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HOST = "127.0.0.1"
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    label: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (uvicorn workers included)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        child, parent = int(entry.name), int(fields[1])
        children.setdefault(parent, []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += times.get(current, 0.0)
        stack.extend(children.get(current, []))
    return total


def run_wrk(
    url: str, *, connections: int, seconds: int, environment: dict[str, str]
) -> dict[str, int]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "check.lua"),
        url,
    ]
    completed = subprocess.run(
        command, env={**os.environ, **environment}, capture_output=True, text=True, check=True
    )
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH "):
            parsed: dict[str, int] = json.loads(line.removeprefix("BENCH "))
            return parsed
    raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")


def measure(
    label: str,
    server: subprocess.Popen[bytes],
    url: str,
    *,
    connections: int,
    seconds: int,
    warmup: int,
    environment: dict[str, str],
    profile: Path | None = None,
) -> Result:
    run_wrk(url, connections=connections, seconds=warmup, environment=environment)
    spy = start_profiler(server.pid, seconds, profile) if profile else None
    before = cpu_seconds(server.pid)
    numbers = run_wrk(url, connections=connections, seconds=seconds, environment=environment)
    used = cpu_seconds(server.pid) - before
    if spy is not None and profile is not None:
        spy.wait()
        print(summarise_profile(profile), flush=True)
    errors = sum(
        numbers[k] for k in ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    requests = numbers["requests"]
    return Result(
        label=label,
        connections=connections,
        requests=requests,
        seconds=numbers["duration_us"] / 1e6,
        p50_ms=numbers["p50_us"] / 1000,
        p99_ms=numbers["p99_us"] / 1000,
        errors=errors,
        cpu_us_per_request=used * 1e6 / max(requests, 1),
    )


def start_profiler(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy, sampling only the thread holding the GIL: where the CPU goes, not who waits."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [
        spy,
        "record",
        "--gil",
        "--nonblocking",
        "-r",
        "250",
        "-p",
        str(pid),
        "-d",
        str(max(seconds - 1, 1)),
    ]
    return subprocess.Popen(
        [*command, "-f", "raw", "-o", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(path: Path, top: int = 25) -> str:
    """The functions with the most samples including callees, then by own samples."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    lines = [f"profile: {total} samples holding the GIL ({path})", "  own time:"]
    for frame, samples in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * samples / max(total, 1):5.1f}%  {frame[:110]}")
    lines.append("  including callees (service and library frames):")
    frames = [(f, n) for f, n in inclusive.items() if "runpy" not in f and "cli.py" not in f]
    for frame, samples in sorted(frames, key=lambda item: -item[1])[: top * 2]:
        lines.append(f"  {100 * samples / max(total, 1):5.1f}%  {frame[:110]}")
    return "\n".join(lines)


@contextlib.contextmanager
def process(
    command: list[str], *, environment: dict[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        proc = subprocess.Popen(
            command,
            env={**os.environ, **environment},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def uvicorn_command(
    target: str, port: int, *, factory: bool = False, workers: int = 1
) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", target, "--host", HOST, "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--workers", str(workers)]
    return [*command, "--factory"] if factory else command


def voter_iins(population: Path, count: int, seed: int) -> list[str]:
    iins = []
    with population.open(encoding="utf-8") as handle:
        for line in handle:
            iins.append(json.loads(line)["iin"])
    random.Random(seed).shuffle(iins)
    return iins[:count]


def machine_description() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, load average before the run "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def print_table(rounds: list[list[Result]]) -> None:
    """Median over rounds of each figure; the ratio is taken within each round first."""
    header = (
        f"| {'server':<30} | conns | {'req/s':>7} | p50 ms | p99 ms | errors | CPU µs/req | ratio |"
    )
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    keys = [(r.label, r.connections) for r in rounds[0]]
    for label, connections in keys:
        mine = [
            next(r for r in rs if (r.label, r.connections) == (label, connections)) for rs in rounds
        ]
        bare = [
            next(r for r in rs if r.label == "bare FastAPI" and r.connections == connections)
            for rs in rounds
        ]
        ratio = statistics.median(m.rate / b.rate for m, b in zip(mine, bare, strict=True))
        print(
            f"| {label:<30} | {connections:>5} | {statistics.median(m.rate for m in mine):>7.0f} |"
            f" {statistics.median(m.p50_ms for m in mine):>6.1f} |"
            f" {statistics.median(m.p99_ms for m in mine):>6.1f} |"
            f" {sum(m.errors for m in mine):>6} |"
            f" {statistics.median(m.cpu_us_per_request for m in mine):>10.0f} |"
            f" {ratio:>5.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--commit-delay-ms", default="10", help="extra runs with slow commits")
    parser.add_argument("--workers", default="1,2", help="service worker counts to measure")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument(
        "--profile", action="store_true", help="sample the service with py-spy while measured"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of the service to measure in the same rounds (one worker)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is not installed (Debian: apt-get install wrk; bench/run does it)")
    connection_counts = [int(c) for c in args.connections.split(",") if c]
    delays = [int(d) for d in args.commit_delay_ms.split(",") if d]
    worker_counts = [int(w) for w in args.workers.split(",") if w]

    print(machine_description(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="voter-bench-"))
    cache = ROOT / "var" / "bench"
    keys = ensure_keys(cache / "keys")
    country = cache / "country"
    ensure_country(country, persons=args.persons, seed=2026)
    iins_file = work / "iins.txt"
    iins_file.write_text("\n".join(voter_iins(country / "population.jsonl", 5000, 1)) + "\n")
    registry_port, addresses_port = free_port(HOST), free_port(HOST)
    clock = inside_the_window(country)
    prepare_service(
        work,
        keys,
        country,
        registry_url=f"http://{HOST}:{registry_port}",
        addresses_url=f"http://{HOST}:{addresses_port}",
        clock=clock,
    )
    election_id = json.loads((country / "elections.jsonl").read_text().splitlines()[0])["id"]
    token = bench_token(keys, clock)
    wrk_environment = {
        "BENCH_IINS": str(iins_file),
        "BENCH_TOKEN": token,
        "BENCH_ELECTION": election_id,
    }

    servers: list[tuple[str, list[str], dict[str, str], Path]] = [
        ("bare FastAPI", uvicorn_command("bench.bare:app", free_port(HOST)), {}, ROOT),
    ]
    if args.baseline is not None:
        servers.append(baseline_server(args.baseline.resolve(), work, country))
    for workers in worker_counts:
        command = [sys.executable, "-m", "service.cli", "serve", "--host", HOST]
        command += ["--port", str(free_port(HOST)), "--workers", str(workers)]
        url = f"sqlite:///{work / f'service-{workers}.db'}"
        reset_database(url, country)
        servers.append(
            (f"service, {workers} worker(s)", command, {"VOTER_DATABASE_URL": url}, ROOT)
        )
    for delay in delays:
        url = f"sqlite:///{work / f'slow-{delay}.db'}"
        reset_database(url, country)
        servers.append(
            (
                f"service, commits +{delay} ms",
                uvicorn_command("bench.slow_commit:app", free_port(HOST), factory=True),
                {"VOTER_DATABASE_URL": url, "BENCH_COMMIT_DELAY_MS": str(delay)},
                ROOT,
            )
        )

    rounds: list[list[Result]] = []
    mocks = [
        start_mock("registry", country / "population.jsonl", registry_port),
        start_mock("addresses", country / "registrations.jsonl", addresses_port),
    ]
    try:
        wait_until_healthy(f"http://{HOST}:{registry_port}/healthz", mocks[0])
        wait_until_healthy(f"http://{HOST}:{addresses_port}/healthz", mocks[1])
        with contextlib.ExitStack() as running:
            started = []
            for label, command, extra, cwd in servers:
                log = work / f"{label.replace(' ', '-').replace(',', '').replace('(', '')}.log"
                server = running.enter_context(
                    process(command, environment=extra, log=log, cwd=cwd)
                )
                url = f"http://{HOST}:{command[command.index('--port') + 1]}"
                wait_until_healthy(f"{url}/healthz", server)
                started.append((label, server, url))
            # Interleaved: every server is measured once per round, one after the other, so
            # a neighbour's burst of load on this machine touches all of them alike.
            for repeat in range(args.repeat):
                this_round: list[Result] = []
                for connections in connection_counts:
                    for label, server, url in started:
                        profile = (
                            work / f"profile-{label[:7]}-{connections}-{repeat}.txt"
                            if args.profile and label.startswith(("service", "baseline"))
                            else None
                        )
                        result = measure(
                            label,
                            server,
                            url,
                            connections=connections,
                            seconds=args.duration,
                            warmup=args.warmup,
                            environment=wrk_environment,
                            profile=profile,
                        )
                        this_round.append(result)
                        print(
                            f"  round {repeat + 1}: {label} @ {connections}:"
                            f" {result.rate:.0f} req/s, p99 {result.p99_ms:.1f} ms,"
                            f" errors {result.errors}",
                            flush=True,
                        )
                rounds.append(this_round)
    finally:
        for mock in mocks:
            mock.send_signal(signal.SIGTERM)
        for mock in mocks:
            mock.wait(timeout=10)

    print()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {args.repeat} round(s) of"
        f" {args.duration} s per server and connection count after {args.warmup} s warm-up,"
        f" interleaved; wrk -t1; a country of {args.persons} persons; medians over rounds"
    )
    print_table(rounds)
    if args.json:
        flat = [
            r.__dict__ | {"rate": r.rate, "round": n} for n, rs in enumerate(rounds) for r in rs
        ]
        args.json.write_text(json.dumps(flat, indent=2))
    print(f"\nserver logs: {work}")


def prepare_service(
    work: Path,
    keys: DemoKeys,
    country: Path,
    *,
    registry_url: str,
    addresses_url: str,
    clock: dt.datetime,
) -> dict[str, str]:
    """The service's VOTER_* settings for a benchmark, put in os.environ; reference data loaded."""
    environment = demo_environment(
        work, keys, registry_url=registry_url, addresses_url=addresses_url, clock=clock
    )
    environment |= {
        "VOTER_LOG_FORMAT": "json",
        # One benchmark account makes every request: the per-subject limit and the bulk
        # lookup alarm would measure themselves, not the check.
        "VOTER_RATE_LIMIT_PER_MINUTE": str(10**9),
        "VOTER_BULK_LOOKUP_THRESHOLD": str(10**9),
    }
    os.environ.update(environment)
    load_reference_data(Settings(), country, force=True)
    return environment


def bench_token(keys: DemoKeys, clock: dt.datetime) -> str:
    """The one e-gov account every benchmark request comes from."""
    return mint_token(
        private_key_pem=keys.jwt_private,
        kid=DEMO_KID,
        subject="bench-egov",
        roles=[Role.EGOV],
        issuer=DEMO_ISSUER,
        audience=DEMO_AUDIENCE,
        now=clock,
        lifetime_seconds=3600,
    )


def baseline_server(
    checkout: Path, work: Path, country: Path
) -> tuple[str, list[str], dict[str, str], Path]:
    """The other checkout's service, one worker, on a database its own code set up."""
    python = checkout / ".venv" / "bin" / "python"
    executable = str(python) if python.exists() else sys.executable
    url = f"sqlite:///{work / 'baseline.db'}"
    environment = {**os.environ, "VOTER_DATABASE_URL": url, "PYTHONPATH": str(checkout)}
    for kind, data in (("precincts", "precincts.jsonl"), ("elections", "elections.jsonl")):
        subprocess.run(
            [executable, "-m", "service.cli", "import", kind, str(country / data)],
            env=environment,
            cwd=checkout,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    command = [executable, "-m", "service.cli", "serve", "--host", HOST]
    command += ["--port", str(free_port(HOST)), "--workers", "1"]
    label = f"baseline ({checkout.name}), 1 worker"
    return label, command, {"VOTER_DATABASE_URL": url, "PYTHONPATH": str(checkout)}, checkout


def reset_database(url: str, country: Path) -> None:
    previous = os.environ["VOTER_DATABASE_URL"]
    os.environ["VOTER_DATABASE_URL"] = url
    try:
        load_reference_data(Settings(), country, force=True)
    finally:
        os.environ["VOTER_DATABASE_URL"] = previous


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
