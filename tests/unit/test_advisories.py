"""No locked dependency falls in a reviewed advisory's affected range without a stated reason.

No advisory database is reachable from CI, so requirements/advisories.toml is the reviewed
record (docs/advisories.md); this test holds both lock files to it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.locks import ROOT, RUNTIME_LOCK, TEST_LOCK, read_lock

ADVISORIES = ROOT / "requirements" / "advisories.toml"
# Named in issue 6; the table must never lose them.
REQUIRED = {"CVE-2024-33663", "CVE-2024-33664", "CVE-2024-23342"}
FIELDS = {"id", "package", "affected", "fixed", "scope", "summary", "why", "reviewed"}
OPTIONAL = {"aliases", "accepted"}

Advisory = dict[str, Any]


def load_advisories(path: Path = ADVISORIES) -> list[Advisory]:
    advisories: list[Advisory] = tomllib.loads(path.read_text(encoding="utf-8"))["advisory"]
    return advisories


def locked_versions() -> dict[str, dict[str, str]]:
    """Package to {lock file name: version}, over both lock files."""
    versions: dict[str, dict[str, str]] = {}
    for lock in (RUNTIME_LOCK, TEST_LOCK):
        for name, entry in read_lock(lock.read_text(encoding="utf-8")).items():
            versions.setdefault(name, {})[lock.name] = entry.version
    return versions


def findings(advisories: list[Advisory], locked: dict[str, dict[str, str]]) -> list[str]:
    """What a reviewer must act on: affected versions without a reason, stale acceptances."""
    problems = []
    for advisory in advisories:
        package = canonicalize_name(advisory["package"])
        affected = SpecifierSet(advisory["affected"])
        hits = {
            lock: version
            for lock, version in locked.get(package, {}).items()
            if Version(version) in affected
        }
        label = f"{advisory['id']} ({package} {advisory['affected']})"
        if hits and not advisory.get("accepted", "").strip():
            fixed = advisory["fixed"] or "no fixed release"
            problems.append(f"{label}: locked {hits} is affected; upgrade ({fixed}) or accept")
        if not hits and "accepted" in advisory:
            problems.append(f"{label}: accepted, but no locked version is affected any more")
    return problems


@pytest.fixture(scope="module")
def advisories() -> list[Advisory]:
    return load_advisories()


def test_no_locked_version_is_affected_without_a_reason(advisories: list[Advisory]) -> None:
    assert findings(advisories, locked_versions()) == []


def test_every_entry_is_complete_and_consistent(advisories: list[Advisory]) -> None:
    today = dt.datetime.now(dt.UTC).date()
    locked = locked_versions()
    for advisory in advisories:
        name = advisory.get("id", advisory)
        assert FIELDS <= set(advisory) <= FIELDS | OPTIONAL, name
        assert all(str(advisory[key]).strip() for key in FIELDS - {"fixed"}), name
        assert advisory["scope"] in {"runtime", "tooling"}, name
        try:
            affected = SpecifierSet(advisory["affected"])
        except InvalidSpecifier:
            pytest.fail(f"{name}: affected is not a PEP 440 specifier set")
        if advisory["fixed"]:
            assert Version(advisory["fixed"]) not in affected, f"{name}: fixed lies in affected"
        assert isinstance(advisory["reviewed"], dt.date), name
        assert advisory["reviewed"] <= today, name
        # An advisory about a package we no longer lock belongs in git history, not here.
        package = canonicalize_name(advisory["package"])
        assert package in locked, f"{name}: {package} is not locked any more"
        in_image = RUNTIME_LOCK.name in locked[package]
        assert (advisory["scope"] == "runtime") == in_image, f"{name}: scope is wrong"


def test_the_advisories_named_in_the_issue_are_reviewed(advisories: list[Advisory]) -> None:
    assert {a["id"] for a in advisories} >= REQUIRED


def test_an_affected_lock_is_reported_and_an_acceptance_must_match() -> None:
    # Guards the check itself with a lock as it was before python-jose 3.4.0.
    jose = {
        "id": "CVE-2024-33663",
        "package": "python-jose",
        "affected": "<3.4.0",
        "fixed": "3.4.0",
    }
    old = {"python-jose": {"lock.txt": "3.3.0"}}
    new = {"python-jose": {"lock.txt": "3.5.0"}}
    [problem] = findings([jose], old)
    assert "locked {'lock.txt': '3.3.0'} is affected; upgrade (3.4.0)" in problem
    assert findings([jose], new) == []
    assert findings([{**jose, "accepted": "reason"}], old) == []
    [stale] = findings([{**jose, "accepted": "reason"}], new)
    assert "no locked version is affected any more" in stale
    ecdsa = {"id": "X", "package": "ecdsa", "affected": ">=0", "fixed": ""}
    assert "no fixed release" in findings([ecdsa], {"ecdsa": {"lock.txt": "0.19.2"}})[0]


def test_verifying_and_minting_tokens_never_import_ecdsa() -> None:
    # The reason CVE-2024-23342 is accepted: python-jose's pure-Python ECDSA is never loaded.
    # A fresh interpreter, since other tests may import ecdsa themselves.
    program = """
import datetime as dt, sys
from service.api.app import create_app
from service.domain.caller import Role
from service.security.tokens import TokenVerifier, generate_dev_keypair, mint_token
private, public = generate_dev_keypair()
now = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
token = mint_token(private_key_pem=private, kid="k", subject="s", roles=[Role.EGOV],
                   issuer="i", audience="a", now=now, lifetime_seconds=60)
verifier = TokenVerifier(public_keys={"k": public}, issuer="i", audience="a")
assert verifier.verify(token, now=now).subject == "s"
print("ecdsa" in sys.modules, "jose" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
