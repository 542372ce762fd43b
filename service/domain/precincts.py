"""Precinct boundaries (SPEC §4): which precinct covers an address, and boundary conflicts.

A precinct covers street segments inside its own locality (KATO code) and explicit buildings
by address code (RCA); an explicit building wins over a segment. Foreign precincts serve
consular registrations by country and city.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from service.domain.model import Parity, Precinct, PrecinctKind, Registration, Segment

_LEADING_INTEGER = re.compile(r"\s*(\d+)")
_SPACES = re.compile(r"\s+")


def house_number(house: str | None) -> int | None:
    """The leading integer of a house number ("12А" is 12); None if there is none."""
    if house is None:
        return None
    match = _LEADING_INTEGER.match(house)
    return int(match.group(1)) if match else None


def street_key(street: str) -> str:
    return _SPACES.sub(" ", street.strip()).casefold()


def city_key(city: str | None) -> str:
    return street_key(city or "")


def _parity_admits(parity: Parity, number: int) -> bool:
    if parity is Parity.ALL:
        return True
    return (number % 2 == 1) == (parity is Parity.ODD)


def segment_covers(segment: Segment, number: int) -> bool:
    return segment.first <= number <= segment.last and _parity_admits(segment.parity, number)


def segments_overlap(a: Segment, b: Segment) -> bool:
    """True when some house number lies in both segments (same street assumed)."""
    low, high = max(a.first, b.first), min(a.last, b.last)
    if low > high:
        return False
    # A range of two or more numbers holds both parities; one number must satisfy both.
    candidates = (low, low + 1) if high > low else (low,)
    return any(_parity_admits(a.parity, n) and _parity_admits(b.parity, n) for n in candidates)


class ConflictKind(StrEnum):
    SEGMENT = "segment"
    BUILDING = "building"


@dataclass(frozen=True, slots=True)
class BoundaryConflict:
    kind: ConflictKind
    precinct_ids: tuple[str, str]
    kato: str | None
    street: str | None
    building: str | None


def find_conflicts(precincts: Sequence[Precinct]) -> list[BoundaryConflict]:
    """Every pair of precincts that both claim some address, in a stable order."""
    conflicts: list[BoundaryConflict] = []
    claims: dict[str, list[str]] = defaultdict(list)
    for precinct in precincts:
        for rca in dict.fromkeys(precinct.buildings):
            claims[rca].append(precinct.id)
    for rca, owners in sorted(claims.items()):
        for i, first in enumerate(owners):
            for second in owners[i + 1 :]:
                conflicts.append(
                    BoundaryConflict(ConflictKind.BUILDING, (first, second), None, None, rca)
                )

    by_street: dict[tuple[str, str], list[tuple[Precinct, Segment]]] = defaultdict(list)
    for precinct in precincts:
        for segment in precinct.segments:
            by_street[(precinct.kato, street_key(segment.street))].append((precinct, segment))
    for (kato, _), entries in sorted(by_street.items()):
        for i, (p1, s1) in enumerate(entries):
            for p2, s2 in entries[i + 1 :]:
                if p1.id != p2.id and segments_overlap(s1, s2):
                    conflicts.append(
                        BoundaryConflict(
                            ConflictKind.SEGMENT, (p1.id, p2.id), kato, s1.street, None
                        )
                    )
    return conflicts


class PrecinctDirectory:
    """Lookup indexes over a conflict-free boundary set."""

    def __init__(self, precincts: Iterable[Precinct]) -> None:
        self._by_id: dict[str, Precinct] = {}
        self._by_building: dict[str, Precinct] = {}
        self._by_street: dict[tuple[str, str], list[tuple[Segment, Precinct]]] = defaultdict(list)
        self._foreign: dict[tuple[str, str], Precinct] = {}
        self._missions: dict[str, list[Precinct]] = defaultdict(list)
        for precinct in precincts:
            self._by_id[precinct.id] = precinct
            for rca in precinct.buildings:
                self._by_building[rca] = precinct
            for segment in precinct.segments:
                key = (precinct.kato, street_key(segment.street))
                self._by_street[key].append((segment, precinct))
            if precinct.kind is PrecinctKind.FOREIGN:
                self._foreign[(precinct.country, city_key(precinct.city))] = precinct
                self._missions[precinct.country].append(precinct)
        for missions in self._missions.values():
            missions.sort(key=lambda p: p.id)
        self._ordered = tuple(sorted(self._by_id.values(), key=lambda p: p.id))
        self._designated = tuple(
            sorted(p.id for p in self._by_id.values() if p.is_designated_for_day_registration)
        )
        self._designated_within: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> tuple[Precinct, ...]:
        """Every precinct, ordered by id."""
        return self._ordered

    def get(self, precinct_id: str) -> Precinct | None:
        return self._by_id.get(precinct_id)

    @property
    def designated_for_day_registration(self) -> tuple[str, ...]:
        return self._designated

    def designated_within(self, territory: tuple[str, ...]) -> tuple[str, ...]:
        """The designated precincts whose KATO code starts with one of these prefixes."""
        found = self._designated_within.get(territory)
        if found is None:
            found = tuple(
                precinct_id
                for precinct_id in self._designated
                if self._by_id[precinct_id].kato.startswith(territory)
            )
            # One entry per local election's territory: a handful, never unbounded input.
            self._designated_within[territory] = found
        return found

    def covering(self, registration: Registration) -> Precinct | None:
        """The precinct whose boundary covers a registered address in Kazakhstan."""
        return self.covering_address(
            rca=registration.rca,
            kato=registration.kato,
            street=registration.street,
            house=registration.house,
        )

    def covering_address(
        self, *, rca: str | None, kato: str | None, street: str | None, house: str | None
    ) -> Precinct | None:
        """The precinct whose boundary covers an address in Kazakhstan: its building by
        address code (RCA) first, else a street segment of its locality."""
        if rca is not None and rca in self._by_building:
            return self._by_building[rca]
        number = house_number(house)
        if kato is None or street is None or number is None:
            return None
        for segment, precinct in self._by_street.get((kato, street_key(street)), ()):
            if segment_covers(segment, number):
                return precinct
        return None

    def serving_abroad(self, registration: Registration) -> Precinct | None:
        """The mission serving a consular registration: its country's, whatever the city.

        A mission serves its country (its consular district, SPEC §15). Where a country has
        several, the one in the registration's city, otherwise the first by id: the data
        files do not carry consular districts, so which of several a voter in a third city
        belongs to cannot be told better than that.
        """
        in_city = self._foreign.get((registration.country, city_key(registration.city)))
        if in_city is not None:
            return in_city
        missions = self._missions.get(registration.country)
        return missions[0] if missions else None
