"""pyproject.toml's pins and the hash-pinned lock files say the same thing.

CI (scripts/setup --test) installs requirements/test-lock.txt and the image installs
requirements/lock.txt, each with --require-hashes, then the project itself with --no-deps.
A pin changed in pyproject.toml without rerunning scripts/lock would otherwise be silently
ignored (or fail the install far from its cause).
"""

from __future__ import annotations

import pytest

from tests.locks import (
    REGENERATE,
    RUNTIME_LOCK,
    TEST_LOCK,
    Locked,
    pins,
    project_pins,
    read_lock,
)

PROJECT_SOURCE = "voter-eligibility (pyproject.toml)"


@pytest.fixture(scope="module")
def runtime_lock() -> dict[str, Locked]:
    return read_lock(RUNTIME_LOCK.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def test_lock() -> dict[str, Locked]:
    return read_lock(TEST_LOCK.read_text(encoding="utf-8"))


def _disagreements(wanted: dict[str, str], lock: dict[str, Locked]) -> list[str]:
    return [
        f"{name}=={version} in pyproject.toml, "
        + (f"{lock[name].version} in the lock" if name in lock else "missing from the lock")
        for name, version in sorted(wanted.items())
        if name not in lock or lock[name].version != version
    ]


def test_the_runtime_lock_holds_every_runtime_and_build_pin(
    runtime_lock: dict[str, Locked],
) -> None:
    runtime, build, _ = project_pins()
    assert _disagreements(runtime | build, runtime_lock) == [], REGENERATE


def test_the_test_lock_holds_every_pin_of_pyproject(test_lock: dict[str, Locked]) -> None:
    runtime, build, test = project_pins()
    assert _disagreements(runtime | build | test, test_lock) == [], REGENERATE


def test_ci_and_the_image_run_the_same_runtime(
    runtime_lock: dict[str, Locked], test_lock: dict[str, Locked]
) -> None:
    differing = {
        name: (locked.version, test_lock[name].version if name in test_lock else None)
        for name, locked in runtime_lock.items()
        if name not in test_lock or test_lock[name].version != locked.version
    }
    assert differing == {}, REGENERATE


def test_no_direct_dependency_lingers_after_leaving_pyproject(
    runtime_lock: dict[str, Locked], test_lock: dict[str, Locked]
) -> None:
    runtime, _, test = project_pins()
    for lock, declared in ((runtime_lock, runtime), (test_lock, runtime | test)):
        stale = [
            name
            for name, locked in lock.items()
            if locked.via == (PROJECT_SOURCE,) and name not in declared
        ]
        assert stale == [], REGENERATE


def test_every_locked_package_carries_a_hash(
    runtime_lock: dict[str, Locked], test_lock: dict[str, Locked]
) -> None:
    assert runtime_lock
    assert test_lock
    unhashed = [n for lock in (runtime_lock, test_lock) for n, e in lock.items() if not e.hashes]
    assert unhashed == []


def test_the_lock_reader_sees_a_drifted_pin() -> None:
    # Guards the comparison itself against a reader that finds nothing.
    lock = read_lock(
        "fastapi==0.1.0 \\\n"
        "    --hash=sha256:" + "a" * 64 + "\n"
        "    # via voter-eligibility (pyproject.toml)\n"
        "h11==0.16.0 \\\n"
        "    --hash=sha256:" + "b" * 64 + " \\\n"
        "    --hash=sha256:" + "c" * 64 + "\n"
        "    # via httpcore, uvicorn\n"
    )
    assert lock["fastapi"] == Locked("0.1.0", 1, (PROJECT_SOURCE,))
    assert lock["h11"] == Locked("0.16.0", 2, ("httpcore", "uvicorn"))
    assert _disagreements(pins(["FastAPI==0.163.2"]), lock) == [
        "fastapi==0.163.2 in pyproject.toml, 0.1.0 in the lock"
    ]
    with pytest.raises(AssertionError, match="not pinned exactly"):
        pins(["fastapi>=0.100"])
