"""Reading pyproject.toml's pins and the hash-pinned lock files under requirements/."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME_LOCK = ROOT / "requirements" / "lock.txt"
TEST_LOCK = ROOT / "requirements" / "test-lock.txt"
REGENERATE = "run scripts/lock and commit requirements/ with pyproject.toml"

_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s\\;]+)")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
_VIA = re.compile(r"#\s*via\s+(?P<sources>.*)$")


@dataclass(frozen=True)
class Locked:
    version: str
    hashes: int
    via: tuple[str, ...]


def pins(requirements: list[str]) -> dict[str, str]:
    """Canonical name to exact version; anything but ``==`` is an error, not a pin."""
    pinned: dict[str, str] = {}
    for text in requirements:
        requirement = Requirement(text)
        [specifier] = list(requirement.specifier)
        assert specifier.operator == "==", f"{text} is not pinned exactly"
        pinned[canonicalize_name(requirement.name)] = specifier.version
    return pinned


def project_pins() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Runtime, build-system and test-extra pins of pyproject.toml."""
    document = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    project = document["project"]
    return (
        pins(project["dependencies"]),
        pins(document["build-system"]["requires"]),
        pins(project["optional-dependencies"]["test"]),
    )


def read_lock(text: str) -> dict[str, Locked]:
    """Package to its locked version, hash count and the ``# via`` sources pip-compile wrote."""
    entries: dict[str, Locked] = {}
    name: str | None = None
    version = ""
    hashes = 0
    via: tuple[str, ...] = ()

    def close() -> None:
        if name is not None:
            entries[canonicalize_name(name)] = Locked(version, hashes, via)

    for line in text.splitlines():
        if entry := _ENTRY.match(line):
            close()
            name, version, hashes, via = entry["name"], entry["version"], 0, ()
        hashes += len(_HASH.findall(line))
        if source := _VIA.search(line):
            via = tuple(s.strip() for s in source["sources"].split(",") if s.strip())
    close()
    return entries
