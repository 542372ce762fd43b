"""People and their registrations, written as JSON Lines (SPEC §10).

Lines are assembled from pre-encoded JSON fragments and the hot path avoids calls where it
can: a json.dumps per person would dominate a 12-million-person run.
"""

from __future__ import annotations

import datetime as dt
import itertools
from bisect import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from random import Random
from typing import NamedTuple, TextIO

import orjson

from service.datagen.geography import (
    Building,
    ForeignMission,
    Geography,
    Institution,
    InstitutionKind,
)
from service.datagen.iins import IinIssuer
from service.datagen.names import (
    KAZAKH_FATHER_NAMES,
    KAZAKH_FEMALE_GIVEN,
    KAZAKH_INVARIANT_SURNAMES,
    KAZAKH_MALE_GIVEN,
    KAZAKH_SURNAMES,
    RUSSIAN_FEMALE_GIVEN,
    RUSSIAN_INVARIANT_SURNAMES,
    RUSSIAN_MALE_GIVEN,
    RUSSIAN_PATRONYMICS,
    RUSSIAN_SURNAMES,
)
from service.domain.model import HOME_COUNTRY, Custody, Election, LegalCapacity
from service.domain.rules import coming_of_age

DATA_AS_OF = "2026-11-01T00:00:00Z"
# The registry snapshot is taken at DATA_AS_OF, so nothing it records happens later.
LAST_RECORDED_DAY = dt.date(2026, 10, 31)

# What the first election's decision is for a person; every person has exactly one.
PERSON_CATEGORIES = (
    "eligible_permanent",
    "eligible_temporary",
    "eligible_consular",
    "eligible_special",
    "eligible_no_registration",
    "eligible_uncovered_address",
    "deceased",
    "not_citizen",
    "under_18",
    "incapacitated",
    "imprisoned",
    "multiple_reasons",
)
SAMPLE_CATEGORIES = (
    "eligible_permanent",
    "eligible_temporary",
    "eligible_consular",
    "eligible_special",
    "eligible_no_registration",
    "eligible_uncovered_address",
    "birthday_on_voting_day",
    "born_29_february",
    "under_18",
    "deceased",
    "not_citizen",
    "incapacitated",
    "imprisoned",
    "pretrial_detention",
    "multiple_reasons",
    "not_found",
)
_SAMPLES_COUNTED_AS = {
    "birthday_on_voting_day": "eligible_permanent",
    "born_29_february": "eligible_permanent",
    "pretrial_detention": "eligible_special",
}
# Everyone but not_found is written to the population file.
MIN_PERSONS = len(SAMPLE_CATEGORIES) - 1

_FOREIGN_CITIZENSHIPS = ("RUS", "UZB", "KGZ", "CHN", "TUR", "XXA")
_DAYS_PER_YEAR = 365.2425
_FLUSH_EVERY_PERSONS = 20_000
_NAME_POOL_SIZE = 8_192
_AGE_SLOTS = 4_096
_FIRST_DATE = dt.date(1900, 1, 1)
_LAST_DATE = dt.date(2035, 12, 31)
_ADDRESS_REGISTER_OPENS = dt.date(1996, 1, 1).toordinal()
_CONSULAR_REGISTER_OPENS = dt.date(2006, 1, 1).toordinal()
_DEATHS_RECORDED_FROM = dt.date(2012, 1, 1).toordinal()
_RECENT_DEREGISTRATIONS_FROM = dt.date(2020, 1, 1).toordinal()
_CURRENT_TEMPORARY_FROM = dt.date(2025, 11, 1).toordinal()
_TEMPORARY_STAY_DAYS = (10, 900)
_NULL = "null"

# Relative share of people per age in years on voting day: mostly adults, fewer after 60.
_AGE_WEIGHTS = tuple(
    0.45 if age < 18 else 1.6 if age < 30 else 1.7 if age < 45 else 1.4 if age < 60
    else 1.0 if age < 70 else 0.55 if age < 80 else 0.2 if age < 90 else 0.03
    for age in range(101)
)  # fmt: skip
_DEATH_RATE_ELDERLY = 0.08
_DEATH_RATE_OTHERS = 0.004
_FEMALE_SHARE = 0.52
_KAZAKH_NAMES_SHARE = 0.7
_FOREIGNER_SHARE = 0.02
_INCAPACITATED_SHARE = 0.008
_SENTENCED_SHARE = 0.008
_PRETRIAL_SHARE = 0.0025

# Cumulative thresholds of one uniform draw: how a person is registered.
_CONSULAR = 0.015
_UNREGISTERED = _CONSULAR + 0.02
_TEMPORARY_ONLY = _UNREGISTERED + 0.03
_UNCOVERED = _TEMPORARY_ONLY + 0.004
_INSTITUTION = _UNCOVERED + 0.003
_WITH_TEMPORARY = _INSTITUTION + 0.03
_WITH_HISTORY = 0.12


def latest_adult_birth_date(voting_day: dt.date) -> dt.date:
    """The last birth date of someone who is 18 on voting_day."""
    day = dt.date(voting_day.year - 18, voting_day.month, min(voting_day.day, 28))
    while coming_of_age(day + dt.timedelta(days=1)) <= voting_day:
        day += dt.timedelta(days=1)
    return day


def latest_adult_leap_day_birth(voting_day: dt.date) -> dt.date:
    """The last 29 February birth date of someone who is 18 on voting_day."""
    for year in itertools.count(voting_day.year - 18, -1):
        if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
            born = dt.date(year, 2, 29)
            if coming_of_age(born) <= voting_day:
                return born
    raise AssertionError("unreachable: leap years recur")


def _json(text: str) -> str:
    return orjson.dumps(text).decode()


def _encoded(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(_json(n) for n in names)


class _Names(NamedTuple):
    """JSON-encoded names, each pair indexed by `female` (False, True)."""

    given: tuple[tuple[str, ...], tuple[str, ...]]
    surnames: tuple[tuple[str, ...], tuple[str, ...]]
    # "null" entries stand for people recorded without a patronymic.
    patronymics: tuple[tuple[str, ...], tuple[str, ...]]


def _kazakh_names() -> _Names:
    fathers = KAZAKH_FATHER_NAMES
    sons = [f"{n}ұлы" for n in fathers] + [f"{n}ович" for n in fathers]
    daughters = [f"{n}қызы" for n in fathers] + [f"{n}овна" for n in fathers]
    unrecorded = (_NULL,) * (len(sons) // 5)
    return _Names(
        given=(_encoded(KAZAKH_MALE_GIVEN), _encoded(KAZAKH_FEMALE_GIVEN)),
        surnames=(
            _encoded(KAZAKH_SURNAMES + KAZAKH_INVARIANT_SURNAMES),
            _encoded([f"{s}а" for s in KAZAKH_SURNAMES] + list(KAZAKH_INVARIANT_SURNAMES)),
        ),
        patronymics=(_encoded(sons) + unrecorded, _encoded(daughters) + unrecorded),
    )


def _russian_names() -> _Names:
    return _Names(
        given=(_encoded(RUSSIAN_MALE_GIVEN), _encoded(RUSSIAN_FEMALE_GIVEN)),
        surnames=(
            _encoded(RUSSIAN_SURNAMES + RUSSIAN_INVARIANT_SURNAMES),
            _encoded([f"{s}а" for s in RUSSIAN_SURNAMES] + list(RUSSIAN_INVARIANT_SURNAMES)),
        ),
        patronymics=(
            _encoded([male for male, _ in RUSSIAN_PATRONYMICS]),
            _encoded([female for _, female in RUSSIAN_PATRONYMICS]),
        ),
    )


def _name_pool(rng: Random, *, female: bool) -> tuple[str, ...]:
    """Pre-joined surname, given name and patronymic fields: one pick per person."""
    kazakh, russian = _kazakh_names(), _russian_names()
    pool = []
    for _ in range(_NAME_POOL_SIZE):
        table = kazakh if rng.random() < _KAZAKH_NAMES_SHARE else russian
        surname = rng.choice(table.surnames[female])
        given = rng.choice(table.given[female])
        patronymic = rng.choice(table.patronymics[female])
        pool.append(f'"surname":{surname},"given_name":{given},"patronymic":{patronymic}')
    return tuple(pool)


def _address_fragment(building: Building) -> str:
    return (
        f'"rca":"{building.rca}","kato":"{building.kato}",'
        f'"street":{_json(building.street)},"house":{_json(building.house)}'
    )


def _abroad_fragment(mission: ForeignMission) -> str:
    return f'"country":"{mission.country}","city":{_json(mission.city)}'


def _home_line(
    iin: str, kind: str, address: str, flat: str, valid_from: str, valid_until: str
) -> str:
    return (
        f'{{"iin":"{iin}","kind":"{kind}",{address},"flat":{flat},"country":"{HOME_COUNTRY}",'
        f'"city":null,"valid_from":"{valid_from}","valid_until":{valid_until}}}\n'
    )


def _consular_line(iin: str, abroad: str, valid_from: str) -> str:
    return (
        f'{{"iin":"{iin}","kind":"consular","rca":null,"kato":null,"street":null,'
        f'"house":null,"flat":null,{abroad},"valid_from":"{valid_from}","valid_until":null}}\n'
    )


def _status(citizenship: str, death_date: str, capacity: str, custody: str) -> str:
    return (
        f'"citizenship":"{citizenship}","death_date":{death_date},'
        f'"legal_capacity":"{capacity}","custody":"{custody}"'
    )


# Most people: citizens, alive, fully capable, not in custody.
_ORDINARY_STATUS = _status(HOME_COUNTRY, _NULL, LegalCapacity.FULL.value, Custody.NONE.value)


def _person_line(iin: str, names: str, birth_date: str, sex: str, status: str) -> str:
    return (
        f'{{"iin":"{iin}",{names},"birth_date":"{birth_date}","sex":"{sex}",{status},'
        f'"data_as_of":"{DATA_AS_OF}"}}\n'
    )


class _Reasons(NamedTuple):
    """Which bars of SPEC §3 apply, named after the PERSON_CATEGORIES they lead to."""

    deceased: bool
    not_citizen: bool
    under_18: bool
    incapacitated: bool
    imprisoned: bool

    def category(self, eligible_as: str) -> str:
        applying = [name for name, applies in zip(self._fields, self, strict=True) if applies]
        if not applying:
            return eligible_as
        return applying[0] if len(applying) == 1 else "multiple_reasons"


class _Stay(NamedTuple):
    """A registration of a hand-made sample person."""

    kind: str
    place: Building | ForeignMission
    valid_from: dt.date
    valid_until: dt.date | None = None


class _Sample(NamedTuple):
    category: str
    birth: dt.date
    stays: tuple[_Stay, ...]
    citizenship: str = HOME_COUNTRY
    death: dt.date | None = None
    capacity: LegalCapacity = LegalCapacity.FULL
    custody: Custody = Custody.NONE


@dataclass(frozen=True, slots=True)
class PopulationTables:
    """Pre-encoded text every chunk of people is drawn from, prepared once per process."""

    geography: Geography
    iso_days: tuple[str, ...]  # from _FIRST_DATE on
    name_pools: tuple[tuple[str, ...], tuple[str, ...]]  # indexed by `female`
    home_addresses: tuple[str, ...]  # parallel to geography.residences
    home_flats: tuple[int, ...]
    flats: tuple[str, ...]  # "null", then "1", "2", ...
    abroad: tuple[str, ...]  # parallel to geography.missions

    @classmethod
    def build(cls, geography: Geography, *, seed: int) -> PopulationTables:
        days = range(_FIRST_DATE.toordinal(), _LAST_DATE.toordinal() + 1)
        rng = Random(f"{seed}:names")  # noqa: S311
        home_flats = tuple(b.flats for b in geography.residences)
        return cls(
            geography=geography,
            iso_days=tuple(dt.date.fromordinal(d).isoformat() for d in days),
            name_pools=(_name_pool(rng, female=False), _name_pool(rng, female=True)),
            home_addresses=tuple(_address_fragment(b) for b in geography.residences),
            home_flats=home_flats,
            flats=(_NULL, *(f'"{n}"' for n in range(1, 1 + max(home_flats)))),
            abroad=tuple(_abroad_fragment(m) for m in geography.missions),
        )


class PopulationWriter:
    """Makes people and their registrations and writes them as JSON Lines."""

    def __init__(
        self, tables: PopulationTables, rng: Random, election: Election, *, serials: range
    ) -> None:
        geography = tables.geography
        self._rng = rng
        self._random = rng.random
        self._issuer = IinIssuer(serials)
        self._geography = geography
        self._voting_day = election.voting_day
        self._adult_cutoff = latest_adult_birth_date(election.voting_day).toordinal()
        self._last_day = LAST_RECORDED_DAY.toordinal()
        self._epoch = _FIRST_DATE.toordinal()
        # Attributes of self, not of tables: the hot path reads them millions of times.
        self._iso = tables.iso_days
        self._name_pools = tables.name_pools
        cumulative = list(itertools.accumulate(_AGE_WEIGHTS))
        # A lookup table is cheaper than a bisect per person; slots are 1/4096 of people.
        self._ages = [
            bisect(cumulative, (slot + 0.5) / _AGE_SLOTS * cumulative[-1])
            for slot in range(_AGE_SLOTS)
        ]
        self._home_addresses = tables.home_addresses
        self._home_flats = tables.home_flats
        self._home_weights = geography.residence_weights
        self._flats = tables.flats
        self._detention = geography.institutions_of(InstitutionKind.PRETRIAL_DETENTION)
        self._barracks = geography.institutions_of(InstitutionKind.MILITARY_UNIT)
        self._wards = geography.institutions_of(InstitutionKind.HOSPITAL)
        self._mission_weights = list(itertools.accumulate(m.weight for m in geography.missions))
        self._abroad = tables.abroad
        self.persons = 0
        self.registrations = 0
        self.categories: Counter[str] = Counter(dict.fromkeys(PERSON_CATEGORIES, 0))

    def _day(self, first: int, last: int) -> int:
        """A uniformly drawn day ordinal in first..last inclusive."""
        return first + int(self._random() * (last - first + 1))

    def _iso_day(self, day: int) -> str:
        return self._iso[day - self._epoch]

    def _quoted_day(self, day: int) -> str:
        return f'"{self._iso[day - self._epoch]}"'

    def _names(self, female: bool) -> str:
        pool = self._name_pools[female]
        return pool[int(self._random() * len(pool))]

    def _pick(self, cumulative_weights: Sequence[float]) -> int:
        drawn = bisect(cumulative_weights, self._random() * cumulative_weights[-1])
        # random() < 1, but the product can still round up to the total.
        return min(drawn, len(cumulative_weights) - 1)

    def _flat(self, flats: int) -> str:
        return self._flats[1 + int(self._random() * flats)] if flats else _NULL

    def _home(self, iin: str, kind: str, valid_from: int, valid_until: str) -> str:
        """A registration at a home drawn by residents (the hot path: _pick and _flat inlined)."""
        random = self._random
        weights = self._home_weights
        index = bisect(weights, random() * weights[-1])
        if index == len(weights):
            index -= 1
        flats = self._home_flats[index]
        flat = self._flats[1 + int(random() * flats)] if flats else _NULL
        valid = self._iso[valid_from - self._epoch]
        return _home_line(iin, kind, self._home_addresses[index], flat, valid, valid_until)

    def write(self, count: int, population: TextIO, registrations: TextIO) -> None:
        """Append `count` people drawn at random, with realistic shares of every outcome."""
        random = self._random
        issue = self._issuer.issue
        ages = self._ages
        voting_day = self._voting_day.toordinal()
        last_day = self._last_day
        adult_cutoff = self._adult_cutoff
        categories = self.categories
        iso = self._iso
        epoch = self._epoch
        name_pools = self._name_pools
        pool_size = _NAME_POOL_SIZE
        people: list[str] = []
        lines: list[str] = []
        for done in range(1, count + 1):
            female = random() < _FEMALE_SHARE
            age = ages[int(random() * _AGE_SLOTS)]
            birth = voting_day - int((age + random()) * _DAYS_PER_YEAR)
            if birth > last_day:
                # Nobody is born after the snapshot: these babies are a year older instead,
                # rather than all sharing its last day (and that day's IIN serials).
                birth -= 365
            iin = issue(birth, female)
            adult = birth <= adult_cutoff
            dies = random() < (_DEATH_RATE_ELDERLY if age >= 60 else _DEATH_RATE_OTHERS)
            foreign = random() < _FOREIGNER_SHARE
            # Courts declare incapacity and pass sentences on adults only, in this model.
            incapacitated = adult and random() < _INCAPACITATED_SHARE
            custody_draw = random() if adult else 1.0
            sentenced = custody_draw < _SENTENCED_SHARE
            pretrial = not sentenced and custody_draw < _SENTENCED_SHARE + _PRETRIAL_SHARE
            is_ordinary = not (dies or foreign or incapacitated or sentenced or pretrial)
            status = _ORDINARY_STATUS
            if dies:
                death = self._day(max(birth + 1, _DEATHS_RECORDED_FROM), last_day)
                # The address service closes a registration on the day of death.
                since = self._day(max(birth, death - 20 * 365), death)
                lines.append(self._home(iin, "permanent", since, self._quoted_day(death)))
                eligible_as = "eligible_permanent"
            elif pretrial:
                eligible_as = self._at_institution(iin, birth, self._detention, lines)
            else:
                eligible_as = self._register(iin, birth, foreign=foreign, lines=lines)
            if is_ordinary:
                category = eligible_as if adult else "under_18"
            else:
                status = _status(
                    _FOREIGN_CITIZENSHIPS[int(random() * len(_FOREIGN_CITIZENSHIPS))]
                    if foreign
                    else HOME_COUNTRY,
                    self._quoted_day(death) if dies else _NULL,
                    "incapacitated" if incapacitated else "full",
                    "sentenced" if sentenced else "pretrial" if pretrial else "none",
                )
                reasons = _Reasons(dies, foreign, not adult, incapacitated, sentenced)
                category = reasons.category(eligible_as)
            categories[category] += 1
            names = name_pools[female][int(random() * pool_size)]
            sex = "F" if female else "M"
            people.append(_person_line(iin, names, iso[birth - epoch], sex, status))
            if done % _FLUSH_EVERY_PERSONS == 0:
                self._flush(people, lines, population, registrations)
        self._flush(people, lines, population, registrations)

    def _flush(
        self, people: list[str], lines: list[str], population: TextIO, registrations: TextIO
    ) -> None:
        population.write("".join(people))
        registrations.write("".join(lines))
        self.persons += len(people)
        self.registrations += len(lines)
        people.clear()
        lines.clear()

    def _register(self, iin: str, birth: int, *, foreign: bool, lines: list[str]) -> str:
        """Append a person's registrations; return their category should they be eligible."""
        random = self._random
        last_day = self._last_day
        earliest = max(birth, _ADDRESS_REGISTER_OPENS)
        draw = random()
        if draw >= _INSTITUTION or (foreign and draw < _CONSULAR):
            since = earliest + int(random() * (last_day - earliest + 1))
            if random() < _WITH_HISTORY and since > earliest:
                self._expired_home(iin, earliest, since - 1, lines, ends_exactly=True)
            lines.append(self._home(iin, "permanent", since, _NULL))
            if draw < _WITH_TEMPORARY:
                # Students and seasonal workers: the permanent address still decides.
                self._temporary(iin, birth, lines)
            return "eligible_permanent"
        if draw < _CONSULAR:
            moved = self._day(max(birth, _CONSULAR_REGISTER_OPENS), last_day)
            if random() < 0.5 and moved > earliest:
                # Emigrated: the home registration ended the day before the consular one.
                self._expired_home(iin, earliest, moved - 1, lines, ends_exactly=True)
            mission = self._pick(self._mission_weights)
            lines.append(_consular_line(iin, self._abroad[mission], self._iso_day(moved)))
            return "eligible_consular"
        if draw < _UNREGISTERED:
            # De-registered at a property owner's request, or never registered at all.
            if random() < 0.5:
                self._expired_home(iin, earliest, last_day, lines)
            return "eligible_no_registration"
        if draw < _TEMPORARY_ONLY:
            if random() < 0.5:
                self._expired_home(iin, earliest, last_day, lines)
            self._temporary(iin, birth, lines)
            return "eligible_temporary"
        if draw < _UNCOVERED:
            uncovered = self._geography.uncovered
            building = uncovered[int(random() * len(uncovered))]
            moved_in = self._iso_day(self._day(earliest, last_day))
            address = _address_fragment(building)
            lines.append(_home_line(iin, "permanent", address, _NULL, moved_in, _NULL))
            return "eligible_uncovered_address"
        places = self._barracks if random() < 0.7 else self._wards
        return self._at_institution(iin, birth, places, lines)

    def _expired_home(
        self, iin: str, earliest: int, latest: int, lines: list[str], *, ends_exactly: bool = False
    ) -> None:
        if ends_exactly:
            until = latest
        else:
            until = self._day(max(earliest, min(latest, _RECENT_DEREGISTRATIONS_FROM)), latest)
        since = self._day(earliest, until)
        lines.append(self._home(iin, "permanent", since, self._quoted_day(until)))

    def _temporary(self, iin: str, birth: int, lines: list[str]) -> None:
        since = self._day(max(birth, _CURRENT_TEMPORARY_FROM), self._last_day)
        shortest, longest = _TEMPORARY_STAY_DAYS
        voting_day = self._voting_day.toordinal()
        until = self._day(voting_day + shortest, voting_day + longest)
        lines.append(self._home(iin, "temporary", since, self._quoted_day(until)))

    def _at_institution(
        self, iin: str, birth: int, places: Sequence[Institution], lines: list[str]
    ) -> str:
        site = places[int(self._random() * len(places))].building
        since = self._day(max(birth, self._last_day - 700), self._last_day)
        address = _address_fragment(site)
        lines.append(_home_line(iin, "permanent", address, _NULL, self._iso_day(since), _NULL))
        return "eligible_special"

    def write_samples(self, population: TextIO, registrations: TextIO) -> dict[str, str]:
        """Write one hand-made person per sample category and return their IINs."""
        samples: dict[str, str] = {}
        people: list[str] = []
        lines: list[str] = []
        for sample in self._samples():
            female = self._random() < _FEMALE_SHARE
            iin = self._issuer.issue(sample.birth.toordinal(), female)
            samples[sample.category] = iin
            if sample.category == "not_found":
                continue
            status = _status(
                sample.citizenship,
                f'"{sample.death.isoformat()}"' if sample.death else _NULL,
                sample.capacity.value,
                sample.custody.value,
            )
            sex = "F" if female else "M"
            names = self._names(female)
            people.append(_person_line(iin, names, sample.birth.isoformat(), sex, status))
            lines.extend(self._stay_line(iin, stay) for stay in sample.stays)
            category = _SAMPLES_COUNTED_AS.get(sample.category, sample.category)
            self.categories[category] += 1
        self._flush(people, lines, population, registrations)
        return {category: samples[category] for category in SAMPLE_CATEGORIES}

    def _stay_line(self, iin: str, stay: _Stay) -> str:
        since = stay.valid_from.isoformat()
        if isinstance(stay.place, ForeignMission):
            return _consular_line(iin, _abroad_fragment(stay.place), since)
        until = f'"{stay.valid_until.isoformat()}"' if stay.valid_until else _NULL
        flat = self._flat(stay.place.flats)
        return _home_line(iin, stay.kind, _address_fragment(stay.place), flat, since, until)

    def _samples(self) -> list[_Sample]:
        geography = self._geography
        rng = self._rng
        homes = geography.residences

        def home(since: dt.date) -> tuple[_Stay, ...]:
            return (_Stay("permanent", homes[rng.randrange(len(homes))], since),)

        def institution(kind: InstitutionKind, since: dt.date) -> tuple[_Stay, ...]:
            return (_Stay("permanent", geography.institutions_of(kind)[0].building, since),)

        voting_day = self._voting_day
        comes_of_age = latest_adult_birth_date(voting_day)
        london = next(m for m in geography.missions if m.city == "London")
        moved_out = dt.date(2025, 8, 31)
        temporary = _Stay(
            "temporary",
            homes[rng.randrange(len(homes))],
            moved_out + dt.timedelta(days=1),
            voting_day + dt.timedelta(days=180),
        )
        previous_home = _expired(home(dt.date(2017, 6, 1))[0], moved_out)
        leap_day_birth = latest_adult_leap_day_birth(voting_day)
        return [
            _Sample("eligible_permanent", dt.date(1986, 5, 14), home(dt.date(2015, 3, 1))),
            _Sample("eligible_temporary", dt.date(1999, 9, 2), (previous_home, temporary)),
            _Sample(
                "eligible_consular",
                dt.date(1991, 11, 23),
                (_Stay("consular", london, dt.date(2019, 9, 1)),),
            ),
            _Sample(
                "eligible_special",
                dt.date(2006, 7, 8),
                institution(InstitutionKind.MILITARY_UNIT, dt.date(2025, 10, 15)),
            ),
            _Sample(
                "eligible_no_registration",
                dt.date(1978, 2, 3),
                (_expired(home(dt.date(2004, 4, 20))[0], dt.date(2024, 6, 30)),),
            ),
            _Sample(
                "eligible_uncovered_address",
                dt.date(1983, 12, 30),
                (_Stay("permanent", geography.uncovered[0], dt.date(2023, 8, 1)),),
            ),
            _Sample("birthday_on_voting_day", comes_of_age, home(comes_of_age)),
            _Sample("born_29_february", leap_day_birth, home(leap_day_birth)),
            _Sample(
                "under_18",
                comes_of_age + dt.timedelta(days=1),
                home(comes_of_age + dt.timedelta(days=1)),
            ),
            _Sample(
                "deceased",
                dt.date(1948, 4, 11),
                (_Stay("permanent", homes[0], dt.date(1999, 1, 12), dt.date(2026, 5, 10)),),
                death=dt.date(2026, 5, 10),
            ),
            _Sample(
                "not_citizen", dt.date(1975, 1, 19), home(dt.date(2012, 9, 1)), citizenship="RUS"
            ),
            _Sample(
                "incapacitated",
                dt.date(1969, 6, 6),
                home(dt.date(2001, 3, 15)),
                capacity=LegalCapacity.INCAPACITATED,
            ),
            _Sample(
                "imprisoned",
                dt.date(1990, 10, 1),
                home(dt.date(2010, 5, 5)),
                custody=Custody.SENTENCED,
            ),
            _Sample(
                "pretrial_detention",
                dt.date(1988, 3, 27),
                institution(InstitutionKind.PRETRIAL_DETENTION, dt.date(2026, 9, 20)),
                custody=Custody.PRETRIAL,
            ),
            _Sample(
                "multiple_reasons",
                dt.date(2012, 8, 17),
                home(dt.date(2012, 9, 1)),
                citizenship="XXA",
            ),
            _Sample("not_found", dt.date(1995, 7, 4), ()),
        ]


def _expired(stay: _Stay, until: dt.date) -> _Stay:
    return stay._replace(valid_until=until)
