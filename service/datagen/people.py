"""People and their registrations, written as JSON Lines (SPEC §10).

Twelve million people must take minutes, so no line is serialised on its own: lines are
joined from UTF-8 fragments encoded once per process (an address, a day, a set of names),
and each batch of people becomes one bytes object and one write. The hot path, an ordinary
voter at one home, is inlined: a call per person costs seconds per million people.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from array import array
from bisect import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import NamedTuple, Protocol

import orjson

from service.datagen.geography import (
    Building,
    ForeignMission,
    Geography,
    HouseRow,
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
# What PopulationWriter.tally counts, for the shape table (service/datagen/shape.py).
TALLIES = ("under_18", "abroad", "homes", "rural_homes")
# Everyone but not_found is written to the population file.
MIN_PERSONS = len(SAMPLE_CATEGORIES) - 1

_FOREIGN_CITIZENSHIPS = ("RUS", "UZB", "KGZ", "CHN", "TUR", "XXA")
_DAYS_PER_YEAR = 365.2425
# Batches of about a megabyte: larger ones get fresh pages from the kernel, which are slow.
_FLUSH_EVERY_PERSONS = 2_000
_NAME_POOL_BITS = 13
_NAME_POOL_SIZE = 1 << _NAME_POOL_BITS
_AGE_SLOT_BITS = 12
_AGE_SLOTS = 1 << _AGE_SLOT_BITS
_ELDERLY_AGE = 60
_FIRST_DATE = dt.date(1900, 1, 1)
_LAST_DATE = dt.date(2035, 12, 31)
_ADDRESS_REGISTER_OPENS = dt.date(1996, 1, 1).toordinal()
_CONSULAR_REGISTER_OPENS = dt.date(2006, 1, 1).toordinal()
_DEATHS_RECORDED_FROM = dt.date(2012, 1, 1).toordinal()
_RECENT_DEREGISTRATIONS_FROM = dt.date(2020, 1, 1).toordinal()
_CURRENT_TEMPORARY_FROM = dt.date(2025, 11, 1).toordinal()
_TEMPORARY_STAY_DAYS = (10, 900)

# Percent of people per five years of age on voting day (0-4, 5-9, ... 95-99), close to
# Kazakhstan's pyramid in the 2020s: about a third under 18, few past 70.
_AGE_GROUP_PERCENT = (
    9.6, 10.0, 8.9, 7.2, 6.0, 6.4, 7.8, 7.8, 6.9, 6.0,
    5.4, 5.3, 4.8, 3.6, 2.4, 1.1, 0.8, 0.4, 0.15, 0.05,
)  # fmt: skip
_AGE_WEIGHTS = tuple(_AGE_GROUP_PERCENT[age // 5] for age in range(100))
# Of the registry's people: how many are recorded dead (since 2012), by stage of life. With
# the bars below they leave about 60% of people eligible: 12 million of 20 million.
_DEATH_RATE_ELDERLY = 0.22
_DEATH_RATE_OTHERS = 0.02
_FEMALE_SHARE = 0.52
_KAZAKH_NAMES_SHARE = 0.7
_FOREIGNER_SHARE = 0.02
_INCAPACITATED_SHARE = 0.005
# About 33,000 serving sentences and 5,000 held before trial in a country of 20 million.
_SENTENCED_SHARE = 0.0025
_PRETRIAL_SHARE = 0.0004
_IN_CUSTODY = _SENTENCED_SHARE + _PRETRIAL_SHARE
# SPEC §15's dates of those bars. A sentence here always outlasts voting day, so that the
# people drawn as imprisoned stay so (a court fixes a sentence's end when it passes it).
_ADULT_DAYS = 18 * 365 + 4
_LONGEST_CUSTODY_DAYS = 5 * 365
_LONGEST_SENTENCE_LEFT_DAYS = 5 * 365

# Cumulative thresholds of one uniform draw: how a person is registered.
# About 0.1% of people are registered abroad; the dead and foreigners never are.
_CONSULAR = 0.00105
_UNREGISTERED = _CONSULAR + 0.02
_TEMPORARY_ONLY = _UNREGISTERED + 0.03
_UNCOVERED = _TEMPORARY_ONLY + 0.004
_INSTITUTION = _UNCOVERED + 0.003
_WITH_TEMPORARY = _INSTITUTION + 0.03
_WITH_HISTORY = 0.12
# Of the people registered at an institution other than a detention centre, by its kind:
# conscripts in their units, long-stay patients, herders, crews.
_INSTITUTION_RESIDENTS = {
    InstitutionKind.MILITARY_UNIT: 0.6,
    InstitutionKind.HOSPITAL: 0.2,
    InstitutionKind.SANATORIUM: 0.07,
    InstitutionKind.REMOTE_PASTURE: 0.1,
    InstitutionKind.SHIP: 0.03,
}


class _Odds(NamedTuple):
    """The chances of SPEC §3's bars at one stage of life, and what the hot path needs.

    The hot path draws once to tell "plain" people (no bar, one current home) from the
    rest; the rest then draw their bars given that they are not plain.
    """

    bars: tuple[float, ...]  # dies, foreign, incapacitated, in custody: independent
    plain: float
    no_bar_unless_plain: float
    # Of bar i, given no earlier bar and at least one from i on.
    first_bar: tuple[float, ...]

    @classmethod
    def of(cls, *, death_rate: float, adult: bool) -> _Odds:
        # Courts declare incapacity and pass sentences on adults only, in this model.
        court = (_INCAPACITATED_SHARE, _IN_CUSTODY) if adult else (0.0, 0.0)
        bars = (death_rate, _FOREIGNER_SHARE, *court)
        no_bar = math.prod(1 - share for share in bars)
        plain = no_bar * (1 - _WITH_TEMPORARY)
        return cls(
            bars=bars,
            plain=plain,
            no_bar_unless_plain=no_bar * _WITH_TEMPORARY / (1 - plain),
            first_bar=tuple(
                # 1 - P(no bar from `index` on), written so that the last bar gets exactly 1.
                share / (share + (1 - share) * (1 - math.prod(1 - q for q in bars[index + 1 :])))
                if share
                else 0.0
                for index, share in enumerate(bars)
            ),
        )

    def some_bars(self, random: Callable[[], float]) -> list[bool]:
        """Draw the bars given that at least one applies."""
        applying: list[bool] = []
        for share, first in zip(self.bars, self.first_bar, strict=True):
            applying.append(random() < (share if any(applying) else first))
        return applying


# By stage of life: minors, adults, the elderly.
_ODDS = (
    _Odds.of(death_rate=_DEATH_RATE_OTHERS, adult=False),
    _Odds.of(death_rate=_DEATH_RATE_OTHERS, adult=True),
    _Odds.of(death_rate=_DEATH_RATE_ELDERLY, adult=True),
)


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


def _json(text: str) -> bytes:
    return orjson.dumps(text)


def _encoded(names: Sequence[str]) -> tuple[bytes, ...]:
    return tuple(_json(n) for n in names)


class _Names(NamedTuple):
    """JSON-encoded names, each pair indexed by `female` (False, True)."""

    given: tuple[tuple[bytes, ...], tuple[bytes, ...]]
    surnames: tuple[tuple[bytes, ...], tuple[bytes, ...]]
    # "null" entries stand for people recorded without a patronymic.
    patronymics: tuple[tuple[bytes, ...], tuple[bytes, ...]]


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


def _name_pool(rng: Random, *, female: bool) -> tuple[bytes, ...]:
    """Everything between a person's IIN and birth date: one pick per person."""
    kazakh, russian = _kazakh_names(), _russian_names()
    pool = []
    for _ in range(_NAME_POOL_SIZE):
        table = kazakh if rng.random() < _KAZAKH_NAMES_SHARE else russian
        surname = rng.choice(table.surnames[female])
        given = rng.choice(table.given[female])
        patronymic = rng.choice(table.patronymics[female])
        pool.append(
            b'","surname":%b,"given_name":%b,"patronymic":%b,"birth_date":"'
            % (surname, given, patronymic)
        )
    return tuple(pool)


# A line is joined from fragments, each ending where the next begins:
#   {"iin":"<IIN>  <names>  <day>  <person tail>
#   {"iin":"<IIN>  <kind>  <address>  <flat>  <since>  <until>
# The opening `{"iin":"<IIN>` is issued once per person and starts all their lines.
_OPENING = b'{"iin":"'
_NULL = b"null"
_PERMANENT = b'","kind":"permanent",'
_TEMPORARY = b'","kind":"temporary",'
_CONSULAR_KIND = (
    b'","kind":"consular","rca":null,"kato":null,"street":null,"house":null,"flat":null,'
)
_CONSULAR_SINCE = b',"valid_from":"'
_STILL_VALID = b"null}\n"
_CONSULAR_STILL_VALID = b'","valid_until":null}\n'


def _address_fragment(building: Building) -> bytes:
    return b'"rca":"%b","kato":"%b","street":%b,"house":%b,"flat":' % (
        building.rca.encode(),
        building.kato.encode(),
        _json(building.street),
        _json(building.house),
    )


def _row_template(row: HouseRow) -> bytes:
    """The address of a village house, to be filled with its RCA serial and its number."""
    street = _json(row.street).replace(b"%", b"%%")
    return b'"rca":"%b%%014d","kato":"%b","street":%b,"house":"%%d","flat":' % (
        row.kato[:2].encode(),
        row.kato.encode(),
        street,
    )


def _abroad_fragment(mission: ForeignMission) -> bytes:
    return b'"country":"%b","city":%b' % (mission.country.encode(), _json(mission.city))


def _home_since(day: bytes) -> bytes:
    return b',"country":"%b","city":null,"valid_from":"%b","valid_until":' % (
        HOME_COUNTRY.encode(),
        day,
    )


def _ended(day: bytes) -> bytes:
    """The end of a home line whose registration ended on `day`."""
    return b'"%b"}\n' % day


@functools.cache
def _person_tail(
    *, female: bool, citizenship: str, capacity: str, custody: str
) -> tuple[bytes, bytes]:
    """A person's line after the birth date, in two parts: before and after the death date."""
    return (
        f'","sex":"{"F" if female else "M"}","citizenship":"{citizenship}","death_date":'.encode(),
        f',"legal_capacity":"{capacity}","custody":"{custody}","data_as_of":"{DATA_AS_OF}"}}\n'.encode(),
    )


def _death_date(day: bytes | None) -> bytes:
    return b'"%b"' % day if day else _NULL


def _with_facts(after_death: bytes, facts: bytes) -> bytes:
    """A person's line end with SPEC §15's dated facts added (left out when there are none)."""
    return after_death[:-2] + facts + b"}\n" if facts else after_death


def _facts_of(
    *,
    incapacitated_since: dt.date | None = None,
    custody_since: dt.date | None = None,
    sentence_ends_on: dt.date | None = None,
) -> bytes:
    facts = {
        b"incapacitated_since": incapacitated_since,
        b"custody_since": custody_since,
        b"sentence_ends_on": sentence_ends_on,
    }
    return b"".join(
        b',"%b":"%b"' % (name, day.isoformat().encode())
        for name, day in facts.items()
        if day is not None
    )


# Most people: citizens, alive, fully capable, not in custody; indexed by `female`.
_ORDINARY_TAILS = tuple(
    _NULL.join(
        _person_tail(
            female=female,
            citizenship=HOME_COUNTRY,
            capacity=LegalCapacity.FULL.value,
            custody=Custody.NONE.value,
        )
    )
    for female in (False, True)
)


class Sink(Protocol):
    """Where lines go: an open binary file or a DirectFile."""

    def write(self, data: bytes, /) -> int: ...


# The PERSON_CATEGORIES of people barred by one of SPEC §3's rules alone, in this order.
_BARRED_CATEGORIES = ("deceased", "not_citizen", "under_18", "incapacitated", "imprisoned")


def _category(bars: tuple[bool, ...], *, eligible_as: str) -> str:
    """The category of someone with these bars, in _BARRED_CATEGORIES' order."""
    barred = sum(bars)
    if not barred:
        return eligible_as
    return _BARRED_CATEGORIES[bars.index(True)] if barred == 1 else "multiple_reasons"


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
    facts: bytes = b""  # SPEC §15's dates, from _facts_of


@dataclass(frozen=True, slots=True)
class PopulationTables:
    """UTF-8 fragments every chunk of people is joined from, prepared once per process."""

    geography: Geography
    days: tuple[bytes, ...]  # b"YYYY-MM-DD", from _FIRST_DATE on
    home_since: tuple[bytes, ...]  # parallel to days
    name_pools: tuple[tuple[bytes, ...], tuple[bytes, ...]]  # indexed by `female`
    # Parallel to geography.residences + geography.rows. A village street's address is a
    # template for its house's RCA serial and number, and its houses are counted.
    home_addresses: tuple[bytes, ...]
    home_flats: tuple[int, ...]
    home_houses: tuple[int, ...]  # 0 for a town building
    home_serials: tuple[int, ...]  # a village street's first RCA serial less one
    # Walker's alias method picks a home by residents with one draw and two lookups.
    home_shares: array[float]
    home_aliases: array[int]
    flats: tuple[bytes, ...]  # null, then "1", "2", ...
    abroad: tuple[bytes, ...]  # parallel to geography.missions

    @classmethod
    def build(cls, geography: Geography, *, seed: int) -> PopulationTables:
        ordinals = range(_FIRST_DATE.toordinal(), _LAST_DATE.toordinal() + 1)
        days = tuple(dt.date.fromordinal(d).isoformat().encode() for d in ordinals)
        rng = Random(f"{seed}:names")  # noqa: S311
        rows = geography.rows
        home_flats = (*(b.flats for b in geography.residences), *(0 for _ in rows))
        home_shares, home_aliases = _alias_table(geography.home_weights)
        towns = (0,) * len(geography.residences)
        return cls(
            geography=geography,
            days=days,
            home_since=tuple(_home_since(day) for day in days),
            name_pools=(_name_pool(rng, female=False), _name_pool(rng, female=True)),
            home_addresses=(
                *(_address_fragment(b) for b in geography.residences),
                *(_row_template(row) for row in rows),
            ),
            home_flats=home_flats,
            home_houses=(*towns, *(row.houses for row in rows)),
            home_serials=(*towns, *(row.first_serial - 1 for row in rows)),
            home_shares=home_shares,
            home_aliases=home_aliases,
            flats=(_NULL, *(b'"%d"' % n for n in range(1, 1 + max(home_flats)))),
            abroad=tuple(_abroad_fragment(m) for m in geography.missions),
        )


def _alias_table(weights: Sequence[float]) -> tuple[array[float], array[int]]:
    """Vose's alias tables: slot i keeps its own index with shares[i], else gives aliases[i]."""
    scale = len(weights) / math.fsum(weights)
    shares = [weight * scale for weight in weights]
    aliases = list(range(len(weights)))
    small = [index for index, share in enumerate(shares) if share < 1]
    large = [index for index, share in enumerate(shares) if share >= 1]
    while small and large:
        short, tall = small.pop(), large.pop()
        aliases[short] = tall
        shares[tall] -= 1 - shares[short]
        (small if shares[tall] < 1 else large).append(tall)
    # What is left is full up to rounding.
    for index in small + large:
        shares[index] = 1.0
    return array("d", shares), array("q", aliases)


class PopulationWriter:
    """Makes people and their registrations and writes them as JSON Lines."""

    def __init__(
        self, tables: PopulationTables, rng: Random, election: Election, *, serials: range
    ) -> None:
        geography = tables.geography
        self._rng = rng
        self._random = rng.random
        self._issuer = IinIssuer(serials, prefix=_OPENING)
        self._geography = geography
        self._voting_day = election.voting_day
        self._adult_cutoff = latest_adult_birth_date(election.voting_day).toordinal()
        self._last_day = LAST_RECORDED_DAY.toordinal()
        self._epoch = _FIRST_DATE.toordinal()
        # Attributes of self, not of tables: the hot path reads them millions of times.
        self._days = tables.days
        self._home_since = tables.home_since
        self._name_pools = tables.name_pools
        cumulative = list(itertools.accumulate(_AGE_WEIGHTS))
        # A lookup table is cheaper than a bisect per person; slots are 1/4096 of people.
        self._ages = [
            bisect(cumulative, (slot + 0.5) / _AGE_SLOTS * cumulative[-1])
            for slot in range(_AGE_SLOTS)
        ]
        self._home_addresses = tables.home_addresses
        self._home_flats = tables.home_flats
        self._home_houses = tables.home_houses
        self._home_serials = tables.home_serials
        self._home_shares = tables.home_shares
        self._home_aliases = tables.home_aliases
        self._flats = tables.flats
        self._detention = geography.institutions_of(InstitutionKind.PRETRIAL_DETENTION)
        # Everyone else living at an institution, drawn by kind, then evenly within it.
        self._residents_at = [i for i in geography.institutions if i.kind in _INSTITUTION_RESIDENTS]
        kinds = Counter(i.kind for i in self._residents_at)
        self._residents_at_weights = list(
            itertools.accumulate(
                _INSTITUTION_RESIDENTS[i.kind] / kinds[i.kind] for i in self._residents_at
            )
        )
        self._mission_weights = list(itertools.accumulate(m.weight for m in geography.missions))
        self._abroad = tables.abroad
        self.persons = 0
        self.registrations = 0
        self.categories: Counter[str] = Counter(dict.fromkeys(PERSON_CATEGORIES, 0))
        # For the shape table: people under 18, registered abroad, current permanent homes
        # drawn by residents, and how many of those are in villages.
        self.tally: Counter[str] = Counter(dict.fromkeys(TALLIES, 0))

    def _day(self, first: int, last: int) -> int:
        """A uniformly drawn day ordinal in first..last inclusive."""
        return first + int(self._random() * (last - first + 1))

    def _until(self, day: int) -> bytes:
        return _ended(self._days[day - self._epoch])

    def _pick(self, cumulative_weights: Sequence[float]) -> int:
        drawn = bisect(cumulative_weights, self._random() * cumulative_weights[-1])
        # random() < 1, but the product can still round up to the total.
        return min(drawn, len(cumulative_weights) - 1)

    def _home(
        self, opening: bytes, kind: bytes, since: int, until: bytes, lines: list[bytes]
    ) -> None:
        """A registration at a home drawn by residents."""
        spot = self._random() * len(self._home_shares)
        index = int(spot)
        if spot - index >= self._home_shares[index]:
            index = self._home_aliases[index]
        houses = self._home_houses[index]
        if houses:
            number = 1 + int(self._random() * houses)
            address = self._home_addresses[index] % (self._home_serials[index] + number, number)
            flat = _NULL
        else:
            flats = self._home_flats[index]
            flat = self._flats[1 + int(self._random() * flats)] if flats else _NULL
            address = self._home_addresses[index]
        since_text = self._home_since[since - self._epoch]
        lines += (opening, kind, address, flat, since_text, until)
        self.registrations += 1
        if kind is _PERMANENT and until is _STILL_VALID:
            self.tally["homes"] += 1
            self.tally["rural_homes"] += houses > 0

    def _at(self, opening: bytes, building: Building, since: int, lines: list[bytes]) -> None:
        """A permanent registration at one given building, without a flat."""
        since_text = self._home_since[since - self._epoch]
        address = _address_fragment(building)
        lines += (opening, _PERMANENT, address, _NULL, since_text, _STILL_VALID)
        self.registrations += 1

    def write(self, count: int, population: Sink, registrations: Sink) -> None:
        """Append `count` people drawn at random, with realistic shares of every outcome.

        Most people are plain: no bar to voting and one current home. They take an inlined
        copy of `_register`'s first branch; everybody else goes through `_write_unusual`.
        """
        random = self._random
        random_bits = self._rng.getrandbits
        issue = self._issuer.issue
        ages = self._ages
        voting_day = self._voting_day.toordinal()
        last_day = self._last_day
        adult_cutoff = self._adult_cutoff
        epoch = self._epoch
        days = self._days
        name_pools = self._name_pools
        home_since = self._home_since
        home_addresses = self._home_addresses
        home_flats = self._home_flats
        home_houses, home_serials = self._home_houses, self._home_serials
        home_shares, home_aliases = self._home_shares, self._home_aliases
        homes = len(home_shares)
        flat_texts = self._flats
        plain_shares = tuple(odds.plain for odds in _ODDS)
        for start in range(0, count, _FLUSH_EVERY_PERSONS):
            people: list[bytes] = []
            lines: list[bytes] = []
            voters = minors = registered = rural = 0
            for _ in range(min(_FLUSH_EVERY_PERSONS, count - start)):
                female = random() < _FEMALE_SHARE
                age = ages[random_bits(_AGE_SLOT_BITS)]
                birth = voting_day - int((age + random()) * _DAYS_PER_YEAR)
                if birth >= last_day:
                    # Nobody is born on the snapshot's last day or later, so everyone has a
                    # day to die on: these babies are a year older instead, rather than all
                    # sharing one day (and its IIN serials).
                    birth -= 365
                opening = issue(birth, female)
                adult = birth <= adult_cutoff
                stage = adult + (age >= _ELDERLY_AGE)
                if random() >= plain_shares[stage]:
                    self._write_unusual(
                        opening, birth, female=female, stage=stage, people=people, lines=lines
                    )
                    continue
                earliest = birth if birth > _ADDRESS_REGISTER_OPENS else _ADDRESS_REGISTER_OPENS
                since = earliest + int(random() * (last_day - earliest + 1))
                if random() < _WITH_HISTORY and since > earliest:
                    self._expired_home(opening, earliest, since - 1, lines, ends_exactly=True)
                spot = random() * homes
                home = int(spot)
                if spot - home >= home_shares[home]:
                    home = home_aliases[home]
                houses = home_houses[home]
                if houses:
                    number = 1 + int(random() * houses)
                    address = home_addresses[home] % (home_serials[home] + number, number)
                    flat = _NULL
                    rural += 1
                else:
                    flats = home_flats[home]
                    flat = flat_texts[1 + int(random() * flats)] if flats else _NULL
                    address = home_addresses[home]
                lines += (
                    opening,
                    _PERMANENT,
                    address,
                    flat,
                    home_since[since - epoch],
                    _STILL_VALID,
                )
                registered += 1
                if adult:
                    voters += 1
                else:
                    minors += 1
                names = name_pools[female][random_bits(_NAME_POOL_BITS)]
                people += (opening, names, days[birth - epoch], _ORDINARY_TAILS[female])
            population.write(b"".join(people))
            registrations.write(b"".join(lines))
            self.persons += min(_FLUSH_EVERY_PERSONS, count - start)
            self.registrations += registered
            self.categories["eligible_permanent"] += voters
            self.categories["under_18"] += minors
            self.tally["under_18"] += minors
            self.tally["homes"] += registered
            self.tally["rural_homes"] += rural

    def _write_unusual(
        self,
        opening: bytes,
        birth: int,
        *,
        female: bool,
        stage: int,
        people: list[bytes],
        lines: list[bytes],
    ) -> None:
        """Write someone who is not plain: barred from voting, or not (only) at one home."""
        random = self._random
        odds = _ODDS[stage]
        if random() < odds.no_bar_unless_plain:
            dies = foreign = incapacitated = in_custody = False
            draw = random() * _WITH_TEMPORARY
        else:
            dies, foreign, incapacitated, in_custody = odds.some_bars(random)
            draw = random()
        sentenced = in_custody and random() < _SENTENCED_SHARE / _IN_CUSTODY
        pretrial = in_custody and not sentenced
        last_day = self._last_day
        death = None
        if dies:
            death = self._day(max(birth + 1, _DEATHS_RECORDED_FROM), last_day)
            # The address service closes a registration on the day of death.
            since = self._day(max(birth, death - 20 * 365), death)
            self._home(opening, _PERMANENT, since, self._until(death), lines)
            eligible_as = "eligible_permanent"
        elif pretrial:
            eligible_as = self._at_institution(opening, birth, self._detention, lines)
        else:
            eligible_as = self._register(opening, birth, draw, foreign=foreign, lines=lines)
        if foreign:
            citizenship = _FOREIGN_CITIZENSHIPS[int(random() * len(_FOREIGN_CITIZENSHIPS))]
        else:
            citizenship = HOME_COUNTRY
        before_death, after_death = _person_tail(
            female=female,
            citizenship=citizenship,
            capacity=(LegalCapacity.INCAPACITATED if incapacitated else LegalCapacity.FULL).value,
            custody=(
                Custody.SENTENCED if sentenced else Custody.PRETRIAL if pretrial else Custody.NONE
            ).value,
        )
        if incapacitated or in_custody:
            facts = self._dated_facts(
                birth,
                death,
                incapacitated=incapacitated,
                in_custody=in_custody,
                sentenced=sentenced,
            )
            after_death = _with_facts(after_death, facts)
        death_date = _death_date(self._days[death - self._epoch] if death else None)
        bars = (dies, foreign, stage == 0, incapacitated, sentenced)
        self.tally["under_18"] += stage == 0
        self.categories[_category(bars, eligible_as=eligible_as)] += 1
        names = self._name_pools[female][self._rng.getrandbits(_NAME_POOL_BITS)]
        born = self._days[birth - self._epoch]
        people += (opening, names, born, before_death, death_date, after_death)

    def _dated_facts(
        self,
        birth: int,
        death: int | None,
        *,
        incapacitated: bool,
        in_custody: bool,
        sentenced: bool,
    ) -> bytes:
        """Since when a court's incapacity or a custody holds (any day from coming of age to
        the snapshot or death) and, for a sentence, its end: always after voting day."""
        last_day = min(self._last_day, death) if death else self._last_day
        of_age = min(birth + _ADULT_DAYS, last_day)
        incapacitated_since = custody_since = sentence_ends_on = None
        if incapacitated:
            incapacitated_since = dt.date.fromordinal(self._day(of_age, last_day))
        if in_custody:
            since = self._day(max(of_age, last_day - _LONGEST_CUSTODY_DAYS), last_day)
            custody_since = dt.date.fromordinal(since)
        if sentenced:
            after_voting = self._voting_day.toordinal() + 1
            last = min(after_voting + _LONGEST_SENTENCE_LEFT_DAYS, _LAST_DATE.toordinal())
            sentence_ends_on = dt.date.fromordinal(self._day(after_voting, last))
        return _facts_of(
            incapacitated_since=incapacitated_since,
            custody_since=custody_since,
            sentence_ends_on=sentence_ends_on,
        )

    def _register(
        self, opening: bytes, birth: int, draw: float, *, foreign: bool, lines: list[bytes]
    ) -> str:
        """Append a person's registrations; return their category should they be eligible."""
        random = self._random
        last_day = self._last_day
        earliest = max(birth, _ADDRESS_REGISTER_OPENS)
        if draw >= _INSTITUTION or (foreign and draw < _CONSULAR):
            since = earliest + int(random() * (last_day - earliest + 1))
            if random() < _WITH_HISTORY and since > earliest:
                self._expired_home(opening, earliest, since - 1, lines, ends_exactly=True)
            self._home(opening, _PERMANENT, since, _STILL_VALID, lines)
            if draw < _WITH_TEMPORARY:
                # Students and seasonal workers: the permanent address still decides.
                self._temporary(opening, birth, lines)
            return "eligible_permanent"
        if draw < _CONSULAR:
            moved = self._day(max(birth, _CONSULAR_REGISTER_OPENS), last_day)
            if random() < 0.5 and moved > earliest:
                # Emigrated: the home registration ended the day before the consular one.
                self._expired_home(opening, earliest, moved - 1, lines, ends_exactly=True)
            abroad = self._abroad[self._pick(self._mission_weights)]
            moved_text = self._days[moved - self._epoch]
            lines += (
                opening,
                _CONSULAR_KIND,
                abroad,
                _CONSULAR_SINCE,
                moved_text,
                _CONSULAR_STILL_VALID,
            )
            self.registrations += 1
            self.tally["abroad"] += 1
            return "eligible_consular"
        if draw < _UNREGISTERED:
            # De-registered at a property owner's request, or never registered at all.
            if random() < 0.5:
                self._expired_home(opening, earliest, last_day, lines)
            return "eligible_no_registration"
        if draw < _TEMPORARY_ONLY:
            if random() < 0.5:
                self._expired_home(opening, earliest, last_day, lines)
            self._temporary(opening, birth, lines)
            return "eligible_temporary"
        if draw < _UNCOVERED:
            uncovered = self._geography.uncovered
            building = uncovered[int(random() * len(uncovered))]
            self._at(opening, building, self._day(earliest, last_day), lines)
            return "eligible_uncovered_address"
        place = self._residents_at[self._pick(self._residents_at_weights)]
        return self._at_institution(opening, birth, (place,), lines)

    def _expired_home(
        self,
        opening: bytes,
        earliest: int,
        latest: int,
        lines: list[bytes],
        *,
        ends_exactly: bool = False,
    ) -> None:
        if ends_exactly:
            until = latest
        else:
            until = self._day(max(earliest, min(latest, _RECENT_DEREGISTRATIONS_FROM)), latest)
        since = self._day(earliest, until)
        self._home(opening, _PERMANENT, since, self._until(until), lines)

    def _temporary(self, opening: bytes, birth: int, lines: list[bytes]) -> None:
        since = self._day(max(birth, _CURRENT_TEMPORARY_FROM), self._last_day)
        shortest, longest = _TEMPORARY_STAY_DAYS
        voting_day = self._voting_day.toordinal()
        until = self._day(voting_day + shortest, voting_day + longest)
        self._home(opening, _TEMPORARY, since, self._until(until), lines)

    def _at_institution(
        self, opening: bytes, birth: int, places: Sequence[Institution], lines: list[bytes]
    ) -> str:
        site = places[int(self._random() * len(places))].building
        since = self._day(max(birth, self._last_day - 700), self._last_day)
        self._at(opening, site, since, lines)
        return "eligible_special"

    def write_samples(self, population: Sink, registrations: Sink) -> dict[str, str]:
        """Write one hand-made person per sample category and return their IINs."""
        samples: dict[str, str] = {}
        people: list[bytes] = []
        lines: list[bytes] = []
        for sample in self._samples():
            female = self._random() < _FEMALE_SHARE
            opening = self._issuer.issue(sample.birth.toordinal(), female)
            samples[sample.category] = opening.removeprefix(_OPENING).decode()
            if sample.category == "not_found":
                continue
            before_death, after_death = _person_tail(
                female=female,
                citizenship=sample.citizenship,
                capacity=sample.capacity.value,
                custody=sample.custody.value,
            )
            after_death = _with_facts(after_death, sample.facts)
            death_date = _death_date(sample.death.isoformat().encode() if sample.death else None)
            names = self._name_pools[female][self._rng.getrandbits(_NAME_POOL_BITS)]
            born = sample.birth.isoformat().encode()
            people += (opening, names, born, before_death, death_date, after_death)
            for stay in sample.stays:
                lines += self._stay_line(opening, stay)
            category = _SAMPLES_COUNTED_AS.get(sample.category, sample.category)
            self.categories[category] += 1
            self.tally["under_18"] += sample.birth.toordinal() > self._adult_cutoff
            self.tally["abroad"] += any(stay.kind == "consular" for stay in sample.stays)
            self.persons += 1
        population.write(b"".join(people))
        registrations.write(b"".join(lines))
        return {category: samples[category] for category in SAMPLE_CATEGORIES}

    def _stay_line(self, opening: bytes, stay: _Stay) -> tuple[bytes, ...]:
        self.registrations += 1
        since = stay.valid_from.isoformat().encode()
        if isinstance(stay.place, ForeignMission):
            abroad = _abroad_fragment(stay.place)
            return (opening, _CONSULAR_KIND, abroad, _CONSULAR_SINCE, since, _CONSULAR_STILL_VALID)
        until = _ended(stay.valid_until.isoformat().encode()) if stay.valid_until else _STILL_VALID
        flats = stay.place.flats
        flat = self._flats[1 + int(self._random() * flats)] if flats else _NULL
        kind = _PERMANENT if stay.kind == "permanent" else _TEMPORARY
        address = _address_fragment(stay.place)
        return (opening, kind, address, flat, _home_since(since), until)

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
                facts=_facts_of(incapacitated_since=dt.date(2014, 2, 11)),
            ),
            _Sample(
                "imprisoned",
                dt.date(1990, 10, 1),
                home(dt.date(2010, 5, 5)),
                custody=Custody.SENTENCED,
                facts=_facts_of(
                    custody_since=dt.date(2023, 6, 14),
                    sentence_ends_on=voting_day + dt.timedelta(days=400),
                ),
            ),
            _Sample(
                "pretrial_detention",
                dt.date(1988, 3, 27),
                institution(InstitutionKind.PRETRIAL_DETENTION, dt.date(2026, 9, 20)),
                custody=Custody.PRETRIAL,
                facts=_facts_of(custody_since=dt.date(2026, 9, 20)),
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
