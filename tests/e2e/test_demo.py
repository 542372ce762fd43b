"""`voterctl serve --demo`, as a newcomer runs it: real processes, real ports, real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.demo import (
    EXPECTED,
    demo_environment,
    ensure_keys,
    write_demo_tokens,
    write_env_file,
)
from tests.support import NOW

BANNER_TIMEOUT_SECONDS = 120
# The service signs a checkpoint within a minute of a decision (SPEC §8), often sooner.
CHECKPOINT_TIMEOUT_SECONDS = 90


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
            receipt_check, cosign = _banners_log_commands(out.read_text(), var_dir)
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
    # The samples' checks, the two reference imports, the records made before voting day
    # (with the decisions they took), the witness's registration and cosignature.
    entries = re.search(r"ok: (\d+) entries", verify.stdout)
    assert entries is not None, verify.stdout
    assert int(entries.group(1)) >= len(EXPECTED) + 4 + 4
    assert receipt_check.returncode == 0, receipt_check.stdout + receipt_check.stderr
    assert receipt_check.stdout.startswith("verified: seq ")
    assert cosign.returncode == 0, cosign.stdout + cosign.stderr
    assert "cosigned size" in cosign.stdout


def _banners_log_commands(
    banner: str, var_dir: Path
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Run the banner's receipt check and witness cosign against the running demo, as a
    newcomer would paste them (the shell's $(cat ...) done here), once a signed checkpoint
    covers the receipt."""
    base_url = re.search(r"is up at (http://\S+)", banner)
    assert base_url is not None, banner
    url = base_url.group(1)
    tokens = var_dir / "tokens"
    auditor = (tokens / "auditor.jwt").read_text("ascii")
    receipt = json.loads((var_dir / "receipt.json").read_text("ascii"))
    deadline = time.monotonic() + CHECKPOINT_TIMEOUT_SECONDS
    while True:
        served = httpx.get(
            f"{url}/v1/audit/checkpoint", headers={"Authorization": f"Bearer {auditor}"}
        )
        if served.status_code == 200 and served.json()["size"] >= receipt["seq"]:
            break
        assert time.monotonic() < deadline, served.text
        time.sleep(1)
    (var_dir / "checkpoint.json").write_text(served.text, "utf-8")
    voterctl = [sys.executable, "-m", "service.cli"]
    environment = {**os.environ, "VOTER_ENV": "dev"}
    keys = var_dir / "keys"
    check = ["audit", "verify-receipt", str(var_dir / "receipt.json")]
    check += ["--checkpoint", str(var_dir / "checkpoint.json"), "--vkey", str(keys / "log.vkey")]
    receipt_check = subprocess.run(
        [*voterctl, *check, "--server", url, "--token", auditor],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert "verify-receipt" in banner
    assert "witness cosign" in banner
    witness = ["witness", "cosign", "--server", url, "--key", str(keys / "witness.key")]
    witness += ["--state", str(var_dir / "witness"), "--log-key", str(keys / "log.vkey")]
    cosign = subprocess.run(
        [*voterctl, *witness, "--token", (tokens / "witness.jwt").read_text("ascii")],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    return receipt_check, cosign


def test_demo_tokens_keys_and_environment_are_readable_by_their_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var_dir = tmp_path / "var"
    # A token file and directory an earlier demo left readable by everyone get tightened too.
    (var_dir / "tokens").mkdir(parents=True, mode=0o755)
    (var_dir / "tokens" / "egov.jwt").write_text("old", "ascii")
    (var_dir / "tokens" / "egov.jwt").chmod(0o644)
    usual_umask = os.umask(0o022)
    try:
        keys = ensure_keys(var_dir / "keys")
        environment = demo_environment(
            var_dir,
            keys,
            registry_url="http://r.invalid",
            addresses_url="http://a.invalid",
            clock=NOW,
        )
        write_env_file(var_dir / "demo.env", environment)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        tokens = write_demo_tokens(var_dir / "tokens", Settings(), now=NOW)
    finally:
        os.umask(usual_umask)

    def mode(path: Path) -> str:
        return oct(stat.S_IMODE(path.stat().st_mode))

    secrets = [*sorted(tokens.glob("*.jwt")), var_dir / "demo.env"]
    secrets += [
        var_dir / "keys" / name for name in ("jwt-dev.pem", "audit-signing.pem", "audit-hmac.key")
    ]
    assert len(secrets) == 10
    assert {path.name: mode(path) for path in secrets} == {path.name: "0o600" for path in secrets}
    assert {mode(tokens), mode(var_dir / "keys")} == {"0o700"}
