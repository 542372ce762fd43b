"""Shared builders for integration and end-to-end tests: a tiny country, keys, an app."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.adapters.pipeline import Transports
from service.api.app import create_app
from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner, generate_signing_key
from service.bootstrap import import_reference
from service.clock import Clock, FixedClock
from service.config import Settings
from service.db.engine import open_database
from service.db.migrations import create_schema
from service.domain.caller import Role
from service.mocks.addresses import create_addresses_app
from service.mocks.faults import FaultProfile, inject_faults
from service.mocks.registry import create_registry_app
from service.security.tokens import generate_dev_keypair, mint_token

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
ELECTION_ID = "2027-president"
# A Mazhilis election: 2023-03-19 was a Mazhilis and maslikhat vote (the id is older than kinds).
ELECTION_2023_ID = "2023-maslikhat"
# Local elections (SPEC §14): Almaty's maslikhat (KATO 75...) and Oral's akim (KATO 27...).
MASLIKHAT_ID = "2027-maslikhat-almaty"
AKIM_ID = "2027-akim-oral"
SENATE_ID = "2023-senate"
KATO = "751110000"
ORAL_KATO = "271010000"
AS_OF = "2026-11-01T00:00:00Z"

# One person per outcome. IINs are valid and carry no meaning (SPEC §2).
PEOPLE: dict[str, dict[str, Any]] = {
    "eligible_permanent": {"iin": "900101300126", "birth_date": "1990-01-01"},
    "eligible_temporary": {"iin": "791028302728", "birth_date": "1979-10-28"},
    "eligible_consular": {"iin": "061211600012", "birth_date": "1985-12-11"},
    "no_registration": {"iin": "900101300811", "birth_date": "1990-01-01"},
    "uncovered_address": {"iin": "850101300015", "birth_date": "1970-05-05"},
    "under_18": {"iin": "850101300025", "birth_date": "2009-03-22"},
    "birthday_on_voting_day": {"iin": "850101300035", "birth_date": "2009-03-21"},
    "not_citizen": {"iin": "850101300045", "birth_date": "1980-01-01", "citizenship": "RUS"},
    "deceased": {"iin": "850101300055", "birth_date": "1950-01-01", "death_date": "2027-01-01"},
    "incapacitated": {
        "iin": "850101300065",
        "birth_date": "1960-01-01",
        "legal_capacity": "incapacitated",
    },
    "imprisoned": {"iin": "850101300075", "birth_date": "1975-01-01", "custody": "sentenced"},
    "pretrial": {
        "iin": "850101300085",
        "birth_date": "1975-01-01",
        "custody": "pretrial",
        "custody_since": "2026-10-10",
    },
    # SPEC §15's dated facts, against voting day 2027-03-21.
    "sentence_ended": {
        "iin": "850101300104",
        "birth_date": "1980-06-01",
        "custody": "sentenced",
        "custody_since": "2024-01-10",
        "sentence_ends_on": "2027-03-20",
    },
    "sentence_runs": {
        "iin": "850101300114",
        "birth_date": "1980-06-01",
        "custody": "sentenced",
        "custody_since": "2024-01-10",
        "sentence_ends_on": "2027-03-22",
    },
    "capacity_restored": {
        "iin": "850101300124",
        "birth_date": "1970-02-02",
        "legal_capacity": "incapacitated",
        "incapacitated_since": "2019-04-01",
        "capacity_restored_on": "2027-03-01",
    },
    # Digit 5 is 4, a BIN's shape: the registry holds a person with it all the same.
    "bin_shaped_person": {"iin": "850140300117", "birth_date": "1985-01-01"},
}
NOT_IN_REGISTRY = "850101300095"
# A BIN (SPEC §2's vector) that the registry does not know as a person.
BIN_NOT_IN_REGISTRY = "040540001230"


def _person(iin: str, **fields: Any) -> dict[str, Any]:
    return {
        "iin": iin,
        "surname": "Сейтқали",
        "given_name": "Айгерім",
        "patronymic": None,
        "sex": "F",
        "citizenship": "KAZ",
        "death_date": None,
        "legal_capacity": "full",
        "custody": "none",
        "data_as_of": AS_OF,
        **fields,
    }


def _registration(iin: str, **fields: Any) -> dict[str, Any]:
    return {
        "iin": iin,
        "kind": "permanent",
        "rca": None,
        "kato": KATO,
        "street": "Абай даңғылы",
        "house": "13",
        "flat": "5",
        "country": "KAZ",
        "city": None,
        "valid_from": "2015-03-01",
        "valid_until": None,
        **fields,
    }


PRECINCTS = [
    {
        "id": "75-0001",
        "number": 1,
        "name": "School No. 1",
        "address": "Абай даңғылы 1",
        "kato": KATO,
        "kind": "ordinary",
        "country": "KAZ",
        "city": None,
        "timezone": "Asia/Almaty",
        "day_registration": False,
        "segments": [{"street": "Абай даңғылы", "from": 1, "to": 99, "parity": "odd"}],
        "buildings": [],
    },
    {
        "id": "75-0002",
        "number": 2,
        "name": "School No. 2",
        "address": "Абай даңғылы 2",
        "kato": KATO,
        "kind": "ordinary",
        "country": "KAZ",
        "city": None,
        "timezone": "Asia/Almaty",
        "day_registration": True,
        "segments": [{"street": "Абай даңғылы", "from": 2, "to": 98, "parity": "even"}],
        "buildings": [],
    },
    {
        "id": "99-0001",
        "number": 901,
        "name": "Embassy in London",
        "address": "125 Pall Mall",
        "kato": "000000000",
        "kind": "foreign",
        "country": "GBR",
        "city": "London",
        "timezone": "Europe/London",
        # Marked for day registration on purpose: a foreign precinct is refused all the same.
        "day_registration": True,
        "segments": [],
        "buildings": [],
    },
    {
        "id": "27-0001",
        "number": 1,
        "name": "School No. 9, Oral",
        "address": "Достық даңғылы 9",
        "kato": ORAL_KATO,
        "kind": "ordinary",
        "country": "KAZ",
        "city": None,
        "timezone": "Asia/Oral",
        "day_registration": True,
        "segments": [],
        "buildings": [],
    },
]
ELECTIONS = [
    {
        "id": ELECTION_ID,
        "kind": "presidential",
        "voting_day": "2027-03-21",
        "called_on": "2027-01-20",
        "day_registration": {"opens": "07:00", "closes": "20:00"},
    },
    # Before March 2024 Almaty kept UTC+6 and Oral UTC+5: one window, two zones.
    {
        "id": ELECTION_2023_ID,
        "kind": "mazhilis",
        "voting_day": "2023-03-19",
        "called_on": "2023-01-19",
        "day_registration": {"opens": "07:00", "closes": "20:00"},
    },
    # Its certificates window is set by the record instead of SPEC §15's default.
    {
        "id": MASLIKHAT_ID,
        "kind": "maslikhat",
        "voting_day": "2027-03-21",
        "called_on": "2027-01-20",
        "territory": ["75"],
        "calendar": {
            "absentee_certificates": {"opens": "2027-03-01T09:00", "closes": "2027-03-20T20:00"}
        },
    },
    {
        "id": AKIM_ID,
        "kind": "akim",
        "voting_day": "2027-03-21",
        "called_on": "2027-01-20",
        "territory": ["27"],
    },
    {"id": SENATE_ID, "kind": "senate", "voting_day": "2023-01-14", "called_on": "2022-11-14"},
]


@dataclass(frozen=True)
class Country:
    directory: Path
    population: Path
    registrations: Path
    precincts: Path
    elections: Path


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def write_country(directory: Path) -> Country:
    directory.mkdir(parents=True, exist_ok=True)
    people = [_person(**spec) for spec in PEOPLE.values()]
    registrations = [
        _registration(PEOPLE["eligible_permanent"]["iin"]),
        _registration(PEOPLE["eligible_temporary"]["iin"], kind="temporary", house="14"),
        _registration(
            PEOPLE["eligible_consular"]["iin"],
            kind="consular",
            country="GBR",
            city="London",
            kato=None,
            street=None,
            house=None,
            flat=None,
        ),
        _registration(PEOPLE["uncovered_address"]["iin"], street="Нет такой улицы"),
        _registration(PEOPLE["not_citizen"]["iin"]),
        _registration(PEOPLE["pretrial"]["iin"], house="21"),
        _registration(PEOPLE["birthday_on_voting_day"]["iin"], house="22"),
        _registration(PEOPLE["sentence_ended"]["iin"], house="23"),
        _registration(PEOPLE["sentence_runs"]["iin"], house="25"),
        _registration(PEOPLE["capacity_restored"]["iin"], house="24"),
        _registration(PEOPLE["bin_shaped_person"]["iin"], house="27"),
    ]
    return Country(
        directory=directory,
        population=_write_jsonl(directory / "population.jsonl", people),
        registrations=_write_jsonl(directory / "registrations.jsonl", registrations),
        precincts=_write_jsonl(directory / "precincts.jsonl", PRECINCTS),
        elections=_write_jsonl(directory / "elections.jsonl", ELECTIONS),
    )


@dataclass(frozen=True)
class Keys:
    jwt_private: str
    jwt_public: str
    audit_signing: str

    @property
    def audit_public(self) -> str:
        return CheckpointSigner(self.audit_signing).public_key_pem


def make_keys() -> Keys:
    private, public = generate_dev_keypair()
    return Keys(jwt_private=private, jwt_public=public, audit_signing=generate_signing_key())


def make_settings(database_url: str, keys: Keys, **overrides: Any) -> Settings:
    # Tests of other features run under one limit for every role, the service's default
    # before per-role limits: a test stepping through the API as one operator makes more
    # requests in a minute than a person would. Pass None to get the role table.
    overrides.setdefault("rate_limit_per_minute", 600)
    overrides.setdefault("bulk_lookup_threshold", 500)
    return Settings(
        database_url=database_url,
        jwt_public_keys={"test": keys.jwt_public},
        jwt_issuer="voter-tests",
        jwt_audience="voter-eligibility",
        audit_hmac_key="test-hmac-key-0123456789abcdef0123",  # type: ignore[arg-type]
        audit_signing_key=keys.audit_signing,  # type: ignore[arg-type]
        **overrides,
    )


def token(
    keys: Keys,
    *roles: Role,
    subject: str = "tester@egov",
    now: dt.datetime = NOW,
    precincts: tuple[str, ...] = (),
    organisation: str | None = None,
) -> str:
    """A token; ``precincts`` is the claim naming the precincts a commission member serves,
    ``organisation`` the ``org`` claim."""
    return mint_token(
        private_key_pem=keys.jwt_private,
        kid="test",
        subject=subject,
        roles=roles,
        issuer="voter-tests",
        audience="voter-eligibility",
        now=now,
        lifetime_seconds=900,
        precincts=precincts,
        organisation=organisation,
    )


def load_reference(settings: Settings, country: Country) -> None:
    database = open_database(settings.database_url)
    try:
        create_schema(database)
        audit_log = AuditLog(CheckpointSigner(settings.audit_signing_key.get_secret_value()))  # type: ignore[union-attr]
        for kind, path in (("precincts", country.precincts), ("elections", country.elections)):
            import_reference(
                kind, path, database=database, audit_log=audit_log, actor="test", now=NOW
            )
    finally:
        database.dispose()


def mock_transports(country: Country) -> Transports:
    return Transports(
        registry=httpx.ASGITransport(app=create_registry_app(country.population)),
        addresses=httpx.ASGITransport(app=create_addresses_app(country.registrations)),
    )


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that reach an upstream: every attempt, retries included."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def faulty_mock_transports(
    country: Country,
    *,
    registry: FaultProfile | None = None,
    addresses: FaultProfile | None = None,
) -> tuple[Transports, CountingTransport, CountingTransport]:
    """The in-process mocks behind fault injection (service.mocks.faults), calls counted."""
    registry_app = inject_faults(
        create_registry_app(country.population), registry or FaultProfile()
    )
    addresses_app = inject_faults(
        create_addresses_app(country.registrations), addresses or FaultProfile()
    )
    counted_registry = CountingTransport(httpx.ASGITransport(app=registry_app))
    counted_addresses = CountingTransport(httpx.ASGITransport(app=addresses_app))
    return (
        Transports(registry=counted_registry, addresses=counted_addresses),
        counted_registry,
        counted_addresses,
    )


class MovableClock:
    """A clock the test moves: stands inside or outside a window at will."""

    def __init__(self, instant: dt.datetime) -> None:
        self.instant = instant

    def now(self) -> dt.datetime:
        return self.instant.astimezone(dt.UTC)


@contextmanager
def running_app(
    settings: Settings,
    transports: Transports,
    *,
    now: dt.datetime = NOW,
    clock: MovableClock | None = None,
    wall_clock: Clock | None = None,
) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app under a service clock fixed at ``now`` (or ``clock``); ``wall_clock`` is the
    real time its checkpoints run on, the system's unless the test moves its own."""
    app = create_app(
        settings,
        clock=clock or FixedClock(now),
        wall_clock=wall_clock,
        transports=transports,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve the app with uvicorn on a free loopback port in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
