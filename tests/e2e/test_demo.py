"""`voterctl serve --demo`, as a newcomer runs it: real processes, real ports, real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from service.demo import EXPECTED

BANNER_TIMEOUT_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_demo_comes_up_and_every_sample_gets_the_decision_it_claims(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    out = tmp_path / "demo.out"
    command = [sys.executable, "-m", "service.cli", "serve", "--demo", "--var-dir", str(var_dir)]
    command += ["--port", str(_free_port()), "--persons", "1500", "--seed", "11"]
    with out.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + BANNER_TIMEOUT_SECONDS
            while "Ctrl-C stops" not in out.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, out.read_text()[-3000:]
                time.sleep(0.3)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    text = out.read_text()
    sample_lines = [
        line for line in text.splitlines() if line.startswith(("   ok ", "   MISMATCH"))
    ]
    assert len(sample_lines) == len(EXPECTED), text[-3000:]
    assert all(line.startswith("   ok ") for line in sample_lines), "\n".join(sample_lines)
    assert "WARNING" not in text

    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "audit",
            "verify",
            "--database",
            f"sqlite:///{var_dir / 'voter.db'}",
            "--public-key",
            str(var_dir / "keys" / "audit-signing.pub.pem"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "VOTER_ENV": "dev"},
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert f"ok: {len(EXPECTED) + 2} entries" in verify.stdout
