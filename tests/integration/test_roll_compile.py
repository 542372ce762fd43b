"""``voterctl roll compile`` on a small generated country (issue 5).

An oracle decides every person straight from the data files with the pure core; the compile,
which goes through both mocks' batch routes, the worker logic, the chain and the part files,
must agree with it person for person, list for list.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlmodel import col, select

from service.adapters.pipeline import Transports
from service.audit.log import AuditReader
from service.audit.pseudonym import pseudonymise
from service.audit.signing import CheckpointSigner, CheckpointVerifier
from service.audit.verify import verify_database
from service.bootstrap import import_reference
from service.datafiles import (
    ElectionRecord,
    PersonRecord,
    PrecinctRecord,
    RegistrationRecord,
    iter_records,
)
from service.datagen import generate_country
from service.db import repository
from service.db.engine import Database, open_database, read_session, write_session
from service.db.migrations import create_schema
from service.db.tables import (
    ListPlaceRow,
    OverrideActionRow,
    OverrideRow,
    RollChunkRow,
    RollRunRow,
)
from service.domain.decision import decide
from service.domain.model import ActiveOverride, ListEntryKind, OverrideKind
from service.domain.precincts import PrecinctDirectory
from service.mocks.addresses import create_addresses_app
from service.mocks.registry import create_registry_app
from service.roll.chain_writer import RollAuditLog
from service.roll.compile import (
    RollCompiler,
    RollOptions,
    RollRefused,
    RollReport,
    RollStopped,
)
from service.roll.model import DECISION_KIND, ListFormat
from service.roll.parts import COLUMNS, PartFileMismatch
from service.usecases.ports import AbsenteeCertificateRecord, ListEntryRecord
from tests.databases import drop_database, new_database_url, on_postgres
from tests.support import Keys

PERSONS = 1500
CHUNK = 200  # 8 chunks, the last one short
ELECTION = "2027-president"
HMAC_KEY = b"test-hmac-key-0123456789abcdef0123"
NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


class _Clock:
    def now(self) -> dt.datetime:
        return NOW


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("country")
    generate_country(out_dir=directory, persons=PERSONS, seed=7)
    return directory


@dataclass
class World:
    data: Path
    database: Database
    url: str
    keys: Keys
    tmp: Path
    others: list[World] = field(default_factory=list)

    def audit_log(self) -> RollAuditLog:
        return RollAuditLog(CheckpointSigner(self.keys.audit_signing))

    def transports(self, *, registry: Any = None, addresses: Any = None) -> Transports:
        return Transports(
            registry=registry
            or httpx.ASGITransport(app=create_registry_app(self.data / "population.jsonl")),
            addresses=addresses
            or httpx.ASGITransport(app=create_addresses_app(self.data / "registrations.jsonl")),
        )

    def compiler(
        self,
        out: Path,
        *,
        transports: Transports | None = None,
        on_commit: Callable[[int], None] | None = None,
        audit_log: RollAuditLog | None = None,
        **options: Any,
    ) -> RollCompiler:
        settings: dict[str, Any] = {
            "chunk_size": CHUNK,
            "batch_size": 64,
            "workers": 0,
            "attempts": 2,
            "backoff_seconds": 0,
            **options,
        }
        return RollCompiler(
            RollOptions(
                election_id=ELECTION,
                out_dir=out,
                registry_url="http://registry",
                addresses_url="http://addresses",
                **settings,
            ),
            database=self.database,
            audit_log=audit_log or self.audit_log(),
            hmac_key=HMAC_KEY,
            clock=_Clock(),
            transports=transports if transports is not None else self.transports(),
            on_commit=on_commit,
        )

    def other_database(self) -> World:
        """The same country in a database of its own (to compare runs)."""
        url = new_database_url(self.tmp / f"other-{len(self.others)}")
        other = _world(self.data, url, self.keys, self.tmp)
        self.others.append(other)
        return other


def _world(data: Path, url: str, keys: Keys, tmp: Path) -> World:
    if not on_postgres():
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    database = open_database(url)
    create_schema(database)
    audit_log = RollAuditLog(CheckpointSigner(keys.audit_signing))
    for kind in ("precincts", "elections"):
        import_reference(
            kind,
            data / f"{kind}.jsonl",
            database=database,
            audit_log=audit_log,
            actor="test",
            now=NOW,
        )
    return World(data, database, url, keys, tmp)


@pytest.fixture
def world(generated: Path, database_url: str, keys: Keys, tmp_path: Path) -> Iterator[World]:
    made = _world(generated, database_url, keys, tmp_path)
    yield made
    made.database.dispose()
    for other in made.others:
        other.database.dispose()
        if on_postgres():
            drop_database(other.url)


# --- the oracle ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    lists: dict[str, list[str]]  # precinct id ('' = unassigned) -> IINs in order
    outcomes: Counter[str]
    reasons: Counter[str]
    persons: int


def oracle(data: Path, overrides: dict[str, ActiveOverride] | None = None) -> Expected:
    election = next(
        r.to_domain()
        for _, r in iter_records(data / "elections.jsonl", ElectionRecord)
        if r.id == ELECTION
    )
    directory = PrecinctDirectory(
        r.to_domain() for _, r in iter_records(data / "precincts.jsonl", PrecinctRecord)
    )
    held = defaultdict(list)
    for _, record in iter_records(data / "registrations.jsonl", RegistrationRecord):
        held[record.iin].append(record.to_domain())
    lists: dict[str, list[str]] = defaultdict(list)
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    people = sorted(
        (r.to_domain() for _, r in iter_records(data / "population.jsonl", PersonRecord)),
        key=lambda p: p.iin,
    )
    for person in people:
        override = (overrides or {}).get(person.iin)
        decision = decide(
            person, held[person.iin], election=election, directory=directory, override=override
        )
        outcomes[decision.outcome.value] += 1
        reasons.update(r.value for r in decision.reasons)
        if decision.outcome.value == "eligible":
            lists[decision.precinct_id or ""].append(person.iin)
    return Expected(dict(lists), outcomes, reasons, len(people))


def read_lists(out: Path) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    for path in sorted((out / "precincts").glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
        assert tuple(rows[0]) == COLUMNS
        if rows[1:]:
            lists[path.stem] = [row[0] for row in rows[1:]]
    unassigned = list(csv.reader(io.StringIO((out / "unassigned.csv").read_text("utf-8"))))
    if unassigned[1:]:
        lists[""] = [row[0] for row in unassigned[1:]]
    return lists


def decision_entries(database: Database) -> list[dict[str, Any]]:
    with read_session(database) as session:
        return [
            {"subject": body["subject"], **body["payload"]}
            for entry in AuditReader().iter_entries(session)
            if (body := orjson.loads(entry.body))["kind"] == DECISION_KIND
        ]


def verifies(world: World) -> bool:
    return verify_database(world.database, verifier=CheckpointVerifier(world.keys.audit_public)).ok


def list_bytes(out: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*.csv"))
        if ".parts" not in path.parts
    }


# --- a whole run ---------------------------------------------------------------------------


def test_every_person_is_decided_once_and_listed_where_the_law_places_them(
    world: World,
) -> None:
    out = world.tmp / "roll"
    expected = oracle(world.data)

    report = world.compiler(out).run()

    assert report.persons == expected.persons == PERSONS
    assert report.chunks == -(-PERSONS // CHUNK)
    assert read_lists(out) == expected.lists
    entries = decision_entries(world.database)
    assert len(entries) == PERSONS
    all_iins = [iin for iin, _ in _population(world.data)]
    subjects = {pseudonymise(iin, key=HMAC_KEY) for iin in all_iins}
    assert {e["subject"] for e in entries} == subjects
    assert Counter(e["outcome"] for e in entries) == expected.outcomes
    assert all(e["run_id"] == report.run_id and e["election_id"] == ELECTION for e in entries)
    assert verifies(world)


def _population(data: Path) -> list[tuple[str, Any]]:
    return [(r.iin, r) for _, r in iter_records(data / "population.jsonl", PersonRecord)]


def test_the_summary_counts_match_the_files_and_the_decisions(world: World) -> None:
    out = world.tmp / "roll"
    expected = oracle(world.data)

    report = world.compiler(out).run()

    summary = orjson.loads((out / "summary.json").read_bytes())
    assert summary == report.summary
    lists = read_lists(out)
    for precinct in summary["precincts"]:
        assert precinct["voters"] == len(lists.get(precinct["id"], [])), precinct["id"]
        assert (out / precinct["file"]).exists()
    assert summary["unassigned"] == len(lists.get("", []))
    assert summary["listed"] + summary["unassigned"] == expected.outcomes["eligible"]
    assert summary["outcomes"] == dict(expected.outcomes)
    assert summary["reasons"] == dict(expected.reasons)
    assert summary["audit"]["last_seq"] - summary["audit"]["first_seq"] + 1 == PERSONS


def test_the_audit_log_holds_no_personal_data(world: World) -> None:
    out = world.tmp / "roll"
    world.compiler(out).run()
    people = _population(world.data)

    with read_session(world.database) as session:
        log = "\n".join(entry.body for entry in AuditReader().iter_entries(session))

    for iin, record in people[:200]:
        assert iin not in log
        assert record.surname not in log


def test_a_resumed_run_writes_the_same_lists_and_no_duplicate_entries(world: World) -> None:
    whole = world.other_database()
    whole.compiler(world.tmp / "whole").run()

    class Interrupted(Exception):
        pass

    def stop_after_three(chunk_no: int) -> None:
        if chunk_no == 2:
            raise Interrupted

    out = world.tmp / "roll"
    with pytest.raises(Interrupted):
        world.compiler(out, on_commit=stop_after_three).run()
    assert len(decision_entries(world.database)) == 3 * CHUNK
    assert not (out / "summary.json").exists()

    report = world.compiler(out).run()

    assert report.resumed
    assert report.decided_now == PERSONS - 3 * CHUNK
    assert list_bytes(out) == list_bytes(world.tmp / "whole")
    entries = decision_entries(world.database)
    assert len(entries) == PERSONS
    assert len({e["subject"] for e in entries}) == PERSONS
    assert verifies(world)


class _FailingWriter(RollAuditLog):
    """The database fails while committing one chunk: after its part file was written."""

    def __init__(self, signer: CheckpointSigner, *, fail_at_seq: int) -> None:
        super().__init__(signer)
        self.fail_at_seq = fail_at_seq

    def append_rendered(self, session: Any, **kwargs: Any) -> Any:
        if kwargs["first_seq"] <= self.fail_at_seq <= kwargs["first_seq"] + CHUNK:
            raise OSError("disk gone")
        return super().append_rendered(session, **kwargs)


def test_a_crash_between_part_file_and_commit_is_redone_without_duplicates(
    world: World,
) -> None:
    out = world.tmp / "roll"
    with read_session(world.database) as session:
        head = AuditReader().chain_length(session)
    failing = _FailingWriter(CheckpointSigner(world.keys.audit_signing), fail_at_seq=head + 900)

    with pytest.raises(OSError, match="disk gone"):
        world.compiler(out, audit_log=failing).run()
    committed = len(decision_entries(world.database))
    assert 0 < committed < PERSONS
    assert len(list((out / ".parts").rglob("*.part"))) > committed // CHUNK

    world.compiler(out).run()

    assert read_lists(out) == oracle(world.data).lists
    assert len(decision_entries(world.database)) == PERSONS
    assert verifies(world)


class _Breakable(httpx.AsyncBaseTransport):
    """An upstream that answers until it is broken: then every call is a 503."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, break_after: int) -> None:
        self.inner = inner
        self.calls = 0
        self.break_after = break_after

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if request.url.path.endswith("lookup-batch") and self.calls > self.break_after:
            return httpx.Response(503)
        return await self.inner.handle_async_request(request)


def test_an_upstream_outage_stops_the_compile_resumably(world: World) -> None:
    out = world.tmp / "roll"
    healthy = world.transports()
    addresses = _Breakable(healthy.addresses, break_after=8)  # type: ignore[arg-type]

    with pytest.raises(RollStopped) as caught:
        world.compiler(out, transports=world.transports(addresses=addresses)).run()

    assert caught.value.upstream == "addresses"
    assert "run the same command again" in str(caught.value)
    committed = len(decision_entries(world.database))
    assert committed % CHUNK == 0
    assert committed < PERSONS
    with read_session(world.database) as session:
        run = session.exec(select(RollRunRow)).one()
        assert run.status == "running"

    report = world.compiler(out).run()

    assert report.resumed
    assert read_lists(out) == oracle(world.data).lists
    assert len(decision_entries(world.database)) == PERSONS
    assert verifies(world)


class _Forgetful(httpx.AsyncBaseTransport):
    """A registry whose batch lookups no longer find one person its listing still names."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, forget: str) -> None:
        self.inner = inner
        self.forget = forget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("lookup-batch"):
            return response
        body = orjson.loads(await response.aread())
        for result in body["results"]:
            if result["iin"] == self.forget:
                result["found"], result["person"] = False, None
        return httpx.Response(200, content=orjson.dumps(body))


def test_a_person_the_registry_no_longer_finds_is_ineligible_not_found(world: World) -> None:
    out = world.tmp / "roll"
    iin, _ = _population(world.data)[0]
    registry = _Forgetful(world.transports().registry, forget=iin)  # type: ignore[arg-type]

    report = world.compiler(out, transports=world.transports(registry=registry)).run()

    entry = next(
        e
        for e in decision_entries(world.database)
        if e["subject"] == pseudonymise(iin, key=HMAC_KEY)
    )
    assert entry["outcome"] == "ineligible"
    assert entry["reasons"] == ["NOT_FOUND"]
    assert report.summary["reasons"]["NOT_FOUND"] == 1
    assert all(iin not in iins for iins in read_lists(out).values())


def _approve_override(
    database: Database, iin: str, kind: OverrideKind, precinct_id: str | None
) -> str:
    subject = pseudonymise(iin, key=HMAC_KEY)
    override_id = str(uuid.uuid4())
    with write_session(database) as session:
        session.add(
            OverrideRow(
                id=override_id,
                election_id=ELECTION,
                subject=subject,
                kind=kind.value,
                precinct_id=precinct_id,
                reason_code="COURT_DECISION",
                reason_text="test",
                document_ref="court 1/2027",
                expires_on=dt.date(2027, 3, 22),
                created_by="maker",
                created_at=NOW,
                audit_seq=1,
            )
        )
        session.flush()
        session.add(
            OverrideActionRow(
                override_id=override_id, action="approve", actor="checker", at=NOW, audit_seq=1
            )
        )
        session.add(
            ListPlaceRow(
                election_id=ELECTION,
                voter_subject=subject,
                holder_kind="override",
                holder_id=override_id,
            )
        )
    return override_id


def test_approved_overrides_apply_to_the_lists(world: World) -> None:
    out = world.tmp / "roll"
    plain = oracle(world.data)
    listed = [iin for key, iins in sorted(plain.lists.items()) if key for iin in iins]
    excluded, moved = listed[0], listed[1]
    target = next(key for key, iins in sorted(plain.lists.items()) if key and moved not in iins)
    exclusion = _approve_override(world.database, excluded, OverrideKind.EXCLUDE, None)
    _approve_override(world.database, moved, OverrideKind.ASSIGN, target)

    world.compiler(out).run()

    lists = read_lists(out)
    assert all(excluded not in iins for iins in lists.values())
    assert moved in lists[target]
    expected = oracle(
        world.data,
        {
            excluded: ActiveOverride(exclusion, OverrideKind.EXCLUDE, None),
            moved: ActiveOverride("x", OverrideKind.ASSIGN, target),
        },
    )
    assert lists == expected.lists
    entry = next(
        e
        for e in decision_entries(world.database)
        if e["subject"] == pseudonymise(excluded, key=HMAC_KEY)
    )
    assert entry["basis"] == "override"
    assert entry["override_id"] == exclusion


def test_parquet_lists_hold_the_same_rows_as_csv(world: World) -> None:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    csv_out = world.tmp / "csv"
    world.other_database().compiler(csv_out).run()
    out = world.tmp / "parquet"

    report = world.compiler(out, list_format=ListFormat.PARQUET).run()

    assert report.summary["list_format"] == "parquet"
    for path in sorted((csv_out / "precincts").glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
        table = pq.read_table(out / "precincts" / f"{path.stem}.parquet")
        assert table.column_names == list(COLUMNS)
        assert [list(r.values()) for r in table.to_pylist()] == rows[1:]


def test_a_second_compile_into_a_finished_directory_is_refused(world: World) -> None:
    out = world.tmp / "roll"
    world.compiler(out).run()

    with pytest.raises(RollRefused, match="already holds"):
        world.compiler(out).run()


def test_an_unfinished_run_resumes_only_into_its_own_directory(world: World) -> None:
    out = world.tmp / "roll"

    def stop(chunk_no: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        world.compiler(out, on_commit=stop).run()

    with pytest.raises(RollRefused, match="rerun with that --out"):
        world.compiler(world.tmp / "elsewhere").run()
    with pytest.raises(RollRefused, match="same"):
        world.compiler(out, chunk_size=CHUNK * 2).run()


def test_a_tampered_part_file_stops_the_assembly(world: World) -> None:
    out = world.tmp / "roll"

    def stop(chunk_no: int) -> None:
        if chunk_no == 7:
            part = next((out / ".parts").rglob("chunk-0000003.part"))
            part.write_bytes(part.read_bytes().replace(b"\n", b"\n\n", 2))

    with pytest.raises(PartFileMismatch) as caught:
        world.compiler(out, on_commit=stop).run()

    assert caught.value.chunk_no == 3
    assert not (out / "summary.json").exists()


def test_progress_rows_commit_with_their_entries(world: World) -> None:
    out = world.tmp / "roll"
    report: RollReport = world.compiler(out).run()

    with read_session(world.database) as session:
        chunks = session.exec(
            select(RollChunkRow).where(RollChunkRow.run_id == report.run_id)
        ).all()
        run = session.get(RollRunRow, report.run_id)

    assert run is not None
    assert run.status == "complete"
    assert sum(c.persons for c in chunks) == PERSONS
    ordered = sorted(chunks, key=lambda c: c.chunk_no)
    for before, after in pairwise(ordered):
        assert after.first_seq == before.last_seq + 1
    assert ordered[-1].cursor is None
    assert not (out / ".parts").exists() or not any((out / ".parts").rglob("*.part"))


def test_entries_appended_by_someone_else_meanwhile_keep_one_linear_chain(
    world: World,
) -> None:
    out = world.tmp / "roll"
    others = world.audit_log()

    def a_check_lands_meanwhile(chunk_no: int) -> None:
        if chunk_no in (1, 4):
            with write_session(world.database) as session:
                others.append(
                    session,
                    kind="eligibility.check",
                    subject=pseudonymise("900101300126", key=HMAC_KEY),
                    payload={"outcome": "eligible"},
                    recorded_at=NOW,
                )

    world.compiler(out, on_commit=a_check_lands_meanwhile).run()

    assert len(decision_entries(world.database)) == PERSONS
    with read_session(world.database) as session:
        kinds = Counter(orjson.loads(e.body)["kind"] for e in AuditReader().iter_entries(session))
        chunks = session.exec(select(RollChunkRow).order_by(col(RollChunkRow.chunk_no))).all()
    assert kinds["eligibility.check"] == 2
    assert [c.first_seq for c in chunks][2] == chunks[1].last_seq + 2
    assert read_lists(out) == oracle(world.data).lists
    assert verifies(world)


def test_a_presence_list_entry_moves_the_voter_to_its_precinct_in_the_lists(
    world: World,
) -> None:
    out = world.tmp / "roll"
    plain = oracle(world.data)
    listed = [iin for key, iins in sorted(plain.lists.items()) if key for iin in iins]
    present = listed[0]
    target = next(key for key, iins in sorted(plain.lists.items()) if key and present not in iins)
    with write_session(world.database) as session:
        repository.ListEntries(session).add(
            ListEntryRecord(
                id="entry-1",
                election_id=ELECTION,
                subject=pseudonymise(present, key=HMAC_KEY),
                kind=ListEntryKind.SPECIAL_PRESENCE,
                precinct_id=target,
                document_ref="hospital list 1",
                created_by="operator",
                created_at=NOW,
                audit_seq=1,
            )
        )

    world.compiler(out).run()

    lists = read_lists(out)
    assert [key for key, iins in lists.items() if present in iins] == [target]
    entry = next(
        e
        for e in decision_entries(world.database)
        if e["subject"] == pseudonymise(present, key=HMAC_KEY)
    )
    assert (entry["basis"], entry["precinct_id"]) == ("special_presence", target)


def test_a_certificate_holder_is_on_no_list_and_counted_by_basis(world: World) -> None:
    """SPEC §15 way 4: an unused absentee certificate takes the voter off the home list;
    the summary counts them under ``absentee_certificate``, not among the unassigned."""
    out = world.tmp / "roll"
    plain = oracle(world.data)
    holder = next(iin for key, iins in sorted(plain.lists.items()) if key for iin in iins)
    home = next(key for key, iins in plain.lists.items() if holder in iins)
    with write_session(world.database) as session:
        repository.ListEntries(session).add(
            ListEntryRecord(
                id="entry-2",
                election_id=ELECTION,
                subject=pseudonymise(holder, key=HMAC_KEY),
                kind=ListEntryKind.ABSENTEE_CERTIFICATE,
                precinct_id=home,
                document_ref="application 1",
                created_by="operator",
                created_at=NOW,
                audit_seq=1,
            )
        )
        repository.AbsenteeCertificates(session).add(
            AbsenteeCertificateRecord(
                entry_id="entry-2",
                election_id=ELECTION,
                subject=pseudonymise(holder, key=HMAC_KEY),
                serial=1,
            )
        )

    report = world.compiler(out).run()

    lists = read_lists(out)
    assert not [key for key, iins in lists.items() if holder in iins]
    summary = report.summary
    assert summary["basis"]["absentee_certificate"] == 1
    assert summary["listed"] == sum(len(v) for k, v in plain.lists.items() if k) - 1
    assert summary["unassigned"] == len(plain.lists.get("", []))
    entry = next(
        e
        for e in decision_entries(world.database)
        if e["subject"] == pseudonymise(holder, key=HMAC_KEY)
    )
    assert (entry["basis"], entry["precinct_id"]) == ("absentee_certificate", None)
