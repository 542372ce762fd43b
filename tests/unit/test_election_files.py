"""`elections.jsonl` (SPEC §10, §14, §15): kinds, call date, territory and calendar at import."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from service.datafiles import DataFileError, published_election, read_elections
from service.domain.model import ElectionKind, LocalWindow

PRESIDENTIAL = {
    "id": "2027-president",
    "kind": "presidential",
    "voting_day": "2027-03-21",
    "called_on": "2027-01-20",
}


def _read(tmp_path: Path, *records: dict[str, Any]) -> list[Any]:
    path = tmp_path / "elections.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return [p.value for p in read_elections(path).records]


def _refusal(tmp_path: Path, record: dict[str, Any]) -> str:
    with pytest.raises(DataFileError) as refused:
        _read(tmp_path, PRESIDENTIAL, record)
    assert refused.value.line_number == 2
    return str(refused.value)


def test_an_election_file_gives_kind_call_date_territory_and_calendar(tmp_path: Path) -> None:
    local = {
        "id": "2027-maslikhat",
        "kind": "maslikhat",
        "voting_day": "2027-03-21",
        "called_on": "2027-01-20",
        "territory": ["75", "711"],
        "calendar": {"lists_frozen_on": "2027-03-02"},
    }
    president, maslikhat = _read(tmp_path, PRESIDENTIAL, local)
    assert (president.kind, president.called_on, president.territory) == (
        ElectionKind.PRESIDENTIAL,
        dt.date(2027, 1, 20),
        (),
    )
    assert (maslikhat.kind, maslikhat.territory) == (ElectionKind.MASLIKHAT, ("75", "711"))
    assert maslikhat.calendar.lists_frozen_on == dt.date(2027, 3, 2)
    assert president.calendar.lists_frozen_on == dt.date(2027, 3, 1)


def test_parliamentary_in_a_file_is_read_as_the_chamber_of_its_voting_day(tmp_path: Path) -> None:
    before = {"id": "2023", "kind": "parliamentary", "voting_day": "2023-03-19"}
    after = {"id": "2026", "kind": "parliamentary", "voting_day": "2026-08-30"}
    before["called_on"], after["called_on"] = "2023-01-19", "2026-07-01"
    assert [e.kind for e in _read(tmp_path, before, after)] == [
        ElectionKind.MAZHILIS,
        ElectionKind.KURULTAI,
    ]


def test_an_unknown_kind_is_refused_naming_the_kinds_there_are(tmp_path: Path) -> None:
    problem = _refusal(tmp_path, {**PRESIDENTIAL, "kind": "parlament"})
    assert "unknown election kind 'parlament'" in problem
    assert "presidential, kurultai, mazhilis, referendum, senate, maslikhat, akim" in problem


@pytest.mark.parametrize("kind", ["maslikhat", "akim"])
def test_a_local_election_without_a_territory_is_refused(tmp_path: Path, kind: str) -> None:
    problem = _refusal(tmp_path, {**PRESIDENTIAL, "kind": kind})
    assert f"a {kind} election needs its territory: a list of KATO prefixes" in problem


def test_a_territory_on_an_election_of_the_whole_country_is_refused(tmp_path: Path) -> None:
    problem = _refusal(tmp_path, {**PRESIDENTIAL, "territory": ["75"]})
    assert "only maslikhat and akim elections have a territory" in problem


def test_an_election_without_its_call_date_is_refused(tmp_path: Path) -> None:
    record = {k: v for k, v in PRESIDENTIAL.items() if k != "called_on"}
    assert "called_on is required" in _refusal(tmp_path, record)


def test_an_election_called_after_its_voting_day_is_refused(tmp_path: Path) -> None:
    record = {**PRESIDENTIAL, "called_on": "2027-03-22"}
    assert "called_on is after voting_day" in _refusal(tmp_path, record)


@pytest.mark.parametrize("prefix", ["", "7a", "7511100001"])
def test_a_territory_prefix_is_one_to_nine_digits(tmp_path: Path, prefix: str) -> None:
    record = {**PRESIDENTIAL, "kind": "akim", "territory": [prefix]}
    assert "territory.0: string_pattern_mismatch" in _refusal(tmp_path, record)


def test_a_calendar_window_that_closes_before_it_opens_is_refused(tmp_path: Path) -> None:
    backwards = {"opens": "2027-03-20T18:00", "closes": "2027-03-06T00:00"}
    record = {**PRESIDENTIAL, "calendar": {"absentee_certificates": backwards}}
    assert "a window opens before it closes" in _refusal(tmp_path, record)


def test_a_calendar_time_with_an_offset_is_refused_as_not_local(tmp_path: Path) -> None:
    aware = {"opens": "2027-03-06T00:00+05:00", "closes": "2027-03-20T18:00"}
    record = {**PRESIDENTIAL, "calendar": {"absentee_certificates": aware}}
    assert "calendar.absentee_certificates.opens" in _refusal(tmp_path, record)


def test_a_version_published_before_kinds_still_loads_from_the_database() -> None:
    # What the database holds of an election imported before records carried these fields.
    old = published_election(
        json.dumps(
            {
                "id": "2023-maslikhat",
                "kind": "maslikhat",
                "voting_day": "2023-03-19",
                "day_registration": {"opens": "07:00", "closes": "20:00"},
            }
        )
    )
    assert (old.kind, old.called_on, old.territory) == (ElectionKind.MASLIKHAT, None, ())
    # No call date, no known opening: its applications window is empty, not invented.
    closes = dt.datetime(2023, 2, 18, 0, 0)
    assert old.calendar.applications == LocalWindow(closes, closes)
