"""SPEC §15's "exactly one list", as a property: for a generated country and any sequence of
list actions through the API (presence lists, place-of-stay and mission applications,
absentee certificates and their use at Service A, day registrations, overrides, and
cancelling each by two operators), every voter is held by at most one record, the
database's guard row names exactly that record, and the roll compiler's lists and the
online check agree voter by voter.

Every action runs at one instant, 10:00 on voting day: the election's windows are moved by
its record to close at 20:00 that day so that every way onto a list meets every other (by
default most never do, and each excludes the others only where they meet).

``VOTER_LIST_PROPERTY_EXAMPLES`` sets how many countries and sequences are tried (default 10:
each example builds a database, an app and a roll compile).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from service.adapters.pipeline import Transports
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner
from service.datagen import generate_country
from service.db.engine import open_database, read_session
from service.db.tables import ListPlaceRow
from service.domain.caller import Role
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app
from service.roll.chain_writer import RollAuditLog
from service.roll.compile import RollCompiler, RollOptions
from tests.databases import drop_database, new_database_url, on_postgres
from tests.integration.test_roll_compile import read_lists
from tests.support import (
    Country,
    Keys,
    MovableClock,
    load_reference,
    make_keys,
    make_settings,
    running_app,
    token,
)

ELECTION = "2027-president"
VOTING_DAY = dt.date(2027, 3, 21)
NOW = dt.datetime.combine(VOTING_DAY, dt.time(10), tzinfo=ZoneInfo("Asia/Almaty"))
HMAC_KEY = b"test-hmac-key-0123456789abcdef0123"  # make_settings's
PERSONS = 120
POOL = 4  # the voters the actions are about: few, so that actions meet
EXAMPLES = int(os.environ.get("VOTER_LIST_PROPERTY_EXAMPLES", "10"))
KEYS = make_keys()
MAKER, CHECKER = "operator-a@tec", "operator-b@tec"


@dataclass(frozen=True)
class Setting:
    """What a drawn example is about: the country's seed and which pool voters lose their
    registrations (so that Service B may register them)."""

    seed: int
    unregistered: frozenset[int]


# An action names pool voters, precincts and earlier records by index; each is taken modulo
# what exists when it runs, so every drawn sequence means something.
ACTIONS = st.one_of(
    st.tuples(st.just("presence"), st.integers(0, POOL - 1), st.integers(0, 7)),
    st.tuples(st.just("day_registration"), st.integers(0, POOL - 1), st.integers(0, 63)),
    st.tuples(
        st.just("override"),
        st.integers(0, POOL - 1),
        st.sampled_from(["assign", "include", "exclude"]),
        st.integers(0, 63),
    ),
    st.tuples(st.just("certificate"), st.integers(0, POOL - 1)),
    st.tuples(st.just("use_certificate"), st.integers(0, POOL - 1), st.integers(0, 63)),
    st.tuples(st.just("place_of_stay"), st.integers(0, POOL - 1), st.integers(0, 63)),
    st.tuples(st.just("mission"), st.integers(0, POOL - 1)),
    st.tuples(st.just("cancel"), st.integers(0, 31)),
    st.tuples(st.just("revoke"), st.integers(0, 31)),
)
SETTINGS = st.builds(
    Setting,
    seed=st.integers(0, 2**16),
    unregistered=st.frozensets(st.integers(0, POOL - 1), max_size=POOL),
)


@dataclass
class Record:
    """A record an action made: a presence entry, a day registration or an override."""

    kind: str  # "list_entry" | "certificate" | "day_registration" | "override"
    id: str
    voter: str

    @property
    def path(self) -> str:
        base = {
            "list_entry": "/v1/list-entries",
            "certificate": "/v1/absentee-certificates",
            "day_registration": "/v1/day-registrations",
            "override": "/v1/overrides",
        }[self.kind]
        return f"{base}/{self.id}"


@dataclass
class World:
    country: Country
    client: Any
    clock: MovableClock
    pool: list[str]
    special: list[str]
    domestic: list[str]
    missions: list[str]
    homes: list[dict[str, Any]]
    records: list[Record] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def auth(self, role: Role, subject: str = MAKER) -> dict[str, str]:
        bearer = token(KEYS, role, subject=subject, now=self.clock.now())
        return {"Authorization": f"Bearer {bearer}"}

    def post(self, path: str, body: dict[str, Any], *, subject: str = MAKER, **extra: str) -> Any:
        headers = {**self.auth(Role.OPERATOR, subject), **extra}
        return self.client.post(path, json=body, headers=headers)

    def status(self, record: Record) -> str:
        response = self.client.get(record.path, headers=self.auth(Role.OPERATOR))
        assert response.status_code == 200, response.text
        status: str = response.json()["status"]
        return status

    def check(self, iin: str) -> dict[str, Any]:
        response = self.client.post(
            "/v1/eligibility/check",
            json={"iin": iin, "election_id": ELECTION},
            headers=self.auth(Role.EGOV, "clerk@egov"),
        )
        assert response.status_code == 200, response.text
        decision: dict[str, Any] = response.json()
        return decision

    # --- the actions ---------------------------------------------------------------------

    def presence(self, voter: int, precinct: int) -> None:
        iin = self.pool[voter]
        response = self.post(
            "/v1/presence-lists",
            {
                "election_id": ELECTION,
                "precinct_id": self.special[precinct % len(self.special)],
                "iins": [iin],
                "document_ref": "list of the institution's head",
            },
        )
        assert response.status_code == 200, response.text
        [result] = response.json()["results"]
        self.outcomes[f"presence:{result['code']}"] += 1
        if result["code"] is None:
            self.records.append(Record("list_entry", result["entry_id"], iin))
        else:
            assert result["code"] == "ALREADY_ON_LIST", result
            self._holder_is_active(result["holder"], iin)

    def certificate(self, voter: int) -> None:
        iin = self.pool[voter]
        response = self.post(
            "/v1/absentee-certificates",
            {"election_id": ELECTION, "iin": iin, "document_ref": "written request"},
        )
        body = response.json()
        self.outcomes[f"certificate:{response.status_code}:{body.get('code')}"] += 1
        if response.status_code == 201:
            self.records.append(Record("certificate", body["id"], iin))
            return
        assert response.status_code in (409, 422), response.text
        if body["code"] == "ALREADY_ON_LIST":
            self._holder_is_active(body["holder"], iin)

    def use_certificate(self, voter: int, precinct: int) -> None:
        """Service A where the voter presents themselves: records a certificate's use."""
        where = self.domestic[precinct % len(self.domestic)]
        bearer = token(
            KEYS, Role.COMMISSION, subject="member@pec", now=self.clock.now(), precincts=(where,)
        )
        response = self.client.post(
            "/v1/precinct-checks",
            json={"iin": self.pool[voter], "election_id": ELECTION, "precinct_id": where},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        reasons = ",".join(r["code"] for r in body["reasons"])
        self.outcomes[f"service_a:{body['included']}:{reasons}"] += 1

    def place_of_stay(self, voter: int, home: int) -> None:
        iin = self.pool[voter]
        address = self.homes[home % len(self.homes)]
        response = self.post(
            "/v1/place-of-stay-applications",
            {
                "election_id": ELECTION,
                "iin": iin,
                "stay_address": {
                    "kato": address["kato"],
                    "street": address["street"],
                    "house": address["house"],
                },
                "document_ref": "akimat decision",
            },
        )
        self._entry_answer("place_of_stay", response, iin)

    def mission(self, voter: int) -> None:
        iin = self.pool[voter]
        response = self.post(
            "/v1/mission-applications",
            {
                "election_id": ELECTION,
                "iin": iin,
                "precinct_id": self.missions[0],
                "document_ref": "application at the mission",
            },
        )
        self._entry_answer("mission", response, iin)

    def _entry_answer(self, what: str, response: Any, iin: str) -> None:
        body = response.json()
        self.outcomes[f"{what}:{response.status_code}:{body.get('code')}"] += 1
        if response.status_code == 201:
            self.records.append(Record("list_entry", body["id"], iin))
            return
        assert response.status_code in (409, 422), response.text
        if body["code"] == "ALREADY_ON_LIST":
            self._holder_is_active(body["holder"], iin)

    def day_registration(self, voter: int, precinct: int) -> None:
        iin = self.pool[voter]
        headers = {**self.auth(Role.EGOV, "clerk@egov"), "Idempotency-Key": str(uuid.uuid4())}
        response = self.client.post(
            "/v1/day-registrations",
            json={
                "iin": iin,
                "election_id": ELECTION,
                "precinct_id": self.domestic[precinct % len(self.domestic)],
            },
            headers=headers,
        )
        body = response.json()
        self.outcomes[f"day:{response.status_code}:{body.get('code')}"] += 1
        if response.status_code == 201:
            self.records.append(Record("day_registration", body["id"], iin))
            return
        assert response.status_code in (409, 422), response.text
        if body["code"] == "ALREADY_ON_LIST":
            self._holder_is_active(body["holder"], iin)

    def override(self, voter: int, kind: str, precinct: int) -> None:
        iin = self.pool[voter]
        created = self.post(
            "/v1/overrides",
            {
                "iin": iin,
                "election_id": ELECTION,
                "kind": kind,
                "precinct_id": None
                if kind == "exclude"
                else self.domestic[precinct % len(self.domestic)],
                "reason_code": "COMMISSION_RESOLUTION",
                "reason_text": "resolution of the commission",
                "document_ref": "resolution 7",
            },
        )
        assert created.status_code == 201, created.text
        override_id = created.json()["id"]
        approved = self.post(f"/v1/overrides/{override_id}/approve", {}, subject=CHECKER)
        self.outcomes[f"override:{approved.status_code}"] += 1
        if approved.status_code == 200:
            self.records.append(Record("override", override_id, iin))
            return
        # Another active override of the voter, or another record placing them: refused,
        # never two deciding at once.
        assert approved.status_code == 409, approved.text
        body = approved.json()
        assert body["code"] in ("OVERRIDE_CONFLICT", "ALREADY_ON_LIST"), body
        if body["code"] == "ALREADY_ON_LIST":
            self._holder_is_active(body["holder"], iin)

    def cancel(self, index: int) -> None:
        held = [r for r in self.records if r.kind != "override"]
        if held:
            self._undo(held[index % len(held)], "cancel")

    def revoke(self, index: int) -> None:
        overrides = [r for r in self.records if r.kind == "override"]
        if overrides:
            self._undo(overrides[index % len(overrides)], "revoke")

    def _undo(self, record: Record, verb: str) -> None:
        was_active = self.status(record) == "active"  # a used certificate is "used"
        asked = self.post(f"{record.path}/{verb}", {"reason": "entered in error"})
        if not was_active:
            assert asked.status_code == 409, asked.text
            self.outcomes[f"{verb}:inactive"] += 1
            return
        assert asked.status_code == 202, asked.text
        approved = self.post(f"{record.path}/{verb}/approve", {}, subject=CHECKER)
        assert approved.status_code == 200, approved.text
        assert self.status(record) in ("cancelled", "revoked")
        self.outcomes[f"{verb}:done"] += 1

    def _holder_is_active(self, holder: dict[str, str], iin: str) -> None:
        """A refusal names the record that holds the voter, and that record is active."""
        [record] = [r for r in self.records if r.id == holder["id"]]
        assert record.voter == iin
        assert self.status(record) in ("active", "used")

    # --- what must hold ------------------------------------------------------------------

    def holds_one_place_per_voter(self, database_url: str) -> None:
        # Every active record holds the voter's place, an override of any kind included.
        # A used certificate still holds its place.
        active = [r for r in self.records if self.status(r) in ("active", "used")]
        by_voter = Counter(r.voter for r in active)
        assert all(n == 1 for n in by_voter.values()), by_voter
        database = open_database(database_url)
        try:
            with read_session(database) as session:
                places = {
                    (row.voter_subject, row.holder_id)
                    for row in session.exec(
                        select(ListPlaceRow).where(ListPlaceRow.election_id == ELECTION)
                    )
                }
        finally:
            database.dispose()
        assert places == {(pseudonymise(r.voter, key=HMAC_KEY), r.id) for r in active}


def _country(directory: Path, setting: Setting) -> tuple[Country, list[str]]:
    generate_country(out_dir=directory, persons=PERSONS, seed=setting.seed)
    population = [json.loads(line) for line in (directory / "population.jsonl").open()]
    pool = sorted(p["iin"] for p in population)[:POOL]
    dropped = {pool[i] for i in setting.unregistered}
    registrations = directory / "registrations.jsonl"
    kept = [line for line in registrations.open() if json.loads(line)["iin"] not in dropped]
    registrations.write_text("".join(kept), "utf-8")
    elections = directory / "elections.jsonl"
    rows = [json.loads(line) for line in elections.open()]
    every_way = {"opens": "2027-01-20T00:00", "closes": "2027-03-21T20:00"}
    for row in rows:
        if row["id"] == ELECTION:
            row["calendar"] = {
                step: every_way
                for step in (
                    "presence_lists",
                    "applications",
                    "absentee_certificates",
                    "mission_applications",
                )
            }
    elections.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    country = Country(
        directory=directory,
        population=directory / "population.jsonl",
        registrations=registrations,
        precincts=directory / "precincts.jsonl",
        elections=elections,
    )
    return country, pool


def _transports(country: Country) -> Transports:
    return Transports(
        registry=httpx.ASGITransport(app=create_registry_app(country.population)),
        addresses=httpx.ASGITransport(app=create_addresses_app(country.registrations)),
    )


def _roll_lists(database_url: str, country: Country, out: Path, keys: Keys) -> dict[str, Any]:
    class _At:
        def now(self) -> dt.datetime:
            return NOW.astimezone(dt.UTC)

    database = open_database(database_url)
    try:
        RollCompiler(
            RollOptions(
                election_id=ELECTION,
                out_dir=out,
                registry_url="http://registry",
                addresses_url="http://addresses",
                chunk_size=50,
                batch_size=32,
                workers=0,
                attempts=2,
                backoff_seconds=0,
            ),
            database=database,
            audit_log=RollAuditLog(CheckpointSigner(keys.audit_signing)),
            hmac_key=HMAC_KEY,
            clock=_At(),
            transports=_transports(country),
        ).run()
    finally:
        database.dispose()
    return read_lists(out)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(setting=SETTINGS, actions=st.lists(ACTIONS, min_size=2, max_size=14))
def test_any_sequence_of_list_actions_keeps_every_voter_on_one_list_and_roll_and_check_agree(
    setting: Setting, actions: list[tuple[Any, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        country, pool = _country(directory / "country", setting)
        precincts = [json.loads(line) for line in country.precincts.open()]
        special = [p["id"] for p in precincts if p["kind"] == "special"]
        domestic = [
            p["id"] for p in precincts if p["kind"] == "ordinary" and p.get("day_registration")
        ]
        missions = [p["id"] for p in precincts if p["kind"] == "foreign"]
        homes = [
            record
            for line in country.registrations.open()
            if (record := json.loads(line))["kind"] == "permanent" and record["street"]
        ][:64]
        assert special
        assert domestic
        assert missions
        assert homes
        url = new_database_url(directory)
        try:
            app_settings = make_settings(url, KEYS)
            load_reference(app_settings, country)
            clock = MovableClock(NOW)
            with running_app(app_settings, _transports(country), clock=clock) as (_, client):
                world = World(country, client, clock, pool, special, domestic, missions, homes)
                for action in actions:
                    getattr(world, action[0])(*action[1:])
                    world.holds_one_place_per_voter(url)
                population = [json.loads(line)["iin"] for line in country.population.open()]
                checked = {iin: world.check(iin) for iin in population}
            lists = _roll_lists(url, country, directory / "roll", KEYS)
        finally:
            if on_postgres():
                drop_database(url)

    for outcome in sorted(world.outcomes):
        event(outcome)  # --hypothesis-show-statistics shows what the examples exercised
    placed: dict[str, str] = {}
    for precinct, iins in lists.items():
        for iin in iins:
            assert iin not in placed, f"a voter on two lists: {placed[iin]!r} and {precinct!r}"
            placed[iin] = precinct
    for iin, decision in checked.items():
        if decision["outcome"] != "eligible":
            assert iin not in placed, (decision["outcome"], placed[iin])
        elif decision["precinct"]:
            assert placed.get(iin) == decision["precinct"]["id"], (decision, placed.get(iin))
        elif decision["basis"] == "absentee_certificate":
            # An unused certificate: on no list until it is presented (SPEC §15 way 4).
            assert iin not in placed, (decision["basis"], placed[iin])
        else:
            assert placed.get(iin) == "", (decision["basis"], placed.get(iin))
