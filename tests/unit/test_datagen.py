"""The synthetic country generator: deterministic, valid, conflict-free, every outcome present."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from random import Random
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import service.datagen.generate as generation
import service.datagen.output as output
import service.datagen.shape as shape
from service.datafiles import (
    ElectionRecord,
    PersonRecord,
    PrecinctRecord,
    RegistrationRecord,
    iter_records,
)
from service.datagen import (
    ELECTIONS,
    PERSON_CATEGORIES,
    SAMPLE_CATEGORIES,
    GenerationSummary,
    generate_country,
)
from service.datagen.geography import InstitutionKind, build_geography, missions_for
from service.datagen.iins import IinIssuer
from service.datagen.names import NEW_STREET_NAMES
from service.datagen.output import DirectFile
from service.datagen.people import _ODDS, _WITH_TEMPORARY, _alias_table, _Odds
from service.domain.decision import decide
from service.domain.iin import complete_iin, parse_iin
from service.domain.model import (
    HOME_COUNTRY,
    Basis,
    Custody,
    Decision,
    Election,
    LegalCapacity,
    NextStepCode,
    Outcome,
    Parity,
    Person,
    Precinct,
    PrecinctKind,
    ReasonCode,
    Registration,
    RegistrationKind,
)
from service.domain.precincts import PrecinctDirectory, find_conflicts, house_number
from service.domain.rules import coming_of_age

PERSONS = 2_000
SEED = 7
FILES = (
    "population.jsonl",
    "registrations.jsonl",
    "precincts.jsonl",
    "elections.jsonl",
    "samples.json",
)
POPULATION_FIELDS = {
    "iin", "surname", "given_name", "patronymic", "birth_date", "sex", "citizenship",
    "death_date", "legal_capacity", "custody", "data_as_of",
}  # fmt: skip
# SPEC §15's dated facts: present only where they say something.
DATED_FIELDS = {
    "incapacitated": {"incapacitated_since"},
    "pretrial": {"custody_since"},
    "sentenced": {"custody_since", "sentence_ends_on"},
}
REGISTRATION_FIELDS = {
    "iin", "kind", "rca", "kato", "street", "house", "flat", "country", "city",
    "valid_from", "valid_until",
}  # fmt: skip
PRECINCT_FIELDS = {
    "id", "number", "name", "address", "kato", "kind", "country", "city", "timezone",
    "day_registration", "segments", "buildings",
}  # fmt: skip
ELECTION_FIELDS = {"id", "kind", "voting_day", "called_on", "day_registration"}
LOCAL_KINDS = {"maslikhat", "akim"}  # and only they have a territory (SPEC §14)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SINGLE_REASON_CATEGORIES = {
    ReasonCode.DECEASED: "deceased",
    ReasonCode.NOT_CITIZEN: "not_citizen",
    ReasonCode.UNDER_18: "under_18",
    ReasonCode.INCAPACITATED_BY_COURT: "incapacitated",
    ReasonCode.IMPRISONED_BY_SENTENCE: "imprisoned",
}


@dataclass(frozen=True)
class Country:
    summary: GenerationSummary
    people: dict[str, Person]
    registrations: dict[str, list[Registration]]
    precincts: list[Precinct]
    elections: list[Election]
    samples: dict[str, str]
    raw: dict[str, list[dict[str, object]]]

    @property
    def directory(self) -> PrecinctDirectory:
        return PrecinctDirectory(self.precincts)

    def decide(self, iin: str, election: Election | None = None) -> Decision:
        return decide(
            self.people.get(iin),
            self.registrations.get(iin, []),
            election=election or self.elections[0],
            directory=self.directory,
        )


def _json_lines(path: Path) -> list[dict[str, object]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def load(out_dir: Path, summary: GenerationSummary) -> Country:
    registrations: dict[str, list[Registration]] = defaultdict(list)
    for _, record in iter_records(out_dir / "registrations.jsonl", RegistrationRecord):
        registrations[record.iin].append(record.to_domain())
    return Country(
        summary=summary,
        people={
            r.iin: r.to_domain()
            for _, r in iter_records(out_dir / "population.jsonl", PersonRecord)
        },
        registrations=dict(registrations),
        precincts=[
            r.to_domain() for _, r in iter_records(out_dir / "precincts.jsonl", PrecinctRecord)
        ],
        elections=[
            r.to_domain() for _, r in iter_records(out_dir / "elections.jsonl", ElectionRecord)
        ],
        samples=json.loads((out_dir / "samples.json").read_text(encoding="utf-8")),
        raw={name: _json_lines(out_dir / name) for name in FILES if name.endswith(".jsonl")},
    )


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("country")


@pytest.fixture(scope="module")
def country(out_dir: Path) -> Country:
    summary = generate_country(out_dir=out_dir, persons=PERSONS, seed=SEED, workers=1)
    return load(out_dir, summary)


def category_of(decision: Decision, directory: PrecinctDirectory) -> str:
    """The PERSON_CATEGORIES name of a decision, read the way the demo explains it."""
    if decision.outcome is Outcome.INELIGIBLE:
        if len(decision.reasons) > 1:
            return "multiple_reasons"
        return SINGLE_REASON_CATEGORIES[decision.reasons[0]]
    if decision.basis is Basis.PERMANENT_REGISTRATION:
        precinct = directory.get(decision.precinct_id or "")
        assert precinct is not None
        return "eligible_special" if precinct.kind is PrecinctKind.SPECIAL else "eligible_permanent"
    if decision.basis is Basis.TEMPORARY_REGISTRATION:
        return "eligible_temporary"
    if decision.basis is Basis.CONSULAR_REGISTRATION:
        return "eligible_consular"
    (step,) = decision.next_steps
    if step.code is NextStepCode.DAY_REGISTRATION_AVAILABLE:
        return "eligible_no_registration"
    return "eligible_uncovered_address"


def admits(parity: Parity, number: int) -> bool:
    return parity is Parity.ALL or (number % 2 == 1) == (parity is Parity.ODD)


def claimants(precincts: list[Precinct], registration: Registration) -> list[str]:
    """Every precinct claiming an address: by explicit building first, else by segment."""
    by_building = [p.id for p in precincts if registration.rca in p.buildings]
    if by_building:
        return by_building
    number = house_number(registration.house)
    assert number is not None
    return [
        p.id
        for p in precincts
        if p.kato == registration.kato
        for s in p.segments
        if s.street == registration.street
        and s.first <= number <= s.last
        and admits(s.parity, number)
    ]


# Determinism


def test_the_same_seed_writes_the_same_bytes(
    country: Country, out_dir: Path, tmp_path: Path
) -> None:
    again = generate_country(out_dir=tmp_path, persons=PERSONS, seed=SEED, workers=1)

    for name in FILES:
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name
    assert again.categories == country.summary.categories


def test_another_seed_writes_another_country(out_dir: Path, tmp_path: Path) -> None:
    generate_country(out_dir=tmp_path, persons=PERSONS, seed=SEED + 1, workers=1)

    for name in ("population.jsonl", "registrations.jsonl", "precincts.jsonl"):
        assert (tmp_path / name).read_bytes() != (out_dir / name).read_bytes(), name


def test_worker_processes_write_the_same_bytes_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that 1,200 people make several of them.
    monkeypatch.setattr(generation, "CHUNK_PERSONS", 300)
    alone, together = tmp_path / "alone", tmp_path / "together"

    one = generate_country(out_dir=alone, persons=1_200, seed=SEED, workers=1)
    two = generate_country(out_dir=together, persons=1_200, seed=SEED, workers=2)

    for name in FILES:
        assert (alone / name).read_bytes() == (together / name).read_bytes(), name
    assert one.categories == two.categories
    assert not list(together.glob(".datagen-*")), "scratch files are cleaned up"


def test_iins_stay_valid_and_unique_across_many_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each chunk issues from its own block of serials; 30 chunks share every birth date.
    monkeypatch.setattr(generation, "CHUNK_PERSONS", 1_000)

    summary = generate_country(out_dir=tmp_path, persons=30_000, seed=SEED, workers=1)
    iins = [str(line["iin"]) for line in _json_lines(tmp_path / "population.jsonl")]

    assert len(iins) == len(set(iins)) == summary.persons == 30_000
    assert all(parse_iin(iin) == iin for iin in iins)


# Identity numbers


def test_every_iin_is_a_valid_individual_iin_and_unique(country: Country) -> None:
    iins = [str(line["iin"]) for line in country.raw["population.jsonl"]]

    assert len(iins) == PERSONS == country.summary.persons
    assert len(set(iins)) == len(iins)
    assert all(parse_iin(iin) == iin for iin in iins)
    assert all(iin[4] not in "456" for iin in iins)


def test_the_not_found_sample_is_a_valid_iin_nobody_has(country: Country) -> None:
    iin = country.samples["not_found"]

    assert parse_iin(iin) == iin
    assert iin not in country.people
    assert iin not in country.registrations


@given(
    birth=st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)),
    female=st.booleans(),
    count=st.integers(1, 40),
)
def test_issued_iins_agree_with_the_domain_check_digit(
    birth: dt.date, female: bool, count: int
) -> None:
    issuer = IinIssuer()

    iins = [issuer.issue(birth.toordinal(), female).decode() for _ in range(count)]

    assert len(set(iins)) == count
    assert all(complete_iin(iin[:11]) == iin for iin in iins)


@given(birth=st.dates(dt.date(1920, 1, 1), dt.date(2026, 10, 31)), female=st.booleans())
def test_issuers_with_disjoint_serials_never_collide(birth: dt.date, female: bool) -> None:
    low, high = IinIssuer(range(0, 50)), IinIssuer(range(50, 100))

    first = {low.issue(birth.toordinal(), female) for _ in range(40)}
    second = {high.issue(birth.toordinal(), female) for _ in range(40)}

    assert not first & second


def test_an_issuer_refuses_once_its_serials_run_out() -> None:
    issuer = IinIssuer(range(0, 3))
    day = dt.date(1990, 1, 1).toordinal()

    issued = {issuer.issue(day, False) for _ in range(3)}

    assert len(issued) == 3
    with pytest.raises(OverflowError):
        issuer.issue(day, False)


# File formats


def test_every_file_has_exactly_the_spec_fields(country: Country) -> None:
    raw = country.raw

    assert all(
        set(line) == POPULATION_FIELDS | _dated_fields_of(line) for line in raw["population.jsonl"]
    )
    assert all(set(line) == REGISTRATION_FIELDS for line in raw["registrations.jsonl"])
    assert all(set(line) == PRECINCT_FIELDS for line in raw["precincts.jsonl"])
    assert all(
        set(line) == ELECTION_FIELDS | ({"territory"} if line["kind"] in LOCAL_KINDS else set())
        for line in raw["elections.jsonl"]
    )
    assert any(line["kind"] in LOCAL_KINDS for line in raw["elections.jsonl"])
    assert all(
        set(segment) == {"street", "from", "to", "parity"}
        for line in raw["precincts.jsonl"]
        for segment in line["segments"]  # type: ignore[attr-defined]
    )


def _dated_fields_of(line: dict[str, object]) -> set[str]:
    """The dated facts a person's line carries for its status (SPEC §15)."""
    return DATED_FIELDS.get(str(line["legal_capacity"]), set()) | DATED_FIELDS.get(
        str(line["custody"]), set()
    )


def test_court_bars_carry_their_dates_and_a_sentence_outlasts_voting_day(
    country: Country,
) -> None:
    voting_day = country.elections[0].voting_day
    incapacitated = [p for p in country.people.values() if p.incapacitated_since]
    sentenced = [p for p in country.people.values() if p.custody is Custody.SENTENCED]

    assert incapacitated
    assert sentenced
    assert all(p.legal_capacity is LegalCapacity.INCAPACITATED for p in incapacitated)
    assert all(
        p.custody_since is not None
        for p in country.people.values()
        if p.custody is not Custody.NONE
    )
    # Drawn as imprisoned, counted as imprisoned: the sentence still runs on voting day.
    assert all(p.sentence_ends_on and p.sentence_ends_on > voting_day for p in sentenced)
    assert all(
        p.birth_date < day <= (p.death_date or day)
        for p in country.people.values()
        for day in (p.incapacitated_since, p.custody_since)
        if day
    )


def test_dates_are_iso_days_and_the_snapshot_time_is_utc(country: Country) -> None:
    people = country.raw["population.jsonl"]
    registrations = country.raw["registrations.jsonl"]

    assert {line["data_as_of"] for line in people} == {"2026-11-01T00:00:00Z"}
    dates = [line["birth_date"] for line in people]
    dates += [line["death_date"] for line in people if line["death_date"] is not None]
    dates += [line["valid_from"] for line in registrations]
    dates += [line["valid_until"] for line in registrations if line["valid_until"] is not None]
    dates += [line[field] for line in people for field in _dated_fields_of(line)]
    assert all(ISO_DATE.match(str(day)) for day in dates)
    assert all(ISO_DATE.match(str(line["voting_day"])) for line in country.raw["elections.jsonl"])


def test_files_are_utf8_json_lines_with_cyrillic_kept_readable(out_dir: Path) -> None:
    text = (out_dir / "registrations.jsonl").read_bytes().decode("utf-8")

    assert "\\u" not in text
    assert re.search("[а-яәіңғүұқөһ]", text)
    assert text.endswith("\n")
    assert "\r" not in text


def test_nothing_in_the_registry_happens_after_its_snapshot(country: Country) -> None:
    snapshot = dt.date(2026, 11, 1)

    assert all(p.birth_date < snapshot for p in country.people.values())
    assert all(p.death_date < snapshot for p in country.people.values() if p.death_date)
    # Only a sentence's end is known ahead: the court fixed it when it passed the sentence.
    assert all(
        day < snapshot
        for p in country.people.values()
        for day in (p.incapacitated_since, p.capacity_restored_on, p.custody_since)
        if day
    )
    assert all(
        r.valid_from < snapshot and (r.valid_until is None or r.valid_from <= r.valid_until)
        for regs in country.registrations.values()
        for r in regs
    )


def test_registrations_belong_to_people_and_born_before_they_start(country: Country) -> None:
    for iin, regs in country.registrations.items():
        person = country.people[iin]
        assert all(r.valid_from >= person.birth_date for r in regs)


def test_addresses_are_kato_rca_and_house_shaped(country: Country) -> None:
    homes = [
        r for regs in country.registrations.values() for r in regs if r.country == HOME_COUNTRY
    ]

    assert all(re.fullmatch(r"\d{9}", r.kato or "") for r in homes)
    assert all(re.fullmatch(r"\d{16}", r.rca or "") for r in homes)
    assert all(re.fullmatch(r"\d+А?", r.house or "") for r in homes)
    assert any(not (r.house or "").isdigit() for r in homes), "some houses carry a letter"


def test_each_building_has_one_rca_and_each_rca_one_building(country: Country) -> None:
    addresses: dict[str, set[tuple[str | None, str | None, str | None]]] = defaultdict(set)
    for regs in country.registrations.values():
        for r in regs:
            if r.rca is not None:
                addresses[r.rca].add((r.kato, r.street, r.house))
    buildings = Counter(next(iter(a)) for a in addresses.values())

    assert all(len(a) == 1 for a in addresses.values())
    assert max(buildings.values()) == 1


def test_street_names_are_kazakh_and_russian(country: Country) -> None:
    streets = {s.street for p in country.precincts for s in p.segments}

    assert any(s.endswith(("көшесі", "даңғылы")) for s in streets)
    assert any(s.startswith(("улица", "проспект", "переулок")) for s in streets)


# Precincts


def test_no_two_precincts_claim_the_same_building_or_house_number(country: Country) -> None:
    listed = Counter(rca for p in country.precincts for rca in p.buildings)
    owners: dict[tuple[str, str, int], str] = {}
    for precinct in country.precincts:
        for s in precinct.segments:
            for number in filter(lambda n: admits(s.parity, n), range(s.first, s.last + 1)):
                owner = owners.setdefault((precinct.kato, s.street, number), precinct.id)
                assert owner == precinct.id, (precinct.kato, s.street, number)

    assert max(listed.values()) == 1
    assert find_conflicts(country.precincts) == []


def test_every_home_registration_is_covered_by_exactly_one_precinct_but_new_streets(
    country: Country,
) -> None:
    homes = [
        r
        for regs in country.registrations.values()
        for r in regs
        if r.kind is not RegistrationKind.CONSULAR
    ]
    claims = [(r, claimants(country.precincts, r)) for r in homes]
    uncovered = [r for r, owners in claims if not owners]

    assert all(len(owners) <= 1 for _, owners in claims)
    assert uncovered, "some addresses are deliberately left without a precinct"
    assert all(r.street in NEW_STREET_NAMES for r in uncovered)
    assert len(uncovered) < 0.02 * len(homes)


def test_ordinary_precincts_also_list_single_buildings(country: Country) -> None:
    moved = [
        rca for p in country.precincts if p.kind is PrecinctKind.ORDINARY for rca in p.buildings
    ]

    assert moved, "akim decisions that hand single buildings over are exercised"


def test_precincts_carry_the_spec_shape(country: Country) -> None:
    for precinct in country.precincts:
        ZoneInfo(precinct.timezone)
        assert re.fullmatch(r"\d{2}-\d{4}", precinct.id)
        assert re.fullmatch(r"\d{9}", precinct.kato)
        if precinct.kind is PrecinctKind.FOREIGN:
            assert precinct.country != HOME_COUNTRY
            assert precinct.city
            assert not precinct.segments
            assert not precinct.buildings
            assert not precinct.day_registration
        else:
            assert precinct.country == HOME_COUNTRY
            assert precinct.city is None
            assert precinct.segments or precinct.buildings
    ids = [p.id for p in country.precincts]
    assert len(set(ids)) == len(ids)


def test_special_precincts_cover_institutions_only_by_building(country: Country) -> None:
    special = [p for p in country.precincts if p.kind is PrecinctKind.SPECIAL]

    assert special
    assert all(p.buildings and not p.segments and not p.day_registration for p in special)


def test_western_regions_keep_their_own_time_zones(country: Country) -> None:
    zones = {p.id[:2]: p.timezone for p in country.precincts if p.kind is PrecinctKind.ORDINARY}

    assert zones["75"] == "Asia/Almaty"
    assert zones["15"] == "Asia/Aqtobe"
    assert zones["23"] == "Asia/Atyrau"
    assert zones["47"] == "Asia/Aqtau"
    assert zones["27"] == "Asia/Oral"


def test_every_region_has_a_few_precincts_designated_for_day_registration(
    country: Country,
) -> None:
    regions = {p.id[:2] for p in country.precincts if p.kind is PrecinctKind.ORDINARY}
    designated = Counter(
        p.id[:2] for p in country.precincts if p.is_designated_for_day_registration
    )

    assert set(designated) == regions
    assert min(designated.values()) >= 2


def test_consular_registrations_name_a_city_with_a_foreign_precinct(country: Country) -> None:
    consular = [
        r
        for regs in country.registrations.values()
        for r in regs
        if r.kind is RegistrationKind.CONSULAR
    ]

    assert consular
    assert all(r.rca is r.kato is r.street is r.house is r.flat is None for r in consular)
    assert all(country.directory.serving_abroad(r) is not None for r in consular)


# Elections


def test_the_default_election_comes_first_and_another_predates_the_2026_constitution(
    country: Country,
) -> None:
    first, *others = country.elections

    assert first.id == ELECTIONS[0].id == "2027-president"
    assert first.voting_day == dt.date(2027, 3, 21)
    assert any(e.voting_day < dt.date(2026, 7, 1) for e in others)
    assert country.raw["elections.jsonl"][0]["day_registration"] == {
        "opens": "07:00",
        "closes": "20:00",
    }


# People and outcomes


def test_samples_name_one_iin_per_category(country: Country) -> None:
    assert list(country.samples) == list(SAMPLE_CATEGORIES)
    assert len(set(country.samples.values())) == len(SAMPLE_CATEGORIES)
    assert country.summary.samples == country.samples


@pytest.mark.parametrize(
    ("category", "reasons", "basis", "next_step"),
    [
        ("eligible_permanent", (), Basis.PERMANENT_REGISTRATION, None),
        ("eligible_temporary", (), Basis.TEMPORARY_REGISTRATION, None),
        ("eligible_consular", (), Basis.CONSULAR_REGISTRATION, None),
        ("eligible_special", (), Basis.PERMANENT_REGISTRATION, None),
        ("eligible_no_registration", (), None, NextStepCode.DAY_REGISTRATION_AVAILABLE),
        ("eligible_uncovered_address", (), None, NextStepCode.NO_PRECINCT_FOR_ADDRESS),
        ("birthday_on_voting_day", (), Basis.PERMANENT_REGISTRATION, None),
        ("born_29_february", (), Basis.PERMANENT_REGISTRATION, None),
        ("pretrial_detention", (), Basis.PERMANENT_REGISTRATION, None),
        ("under_18", (ReasonCode.UNDER_18,), None, None),
        ("deceased", (ReasonCode.DECEASED,), None, None),
        ("not_citizen", (ReasonCode.NOT_CITIZEN,), None, None),
        ("incapacitated", (ReasonCode.INCAPACITATED_BY_COURT,), None, None),
        ("imprisoned", (ReasonCode.IMPRISONED_BY_SENTENCE,), None, None),
        ("multiple_reasons", (ReasonCode.NOT_CITIZEN, ReasonCode.UNDER_18), None, None),
        ("not_found", (ReasonCode.NOT_FOUND,), None, NextStepCode.APPLY_TO_COMMISSION),
    ],
)
def test_each_sample_gets_its_outcome_from_the_real_rules(
    country: Country,
    category: str,
    reasons: tuple[ReasonCode, ...],
    basis: Basis | None,
    next_step: NextStepCode | None,
) -> None:
    decision = country.decide(country.samples[category])

    assert decision.reasons == reasons
    assert decision.outcome is (Outcome.INELIGIBLE if reasons else Outcome.ELIGIBLE)
    assert decision.basis is basis
    assert [s.code for s in decision.next_steps] == ([next_step] if next_step else [])
    if basis is not None:
        assert decision.precinct_id is not None


def test_institution_samples_are_served_by_special_precincts(country: Country) -> None:
    for category in ("eligible_special", "pretrial_detention"):
        decision = country.decide(country.samples[category])
        precinct = country.directory.get(decision.precinct_id or "")
        assert precinct is not None
        assert precinct.kind is PrecinctKind.SPECIAL


def test_sample_people_have_the_data_their_category_names(country: Country) -> None:
    voting_day = country.elections[0].voting_day

    def person(category: str) -> Person:
        return country.people[country.samples[category]]

    leap_day_birth = person("born_29_february").birth_date
    assert coming_of_age(person("birthday_on_voting_day").birth_date) == voting_day
    assert (leap_day_birth.month, leap_day_birth.day) == (2, 29)
    assert coming_of_age(leap_day_birth) <= voting_day
    assert coming_of_age(person("under_18").birth_date) == voting_day + dt.timedelta(days=1)
    assert (person("deceased").death_date or dt.date.max) <= voting_day
    assert person("not_citizen").citizenship != HOME_COUNTRY
    assert person("incapacitated").legal_capacity is LegalCapacity.INCAPACITATED
    assert person("imprisoned").custody is Custody.SENTENCED
    assert person("pretrial_detention").custody is Custody.PRETRIAL
    assert country.samples["not_found"] not in country.people
    (consular,) = country.registrations[country.samples["eligible_consular"]]
    assert (consular.country, consular.city) == ("GBR", "London")
    # An expired registration rather than none at all: the harder case for the service.
    (expired,) = country.registrations[country.samples["eligible_no_registration"]]
    assert expired.valid_until is not None
    assert expired.valid_until < voting_day


def test_the_summary_counts_people_by_what_the_rules_decide(country: Country) -> None:
    directory = country.directory
    decided = Counter(category_of(country.decide(iin), directory) for iin in country.people)

    assert set(country.summary.categories) == set(PERSON_CATEGORIES)
    assert {k: v for k, v in country.summary.categories.items() if v} == dict(decided)
    assert sum(country.summary.categories.values()) == PERSONS


def test_most_people_are_ordinary_voters_and_every_outcome_occurs(country: Country) -> None:
    shares = {c: n / PERSONS for c, n in country.summary.categories.items()}

    # About a third of people are children (issue 13), so a little over half vote at home.
    assert shares["eligible_permanent"] > 0.5
    assert 0.25 < shares["under_18"] < 0.4
    assert all(n > 0 for n in country.summary.categories.values())
    assert all(
        share < 0.08 for c, share in shares.items() if c not in {"eligible_permanent", "under_18"}
    )


def test_names_and_sexes_look_kazakh_and_russian(country: Country) -> None:
    people = list(country.people.values())
    sexes = Counter(p.sex for p in people)

    assert set(sexes) == {"M", "F"}
    assert any(p.patronymic is None for p in people)
    assert any((p.patronymic or "").endswith(("ұлы", "қызы")) for p in people)
    assert any((p.patronymic or "").endswith(("вич", "вна")) for p in people)


def test_the_older_election_sees_the_same_people_under_other_rules(country: Country) -> None:
    referendum = next(e for e in country.elections if e.id == "2026-referendum")

    decision = country.decide(country.samples["eligible_permanent"], referendum)

    assert decision.outcome is Outcome.ELIGIBLE
    assert decision.ruleset != country.decide(country.samples["eligible_permanent"]).ruleset


def test_too_few_people_for_the_samples_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_country(out_dir=tmp_path, persons=3, seed=SEED)


@settings(max_examples=5, deadline=None)
@given(persons=st.integers(len(SAMPLE_CATEGORIES) - 1, 150), seed=st.integers(0, 2**32))
def test_any_small_country_is_valid_and_conflict_free(persons: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        out_dir = Path(scratch)
        summary = generate_country(out_dir=out_dir, persons=persons, seed=seed, workers=1)
        country = load(out_dir, summary)

    assert len(country.people) == summary.persons == persons
    assert all(parse_iin(iin) == iin for iin in country.people)
    assert find_conflicts(country.precincts) == []
    assert set(country.samples) == set(SAMPLE_CATEGORIES)


def test_no_birth_date_is_crowded(tmp_path: Path) -> None:
    # Newborns clipped to the snapshot day once piled up there and ran out of IIN serials.
    generate_country(out_dir=tmp_path, persons=20_000, seed=SEED, workers=1)
    births = Counter(line["birth_date"] for line in _json_lines(tmp_path / "population.jsonl"))

    assert max(births.values()) < 20


# What makes it fast keeps the data exact


@pytest.mark.parametrize("direct", [True, False], ids=["o_direct", "plain"])
def test_a_direct_file_holds_exactly_what_was_written_and_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool
) -> None:
    if not direct:
        monkeypatch.setattr(output, "_O_DIRECT", 0)
    rng = Random(SEED)
    part = tmp_path / "part"
    part.write_bytes(rng.randbytes(9_000_001))
    # Sizes around the 4 KiB block and past the 8 MiB buffer.
    pieces = [rng.randbytes(n) for n in (0, 1, 4_095, 4_096, 4_097, 8_388_609, 3)]

    with DirectFile(tmp_path / "out") as out:
        for piece in pieces[:4]:
            out.write(piece)
        out.append_file(part)
        for piece in pieces[4:]:
            out.write(piece)
        out.append_file(part)

    expected = b"".join(pieces[:4]) + part.read_bytes() + b"".join(pieces[4:]) + part.read_bytes()
    assert (tmp_path / "out").read_bytes() == expected


def test_an_empty_direct_file_is_empty(tmp_path: Path) -> None:
    with DirectFile(tmp_path / "out"):
        pass

    assert (tmp_path / "out").read_bytes() == b""


@given(weights=st.lists(st.floats(0.5, 1_000.0), min_size=1, max_size=300))
def test_alias_tables_pick_each_home_in_proportion_to_its_residents(weights: list[float]) -> None:
    shares, aliases = _alias_table(weights)
    chances = [0.0] * len(weights)
    for slot, (share, alias) in enumerate(zip(shares, aliases, strict=True)):
        chances[slot] += share / len(weights)
        chances[alias] += (1 - share) / len(weights)

    total = math.fsum(weights)
    assert all(0 <= share <= 1 for share in shares)
    for chance, weight in zip(chances, weights, strict=True):
        assert chance == pytest.approx(weight / total, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("odds", _ODDS, ids=["minor", "adult", "elderly"])
def test_drawing_plain_people_first_leaves_every_bar_independent(odds: _Odds) -> None:
    """Telling plain people apart with one draw gives each combination of bars (deceased,
    foreigner, incapacitated, in custody) and of registrations the chance that independent
    draws would."""
    unusual = 1 - odds.plain
    for bars in itertools.product((False, True), repeat=len(odds.bars)):
        independent = math.prod(p if bar else 1 - p for p, bar in zip(odds.bars, bars, strict=True))
        if not any(bars):
            # Plain, or without a bar but with more than one current home.
            assert odds.plain == pytest.approx(independent * (1 - _WITH_TEMPORARY), rel=1e-12)
            assert unusual * odds.no_bar_unless_plain == pytest.approx(
                independent * _WITH_TEMPORARY, rel=1e-12
            )
            continue
        drawn = unusual * (1 - odds.no_bar_unless_plain)
        for index, bar in enumerate(bars):
            chance = odds.bars[index] if any(bars[:index]) else odds.first_bar[index]
            drawn *= chance if bar else 1 - chance
        assert drawn == pytest.approx(independent, rel=1e-9, abs=1e-15)


# The shape of the country (issue 13): villages and towns, precincts of every kind, missions

SHAPE_PERSONS = 200_000


@pytest.fixture(scope="module")
def shaped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out_dir = tmp_path_factory.mktemp("shaped")
    return out_dir, generate_country(out_dir=out_dir, persons=SHAPE_PERSONS, seed=SEED, workers=1)


def _precincts_of(out_dir: Path) -> list[Precinct]:
    return [r.to_domain() for _, r in iter_records(out_dir / "precincts.jsonl", PrecinctRecord)]


def _is_village(kato: str) -> bool:
    # Rural districts are numbered from 31 (geography._village_kato), towns from 11.
    return int(kato[2:4]) >= 31


def test_a_country_of_200000_is_within_10_percent_of_every_published_figure(
    shaped: tuple[Path, GenerationSummary],
) -> None:
    _, summary = shaped

    rows = shape.compare(SHAPE_PERSONS, summary.figures)
    by_key = {row.key: row for row in rows}

    assert [row.label for row in rows if row.off] == []
    assert by_key["voters"].target == 120_000
    assert by_key["under_18_share"].generated == pytest.approx(1 / 3, abs=0.033)
    assert by_key["abroad_share"].generated == pytest.approx(0.001, abs=0.0001)
    assert by_key["domestic_precincts"].generated == pytest.approx(101, abs=10)
    assert by_key["rural_share"].generated == pytest.approx(0.38, abs=0.038)
    assert summary.figures["villages"] > 50
    assert {f"special.{kind}" for kind in shape.SPECIAL_AT_SCALE} <= set(by_key)
    assert all(summary.figures[f"special.{kind}"] >= 1 for kind in shape.SPECIAL_AT_SCALE)


def test_the_shaped_country_imports_without_conflicts_and_every_home_has_one_precinct(
    shaped: tuple[Path, GenerationSummary],
) -> None:
    out_dir, _ = shaped
    precincts = _precincts_of(out_dir)
    directory = PrecinctDirectory(precincts)
    homes = [
        r.to_domain()
        for _, r in iter_records(out_dir / "registrations.jsonl", RegistrationRecord)
        if r.kind is not RegistrationKind.CONSULAR
    ]
    uncovered = [r for r in homes if directory.covering(r) is None]

    assert find_conflicts(precincts) == []
    assert all(r.street in NEW_STREET_NAMES for r in uncovered)
    assert 0 < len(uncovered) < 0.01 * len(homes)
    assert any(r.kato and _is_village(r.kato) for r in homes)


def test_villages_have_their_own_small_precincts_and_towns_large_ones(
    shaped: tuple[Path, GenerationSummary],
) -> None:
    out_dir, _ = shaped
    precincts = [p for p in _precincts_of(out_dir) if p.kind is PrecinctKind.ORDINARY]
    directory = PrecinctDirectory(precincts)
    adults = {
        r.iin
        for _, r in iter_records(out_dir / "population.jsonl", PersonRecord)
        if coming_of_age(r.birth_date) <= ELECTIONS[0].voting_day
    }
    listed: Counter[str] = Counter()
    for _, record in iter_records(out_dir / "registrations.jsonl", RegistrationRecord):
        registration = record.to_domain()
        current = registration.valid_until is None
        if registration.kind is RegistrationKind.PERMANENT and current and record.iin in adults:
            precinct = directory.covering(registration)
            if precinct is not None:
                listed[precinct.id] += 1
    villages = [p for p in precincts if _is_village(p.kato)]
    towns = [p for p in precincts if not _is_village(p.kato)]

    assert villages
    assert towns
    assert all(", с. " in p.address for p in villages)
    assert all(", с. " not in p.address for p in towns)
    # Hamlets vote at a neighbouring village's precinct, which lists their houses.
    assert any(p.buildings for p in villages)
    town_sizes = sorted(listed[p.id] for p in towns)
    village_sizes = sorted(listed[p.id] for p in villages)
    assert 1_000 < town_sizes[len(town_sizes) // 2] < 3_000
    assert town_sizes[-1] < 3_500
    assert village_sizes[0] < 300
    assert village_sizes[len(village_sizes) // 2] < town_sizes[len(town_sizes) // 2] / 2


def test_special_precincts_of_every_kind_cover_their_institution() -> None:
    geography = build_geography(residents=SHAPE_PERSONS, rng=Random(SEED))
    special = {p.buildings[0]: p for p in geography.precincts if p.kind is PrecinctKind.SPECIAL}

    kinds = Counter(i.kind for i in geography.institutions)
    assert set(kinds) == set(InstitutionKind)
    assert {i.building.rca for i in geography.institutions} == set(special)
    for institution in geography.institutions:
        assert institution.name in special[institution.building.rca].name
    ships = geography.institutions_of(InstitutionKind.SHIP)
    assert all(i.building.kato[:2] in {"47", "23", "55", "63"} for i in ships)
    pastures = geography.institutions_of(InstitutionKind.REMOTE_PASTURE)
    assert all(_is_village(i.building.kato) for i in pastures)


def test_at_20_million_the_precincts_and_missions_match_the_published_counts() -> None:
    # The geography alone: making 20 million people takes minutes.
    geography = build_geography(residents=shape.SCALE_PERSONS, rng=Random(SEED))
    kinds = Counter(p.kind for p in geography.precincts)
    foreign = [p for p in geography.precincts if p.kind is PrecinctKind.FOREIGN]

    assert kinds[PrecinctKind.ORDINARY] + kinds[PrecinctKind.SPECIAL] == pytest.approx(
        10_100, rel=0.1
    )
    assert kinds[PrecinctKind.SPECIAL] == pytest.approx(630, rel=0.1)
    assert len(foreign) == 70
    assert len({p.country for p in foreign}) == 54
    assert geography.villages == pytest.approx(6_300, rel=0.1)
    assert len({(p.country, p.city) for p in foreign}) == 70


@given(persons=st.integers(1, 25_000_000))
def test_missions_open_in_proportion_with_their_countries_at_any_size(persons: int) -> None:
    missions = missions_for(persons)
    countries = {m.country for m in missions}
    target = shape.scaled(shape.MISSION_COUNTRIES_AT_SCALE, persons)

    assert missions[0].city == "London"
    assert 1 <= len(missions) <= 70
    assert len(missions) == pytest.approx(
        min(70, max(1, shape.scaled(shape.MISSIONS_AT_SCALE, persons))), abs=1
    )
    assert abs(len(countries) - min(54, target)) <= max(1, 0.1 * target)


def _figures(**changes: float) -> dict[str, float]:
    persons = 1_000_000
    figures = {
        "persons": persons,
        "voters": 600_000,
        "under_18_share": 1 / 3,
        "abroad_share": 0.001,
        "domestic_precincts": 505,
        "special_precincts": 32,
        **{
            f"special.{k}": round(shape.scaled(v, persons)) or 1
            for k, v in shape.SPECIAL_AT_SCALE.items()
        },
        "missions": 4,
        "mission_countries": 3,
        "villages": 315,
        "towns": 62,
        "rural_share": 0.38,
    }
    return {**figures, **changes}


def test_the_table_flags_a_figure_off_by_more_than_10_percent_and_fails_from_1m() -> None:
    good = shape.compare(1_000_000, _figures())
    bad = shape.compare(1_000_000, _figures(under_18_share=0.09, missions=17))
    small = shape.compare(100_000, _figures(persons=100_000))

    assert not shape.failed(1_000_000, good)
    assert "every figure within 10%" in shape.table(1_000_000, good)[-1]
    assert [row.key for row in bad if row.off] == ["under_18_share", "missions"]
    assert shape.failed(1_000_000, bad)
    lines = shape.table(1_000_000, bad)
    assert any(line.startswith("under-18 share") and line.endswith("OFF") for line in lines)
    assert "OFF by more than 10%: under-18 share, precincts at missions abroad" in lines[-1]
    # Below a million the floors dominate: flagged, but not a failure.
    assert any(row.off for row in small)
    assert not shape.failed(100_000, small)
    assert "not checked below 1,000,000 persons" in shape.table(100_000, small)[-1]


def test_a_count_may_be_off_by_one_from_rounding_but_a_share_may_not() -> None:
    ship = shape.Row("special.ship", "ship", generated=1, target=0.25)
    missions = shape.Row("missions", "missions", generated=4, target=3.5)
    share = shape.Row("abroad_share", "abroad", generated=0.0012, target=0.001, is_share=True)
    special = shape.Row("special_precincts", "special", generated=12, target=6.3, slack=6)

    assert not ship.off
    assert not missions.off
    assert share.off
    assert not special.off
    assert shape.Row("villages", "villages", generated=350, target=315).off
