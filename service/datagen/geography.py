"""Regions, towns and villages, their homes, and the precincts whose boundaries cover them.

The country is built to the published shape (service/datagen/shape.py) scaled to the number
of people asked for: villages as well as towns, about as many precincts of each kind as the
real country has for that many people, missions abroad in proportion.

Boundaries are built so that no two precincts ever claim the same address: each street's
house numbers are cut into consecutive ranges (per side when the street is split by parity)
and every range belongs to exactly one precinct. A hamlet too small for a precinct of its
own is listed house by house (by RCA) by a neighbouring village's precinct.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from random import Random

from service.datagen.names import (
    NEW_STREET_NAMES,
    PASTURE_NAMES,
    POLLING_VENUES,
    SANATORIUM_NAMES,
    SHIP_NAMES,
    STREET_NAMES,
    VILLAGE_NAMES,
)
from service.datagen.shape import (
    DOMESTIC_PRECINCTS_AT_SCALE,
    MISSION_COUNTRIES_AT_SCALE,
    MISSIONS_AT_SCALE,
    SPECIAL_AT_SCALE,
    VILLAGES_AT_SCALE,
    scaled,
    special_at_scale,
)
from service.domain.model import HOME_COUNTRY, Parity, Precinct, PrecinctKind, Segment

RESIDENTS_PER_FLAT = 2.6
RESIDENTS_PER_PRIVATE_HOUSE = 4.5
# Town streets are cut into ranges of about this many residents, then ranges into precincts.
_UNIT_RESIDENTS = 550
# Village sizes are log-normal around the median (as a multiple of the mean) with this spread.
_VILLAGE_SIZE_SIGMA = 1.0
# A village gets a second precinct past this many people, a third past twice as many, ...
VILLAGE_PRECINCT_PERSONS = 4_000
# A village smaller than this votes at the previous village's precinct, which lists its houses.
HAMLET_PERSONS = 250
_HOUSES_PER_VILLAGE_STREET = (8, 60)
# A locality's homes hold at least this many people, so that it has a few streets.
_MIN_TOWN_RESIDENTS = 300
FOREIGN_KATO = "000000000"
FOREIGN_REGION_CODE = "00"
_DAY_REGISTRATION_SHARE = 0.03
_MIN_DAY_REGISTRATION_PRECINCTS = 2


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    timezone: str
    population_share: float
    localities: tuple[str, ...]  # towns, the regional centre first; districts of a city
    is_city: bool = False
    # Share of the region's people who live in villages (approximate, 2020s).
    rural_share: float = 0.0


# KATO region codes; cities of republican significance are split into their districts.
REGIONS = (
    Region(
        "71",
        "г. Астана",
        "Asia/Almaty",
        7.3,
        ("район Алматы", "район Есиль", "район Сарыарка", "район Байконыр", "район Нура"),
        is_city=True,
    ),
    Region(
        "75",
        "г. Алматы",
        "Asia/Almaty",
        11.0,
        (
            "Алмалинский район",
            "Ауэзовский район",
            "Бостандыкский район",
            "Жетысуский район",
            "Медеуский район",
            "Наурызбайский район",
            "Турксибский район",
            "Алатауский район",
        ),
        is_city=True,
    ),
    Region(
        "79",
        "г. Шымкент",
        "Asia/Almaty",
        6.0,
        (
            "Абайский район",
            "Аль-Фарабийский район",
            "Енбекшинский район",
            "Каратауский район",
            "Туранский район",
        ),
        is_city=True,
    ),
    Region("10", "область Абай", "Asia/Almaty", 3.0, ("Семей", "Курчатов"), rural_share=0.4),
    Region(
        "11",
        "Акмолинская область",
        "Asia/Almaty",
        3.8,
        ("Кокшетау", "Степногорск", "Щучинск"),
        rural_share=0.52,
    ),
    Region(
        "15",
        "Актюбинская область",
        "Asia/Aqtobe",
        4.6,
        ("Актобе", "Хромтау", "Кандыагаш"),
        rural_share=0.35,
    ),
    Region(
        "19",
        "Алматинская область",
        "Asia/Almaty",
        7.0,
        ("Қонаев", "Есик", "Талгар"),
        rural_share=0.75,
    ),
    Region(
        "23", "Атырауская область", "Asia/Atyrau", 3.5, ("Атырау", "Кульсары"), rural_share=0.45
    ),
    Region(
        "27",
        "Западно-Казахстанская область",
        "Asia/Oral",
        3.4,
        ("Уральск", "Аксай"),
        rural_share=0.5,
    ),
    Region(
        "31", "Жамбылская область", "Asia/Almaty", 6.0, ("Тараз", "Шу", "Каратау"), rural_share=0.57
    ),
    Region("33", "область Жетісу", "Asia/Almaty", 3.5, ("Талдыкорган", "Текели"), rural_share=0.55),
    Region(
        "35",
        "Карагандинская область",
        "Asia/Almaty",
        5.6,
        ("Караганда", "Темиртау", "Балхаш", "Сарань"),
        rural_share=0.17,
    ),
    Region(
        "39",
        "Костанайская область",
        "Asia/Qostanay",
        4.3,
        ("Костанай", "Рудный", "Лисаковск"),
        rural_share=0.45,
    ),
    Region(
        "43",
        "Кызылординская область",
        "Asia/Qyzylorda",
        4.0,
        ("Кызылорда", "Аральск"),
        rural_share=0.55,
    ),
    Region(
        "47", "Мангистауская область", "Asia/Aqtau", 3.8, ("Актау", "Жанаозен"), rural_share=0.55
    ),
    Region(
        "55",
        "Павлодарская область",
        "Asia/Almaty",
        3.8,
        ("Павлодар", "Экибастуз", "Аксу"),
        rural_share=0.3,
    ),
    Region(
        "59",
        "Северо-Казахстанская область",
        "Asia/Almaty",
        2.7,
        ("Петропавловск", "Булаево"),
        rural_share=0.55,
    ),
    Region(
        "61",
        "Туркестанская область",
        "Asia/Almaty",
        10.0,
        ("Туркестан", "Кентау", "Сарыагаш"),
        rural_share=0.8,
    ),
    Region("62", "область Ұлытау", "Asia/Almaty", 1.1, ("Жезказган", "Сатпаев"), rural_share=0.2),
    Region(
        "63",
        "Восточно-Казахстанская область",
        "Asia/Almaty",
        3.7,
        ("Усть-Каменогорск", "Риддер", "Алтай"),
        rural_share=0.35,
    ),
)


@dataclass(frozen=True, slots=True)
class ForeignMission:
    country: str
    city: str
    timezone: str
    name: str
    # Relative number of citizens registered at this mission.
    weight: int


_EMBASSY = "Посольство Республики Казахстан в"
_CONSULATE = "Генеральное консульство Республики Казахстан в"
# Every mission with a precinct: embassies in 54 countries, then consulates in some of them.
FOREIGN_MISSIONS = tuple(
    ForeignMission(country, city, timezone, name, weight)
    for country, city, timezone, name, weight in (
        ("GBR", "London", "Europe/London", f"{_EMBASSY} Великобритании", 5),
        ("RUS", "Moscow", "Europe/Moscow", f"{_EMBASSY} Российской Федерации", 20),
        ("DEU", "Berlin", "Europe/Berlin", f"{_EMBASSY} ФРГ", 8),
        ("KOR", "Seoul", "Asia/Seoul", f"{_EMBASSY} Республике Корея", 8),
        ("TUR", "Ankara", "Europe/Istanbul", f"{_EMBASSY} Турции", 3),
        ("USA", "Washington", "America/New_York", f"{_EMBASSY} США", 4),
        ("CHN", "Beijing", "Asia/Shanghai", f"{_EMBASSY} КНР", 3),
        ("ARE", "Abu Dhabi", "Asia/Dubai", f"{_EMBASSY} ОАЭ", 2),
        ("UZB", "Tashkent", "Asia/Tashkent", f"{_EMBASSY} Узбекистане", 5),
        ("KGZ", "Bishkek", "Asia/Bishkek", f"{_EMBASSY} Кыргызстане", 5),
        ("BLR", "Minsk", "Europe/Minsk", f"{_EMBASSY} Беларуси", 2),
        ("POL", "Warsaw", "Europe/Warsaw", f"{_EMBASSY} Польше", 2),
        ("CZE", "Prague", "Europe/Prague", f"{_EMBASSY} Чехии", 2),
        ("ITA", "Rome", "Europe/Rome", f"{_EMBASSY} Италии", 2),
        ("ESP", "Madrid", "Europe/Madrid", f"{_EMBASSY} Испании", 2),
        ("FRA", "Paris", "Europe/Paris", f"{_EMBASSY} Франции", 3),
        ("NLD", "The Hague", "Europe/Amsterdam", f"{_EMBASSY} Нидерландах", 2),
        ("ISR", "Tel Aviv", "Asia/Jerusalem", f"{_EMBASSY} Израиле", 2),
        ("JPN", "Tokyo", "Asia/Tokyo", f"{_EMBASSY} Японии", 2),
        ("CAN", "Ottawa", "America/Toronto", f"{_EMBASSY} Канаде", 2),
        ("TJK", "Dushanbe", "Asia/Dushanbe", f"{_EMBASSY} Таджикистане", 1),
        ("TKM", "Ashgabat", "Asia/Ashgabat", f"{_EMBASSY} Туркменистане", 1),
        ("AZE", "Baku", "Asia/Baku", f"{_EMBASSY} Азербайджане", 1),
        ("GEO", "Tbilisi", "Asia/Tbilisi", f"{_EMBASSY} Грузии", 1),
        ("ARM", "Yerevan", "Asia/Yerevan", f"{_EMBASSY} Армении", 1),
        ("UKR", "Kyiv", "Europe/Kyiv", f"{_EMBASSY} Украине", 1),
        ("LTU", "Vilnius", "Europe/Vilnius", f"{_EMBASSY} Литве", 1),
        ("LVA", "Riga", "Europe/Riga", f"{_EMBASSY} Латвии", 1),
        ("EST", "Tallinn", "Europe/Tallinn", f"{_EMBASSY} Эстонии", 1),
        ("FIN", "Helsinki", "Europe/Helsinki", f"{_EMBASSY} Финляндии", 1),
        ("SWE", "Stockholm", "Europe/Stockholm", f"{_EMBASSY} Швеции", 1),
        ("AUT", "Vienna", "Europe/Vienna", f"{_EMBASSY} Австрии", 1),
        ("CHE", "Bern", "Europe/Zurich", f"{_EMBASSY} Швейцарии", 1),
        ("BEL", "Brussels", "Europe/Brussels", f"{_EMBASSY} Бельгии", 1),
        ("HUN", "Budapest", "Europe/Budapest", f"{_EMBASSY} Венгрии", 1),
        ("ROU", "Bucharest", "Europe/Bucharest", f"{_EMBASSY} Румынии", 1),
        ("BGR", "Sofia", "Europe/Sofia", f"{_EMBASSY} Болгарии", 1),
        ("GRC", "Athens", "Europe/Athens", f"{_EMBASSY} Греции", 1),
        ("EGY", "Cairo", "Africa/Cairo", f"{_EMBASSY} Египте", 1),
        ("SAU", "Riyadh", "Asia/Riyadh", f"{_EMBASSY} Саудовской Аравии", 1),
        ("QAT", "Doha", "Asia/Qatar", f"{_EMBASSY} Катаре", 1),
        ("KWT", "Kuwait City", "Asia/Kuwait", f"{_EMBASSY} Кувейте", 1),
        ("IRN", "Tehran", "Asia/Tehran", f"{_EMBASSY} Иране", 1),
        ("AFG", "Kabul", "Asia/Kabul", f"{_EMBASSY} Афганистане", 1),
        ("PAK", "Islamabad", "Asia/Karachi", f"{_EMBASSY} Пакистане", 1),
        ("IND", "New Delhi", "Asia/Kolkata", f"{_EMBASSY} Индии", 1),
        ("MYS", "Kuala Lumpur", "Asia/Kuala_Lumpur", f"{_EMBASSY} Малайзии", 1),
        ("SGP", "Singapore", "Asia/Singapore", f"{_EMBASSY} Сингапуре", 1),
        ("THA", "Bangkok", "Asia/Bangkok", f"{_EMBASSY} Таиланде", 1),
        ("VNM", "Hanoi", "Asia/Ho_Chi_Minh", f"{_EMBASSY} Вьетнаме", 1),
        ("IDN", "Jakarta", "Asia/Jakarta", f"{_EMBASSY} Индонезии", 1),
        ("MNG", "Ulaanbaatar", "Asia/Ulaanbaatar", f"{_EMBASSY} Монголии", 1),
        ("BRA", "Brasilia", "America/Sao_Paulo", f"{_EMBASSY} Бразилии", 1),
        ("AUS", "Canberra", "Australia/Sydney", f"{_EMBASSY} Австралии", 1),
        ("RUS", "Saint Petersburg", "Europe/Moscow", f"{_CONSULATE} Санкт-Петербурге", 6),
        ("TUR", "Istanbul", "Europe/Istanbul", f"{_CONSULATE} Стамбуле", 7),
        ("ARE", "Dubai", "Asia/Dubai", f"{_CONSULATE} Дубае", 6),
        ("RUS", "Omsk", "Asia/Omsk", "Консульство Республики Казахстан в Омске", 4),
        ("DEU", "Frankfurt am Main", "Europe/Berlin", f"{_CONSULATE} Франкфурте-на-Майне", 4),
        ("USA", "New York", "America/New_York", f"{_CONSULATE} Нью-Йорке", 4),
        ("CHN", "Urumqi", "Asia/Urumqi", f"{_CONSULATE} Урумчи", 2),
        ("RUS", "Kazan", "Europe/Moscow", f"{_CONSULATE} Казани", 2),
        ("RUS", "Astrakhan", "Europe/Astrakhan", f"{_CONSULATE} Астрахани", 2),
        ("RUS", "Novosibirsk", "Asia/Novosibirsk", f"{_CONSULATE} Новосибирске", 2),
        ("DEU", "Munich", "Europe/Berlin", f"{_CONSULATE} Мюнхене", 2),
        ("CHN", "Shanghai", "Asia/Shanghai", f"{_CONSULATE} Шанхае", 1),
        ("CHN", "Hong Kong", "Asia/Hong_Kong", f"{_CONSULATE} Гонконге", 1),
        ("TUR", "Antalya", "Europe/Istanbul", f"{_CONSULATE} Анталье", 1),
        ("USA", "San Francisco", "America/Los_Angeles", f"{_CONSULATE} Сан-Франциско", 1),
        ("UZB", "Samarkand", "Asia/Samarkand", f"{_CONSULATE} Самарканде", 1),
    )
)


def missions_for(persons: int) -> tuple[ForeignMission, ...]:
    """The missions with a precinct in a country of `persons` people: at least one.

    They open in an order that keeps the number of countries in proportion to the number
    of missions at every size: a new country's embassy (by weight) while the countries
    are behind, else the heaviest remaining consulate. London opens first: the demo's
    consular sample is registered there.
    """
    count = max(1, min(len(FOREIGN_MISSIONS), round(scaled(MISSIONS_AT_SCALE, persons))))
    per_mission = MISSION_COUNTRIES_AT_SCALE / MISSIONS_AT_SCALE
    waiting = sorted(FOREIGN_MISSIONS[1:], key=lambda m: -m.weight)
    chosen = [FOREIGN_MISSIONS[0]]
    countries = {FOREIGN_MISSIONS[0].country}
    while len(chosen) < count:
        new_country = len(countries) < round(per_mission * (len(chosen) + 1))
        pick = next(
            (m for m in waiting if (m.country not in countries) == new_country),
            waiting[0],
        )
        waiting.remove(pick)
        chosen.append(pick)
        countries.add(pick.country)
    return tuple(chosen)


@dataclass(frozen=True, slots=True)
class Locality:
    kato: str
    name: str
    region: Region
    is_village: bool = False


@dataclass(frozen=True, slots=True)
class Building:
    rca: str
    kato: str
    street: str
    house: str
    number: int
    flats: int  # 0 for a private house

    @property
    def residents(self) -> float:
        return self.flats * RESIDENTS_PER_FLAT if self.flats else RESIDENTS_PER_PRIVATE_HOUSE


def rca_code(kato: str, serial: int) -> str:
    # 16 digits: the region, then a national serial, so codes are unique per building.
    return f"{kato[:2]}{serial:014d}"


@dataclass(frozen=True, slots=True)
class HouseRow:
    """A village street of private houses numbered 1..houses; house n has serial first + n - 1.

    Kept as a row rather than as buildings: a country of 20 million has about 1.7 million
    village houses, too many objects for every worker process to hold.
    """

    kato: str
    street: str
    houses: int
    first_serial: int

    @property
    def residents(self) -> float:
        return self.houses * RESIDENTS_PER_PRIVATE_HOUSE

    def building(self, number: int) -> Building:
        rca = rca_code(self.kato, self.first_serial + number - 1)
        return Building(rca, self.kato, self.street, str(number), number, 0)


class InstitutionKind(StrEnum):
    """Where a special precinct is formed (SPEC §15); values are shape.SPECIAL_AT_SCALE keys."""

    HOSPITAL = "hospital"
    SANATORIUM = "sanatorium"
    PRETRIAL_DETENTION = "pretrial_detention"
    MILITARY_UNIT = "military_unit"
    REMOTE_PASTURE = "remote_pasture"
    SHIP = "ship"


# Ships are registered at ports on the Caspian and the Irtysh.
_PORT_REGIONS = ("47", "23", "55", "63")


@dataclass(frozen=True, slots=True)
class Institution:
    kind: InstitutionKind
    name: str
    building: Building


@dataclass(frozen=True, slots=True)
class Geography:
    precincts: tuple[Precinct, ...]
    # Town buildings some precinct covers, then village streets; and how many people live
    # in each (parallel to residences + rows), for weighted picks.
    residences: tuple[Building, ...]
    rows: tuple[HouseRow, ...]
    home_weights: tuple[float, ...]
    # Homes on new streets that no precinct covers yet (NO_PRECINCT_FOR_ADDRESS).
    uncovered: tuple[Building, ...]
    institutions: tuple[Institution, ...]
    missions: tuple[ForeignMission, ...]
    towns: int  # towns and city districts
    villages: int

    def institutions_of(self, kind: InstitutionKind) -> tuple[Institution, ...]:
        return tuple(i for i in self.institutions if i.kind is kind)


@dataclass(slots=True)
class _Unit:
    """A range of one street's house numbers that goes to one precinct as a whole."""

    segment: Segment
    buildings: list[Building]
    residents: float
    row: HouseRow | None = None


@dataclass(slots=True)
class _Draft:
    """A precinct under construction: boundaries are still being merged and moved."""

    segments: list[Segment] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    rows: list[HouseRow] = field(default_factory=list)
    explicit: list[Building] = field(default_factory=list)
    residents: float = 0.0


_STREET_FORMS = ("{kk} даңғылы", "{kk} көшесі", "улица {ru}", "проспект {ru}", "переулок {ru}")
_STREETS = tuple(form.format(kk=kk, ru=ru) for kk, ru in STREET_NAMES for form in _STREET_FORMS)
_VILLAGE_STREETS = tuple(f"{kk} көшесі" for kk, _ in STREET_NAMES) + tuple(
    f"улица {ru}" for _, ru in STREET_NAMES
)


def _street_names(rng: Random, names: Sequence[str] = _STREETS) -> Iterator[str]:
    shuffled = list(names)
    rng.shuffle(shuffled)
    yield from shuffled
    # Only the largest districts exhaust the named streets.
    for number in itertools.count(1):
        yield f"улица № {number}"


class _Builder:
    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._serial = 1

    def _serials(self, count: int) -> int:
        first = self._serial
        self._serial += count
        return first

    def building(self, kato: str, street: str, house: str, number: int, flats: int) -> Building:
        return Building(rca_code(kato, self._serials(1)), kato, street, house, number, flats)

    def row(self, kato: str, street: str, houses: int) -> HouseRow:
        return HouseRow(kato, street, houses, self._serials(houses))

    def street(
        self, kato: str, name: str, *, longest: int, apartment_share: float
    ) -> list[Building]:
        rng = self._rng
        buildings = []
        for number in range(1, longest + 1):
            # Some numbers were never built or were demolished; some plots got a second
            # building with a letter ("12А").
            suffixes = [""] if rng.random() < 0.9 else []
            if rng.random() < 0.05:
                suffixes.append("А")
            for suffix in suffixes:
                flats = rng.randint(12, 120) if rng.random() < apartment_share else 0
                buildings.append(self.building(kato, name, f"{number}{suffix}", number, flats))
        if not buildings:
            buildings.append(self.building(kato, name, "1", 1, 0))
        return buildings

    def units(self, street: str, buildings: list[Building]) -> list[_Unit]:
        if len(buildings) >= 10 and self._rng.random() < 0.4:
            sides = [
                (Parity.ODD, [b for b in buildings if b.number % 2 == 1]),
                (Parity.EVEN, [b for b in buildings if b.number % 2 == 0]),
            ]
        else:
            sides = [(Parity.ALL, buildings)]
        units = []
        for parity, side in sides:
            if not side:
                continue
            step = 1 if parity is Parity.ALL else 2
            first = 2 if parity is Parity.EVEN else 1
            chunk: list[Building] = []
            residents = 0.0
            for index, building in enumerate(side):
                chunk.append(building)
                residents += building.residents
                is_last = index == len(side) - 1
                # Never cut between "12" and "12А": both match the range on their number 12.
                if is_last or (
                    residents >= _UNIT_RESIDENTS and side[index + 1].number != building.number
                ):
                    segment = Segment(street, first, building.number, parity)
                    units.append(_Unit(segment, chunk, residents))
                    first, chunk, residents = building.number + step, [], 0.0
        return units


def _merged(segments: list[Segment], segment: Segment) -> bool:
    if not segments:
        return False
    last = segments[-1]
    step = 1 if segment.parity is Parity.ALL else 2
    if (last.street, last.parity) == (segment.street, segment.parity) and (
        last.last + step >= segment.first
    ):
        segments[-1] = Segment(last.street, last.first, segment.last, last.parity)
        return True
    return False


def _partition(units: Sequence[_Unit], count: int) -> list[_Draft]:
    """Cut the units, in order, into `count` precincts of about equal residents (or fewer)."""
    total = math.fsum(u.residents for u in units) or 1.0
    drafts = [_Draft() for _ in range(count)]
    seen = 0.0
    for unit in units:
        draft = drafts[min(count - 1, int((seen + unit.residents / 2) / total * count))]
        seen += unit.residents
        if not _merged(draft.segments, unit.segment):
            draft.segments.append(unit.segment)
        draft.buildings.extend(unit.buildings)
        if unit.row is not None:
            draft.rows.append(unit.row)
        draft.residents += unit.residents
    return [d for d in drafts if d.segments]


def _move_explicit_building(drafts: list[_Draft], rng: Random) -> None:
    # Akim decisions sometimes hand one building to a neighbouring precinct; the explicit
    # building then wins over the segment that contains it (SPEC §4).
    index = rng.randrange(len(drafts) - 1)
    source, target = drafts[index], drafts[index + 1]
    lettered = [b for b in source.buildings if not b.house.isdigit()]
    target.explicit.append(rng.choice(lettered or source.buildings))


@dataclass(slots=True)
class _RegionPlan:
    """Precincts of one region, numbered in the order their boundaries were drawn."""

    region: Region
    towns: list[tuple[Locality, list[tuple[str, int]]]] = field(default_factory=list)
    villages: list[tuple[Locality, list[HouseRow]]] = field(default_factory=list)
    urban: list[tuple[Locality, _Draft]] = field(default_factory=list)
    rural: list[tuple[Locality, _Draft]] = field(default_factory=list)
    special: list[tuple[Locality, Institution]] = field(default_factory=list)

    @property
    def ordinary(self) -> list[tuple[Locality, _Draft]]:
        return self.urban + self.rural

    @property
    def people(self) -> float:
        return self.region.population_share

    @property
    def rural_people(self) -> float:
        return self.region.population_share * self.region.rural_share


def build_geography(*, residents: int, rng: Random) -> Geography:
    """A country shaped like Kazakhstan with room for `residents` people, deterministic for
    `rng`'s seed: villages first, then towns with the precincts that are left."""
    builder = _Builder(rng)
    plans = [_RegionPlan(region) for region in REGIONS]
    total_share = sum(plan.people for plan in plans)
    rural_total = sum(plan.rural_people for plan in plans)
    rows: list[HouseRow] = []
    village_count = scaled(VILLAGES_AT_SCALE, residents)
    for plan in plans:
        if not plan.rural_people:
            continue
        villages = max(1, round(village_count * plan.rural_people / rural_total))
        people = residents * plan.rural_people / total_share
        rows += _villages(builder, plan, villages, people, rng)
    rural_precincts = sum(len(plan.rural) for plan in plans)

    ordinary_target = scaled(DOMESTIC_PRECINCTS_AT_SCALE - special_at_scale(), residents)
    town_precincts = max(1.0, ordinary_target - rural_precincts)
    urban_people = residents * sum(p.people - p.rural_people for p in plans) / total_share
    per_precinct = urban_people / town_precincts
    residences: list[Building] = []
    town_weights: list[float] = []
    uncovered: list[Building] = []
    for plan in plans:
        region_people = residents * (plan.people - plan.rural_people) / total_share
        towns = _towns(builder, plan, region_people, per_precinct, rng, uncovered=uncovered)
        for buildings, people in towns:
            residences += buildings
            built = math.fsum(b.residents for b in buildings)
            town_weights += (b.residents * people / built for b in buildings)
    _place_institutions(builder, plans, residents, rng)

    precincts = [p for plan in plans for p in _precincts(plan, rng)]
    precincts.extend(_foreign_precincts(missions_for(residents)))
    village_weights = [row.residents for row in rows]
    rural_people = residents * rural_total / total_share
    built_rural = math.fsum(village_weights) or 1.0
    return Geography(
        precincts=tuple(precincts),
        residences=tuple(residences),
        rows=tuple(rows),
        home_weights=(*town_weights, *(w * rural_people / built_rural for w in village_weights)),
        uncovered=tuple(uncovered),
        institutions=tuple(i for plan in plans for _, i in plan.special),
        missions=missions_for(residents),
        towns=sum(len(plan.towns) for plan in plans),
        villages=sum(len(plan.villages) for plan in plans),
    )


def _locality_name(region: Region, locality: str) -> str:
    if region.is_city:
        return f"{region.name}, {locality}"
    return f"{region.name}, г. {locality}"


def _village_kato(region: Region, index: int) -> str:
    # District, rural okrug (five villages each), village: "194033100" style codes.
    district, rest = divmod(index, 300)
    okrug, village = divmod(rest, 5)
    return f"{region.code}{31 + district:02d}{31 + okrug:02d}{village + 1}00"


def _villages(
    builder: _Builder, plan: _RegionPlan, count: int, people: float, rng: Random
) -> Iterator[HouseRow]:
    """A region's villages and their precincts; yields every village street."""
    region = plan.region
    sizes = [rng.lognormvariate(0.0, _VILLAGE_SIZE_SIGMA) for _ in range(count)]
    scale = people / math.fsum(sizes)
    lowest, highest = _HOUSES_PER_VILLAGE_STREET
    for index, size in enumerate(sizes):
        persons = size * scale
        name = VILLAGE_NAMES[rng.randrange(len(VILLAGE_NAMES))]
        locality = Locality(
            _village_kato(region, index), f"{region.name}, с. {name}", region, is_village=True
        )
        houses = max(1, round(persons / RESIDENTS_PER_PRIVATE_HOUSE))
        streets = _street_names(rng, _VILLAGE_STREETS)
        village: list[HouseRow] = []
        while houses > 0:
            length = min(houses, rng.randint(lowest, highest))
            village.append(builder.row(locality.kato, next(streets), length))
            houses -= length
        plan.villages.append((locality, village))
        yield from village
        if persons < HAMLET_PERSONS and plan.rural:
            # Voters of a hamlet go to the previous village's precinct, house by house.
            _, neighbour = plan.rural[-1]
            neighbour.explicit += (row.building(n) for row in village for n in _numbers(row))
            continue
        precincts = min(len(village), math.ceil(persons / VILLAGE_PRECINCT_PERSONS))
        units = [
            _Unit(Segment(row.street, 1, row.houses, Parity.ALL), [], row.residents, row)
            for row in village
        ]
        plan.rural += ((locality, draft) for draft in _partition(units, precincts))


def _numbers(row: HouseRow) -> range:
    return range(1, row.houses + 1)


def _towns(
    builder: _Builder,
    plan: _RegionPlan,
    people: float,
    per_precinct: float,
    rng: Random,
    *,
    uncovered: list[Building],
) -> Iterator[tuple[list[Building], float]]:
    """A region's towns (or a city's districts) and their precincts; yields each town's
    buildings and the people living there. A city keeps at least two districts."""
    region = plan.region
    budget = max(2 if region.is_city else 1, round(people / per_precinct))
    used = region.localities[: max(1, min(len(region.localities), budget))]
    for index, name in enumerate(used):
        kato = f"{region.code}{11 + index:02d}10000"
        locality = Locality(kato, _locality_name(region, name), region)
        if region.is_city or len(used) == 1:
            share = 1 / len(used)
        else:
            # The regional centre holds about half of the region's town dwellers.
            share = 0.5 if index == 0 else 0.5 / (len(used) - 1)
        town_people = people * share
        first = region is REGIONS[0] and index == 0
        precincts = max(2 if first else 1, round(town_people / per_precinct))
        streets = _locality_streets(
            builder, locality, residents=max(_MIN_TOWN_RESIDENTS, town_people), rng=rng
        )
        units = [unit for street, homes in streets for unit in builder.units(street, homes)]
        drafts = _partition(units, precincts)
        # The first district of the first region always has one, so every build has one.
        if len(drafts) > 1 and (first or rng.random() < 0.3):
            _move_explicit_building(drafts, rng)
        plan.urban += ((locality, draft) for draft in drafts)
        plan.towns.append((locality, [(street, homes[-1].number) for street, homes in streets]))
        if first or rng.random() < 0.3:
            street = NEW_STREET_NAMES[rng.randrange(len(NEW_STREET_NAMES))]
            uncovered += builder.street(
                kato, street, longest=rng.randint(2, 6), apartment_share=0.0
            )
        yield [b for _, homes in streets for b in homes], town_people


def _locality_streets(
    builder: _Builder, locality: Locality, *, residents: float, rng: Random
) -> list[tuple[str, list[Building]]]:
    apartment_share = 0.65 if locality.region.is_city else 0.4
    streets: list[tuple[str, list[Building]]] = []
    housed = 0.0
    names = _street_names(rng)
    while housed < residents:
        name = next(names)
        homes = builder.street(
            locality.kato, name, longest=rng.randint(6, 90), apartment_share=apartment_share
        )
        streets.append((name, homes))
        housed += sum(b.residents for b in homes)
    return streets


def _institution_name(kind: InstitutionKind, rng: Random) -> str:
    def pick(names: Sequence[str]) -> str:
        return names[rng.randrange(len(names))]

    match kind:
        case InstitutionKind.HOSPITAL:
            return f"Городская клиническая больница № {rng.randint(1, 12)}"
        case InstitutionKind.SANATORIUM:
            return f"Санаторий «{pick(SANATORIUM_NAMES)}»"
        case InstitutionKind.PRETRIAL_DETENTION:
            return f"Следственный изолятор № {rng.randint(1, 30)}"
        case InstitutionKind.MILITARY_UNIT:
            return f"Воинская часть {rng.randint(3000, 99999)}"
        case InstitutionKind.REMOTE_PASTURE:
            return f"Отгонное пастбище «{pick(PASTURE_NAMES)}»"
        case InstitutionKind.SHIP:
            return f"Судно «{pick(SHIP_NAMES)}»"


def _place_institutions(
    builder: _Builder, plans: list[_RegionPlan], residents: int, rng: Random
) -> None:
    """The special precincts' institutions, as many of each kind as the scale gives (one at
    least), in regions drawn by population: pastures by village dwellers, ships at ports."""
    taken: Counter[tuple[str, str]] = Counter()
    for kind in InstitutionKind:
        count = max(1, round(scaled(SPECIAL_AT_SCALE[kind.value], residents)))
        if kind is InstitutionKind.REMOTE_PASTURE:
            candidates = [p for p in plans if p.villages]
            weights = [p.rural_people for p in candidates]
        elif kind is InstitutionKind.SHIP:
            candidates = [p for p in plans if p.region.code in _PORT_REGIONS]
            weights = [p.people for p in candidates]
        else:
            candidates = plans
            weights = [p.people for p in plans]
        for plan in rng.choices(candidates, weights, k=count):
            if kind is InstitutionKind.REMOTE_PASTURE:
                locality, village = plan.villages[rng.randrange(len(plan.villages))]
                streets = [(row.street, row.houses) for row in village]
            else:
                # Half of them in the regional centre (or the city's first district).
                towns = plan.towns
                locality, streets = towns[0 if rng.random() < 0.5 else rng.randrange(len(towns))]
            street, last = streets[rng.randrange(len(streets))]
            taken[(locality.kato, street)] += 1
            # Past the street's last house, so the address is new and no segment claims it.
            number = last + 10 + 2 * taken[(locality.kato, street)]
            building = builder.building(locality.kato, street, str(number), number, 0)
            plan.special.append(
                (locality, Institution(kind, _institution_name(kind, rng), building))
            )


def _venue(rng: Random) -> str:
    return POLLING_VENUES[rng.randrange(len(POLLING_VENUES))].format(n=rng.randint(1, 180))


def _precincts(plan: _RegionPlan, rng: Random) -> Iterator[Precinct]:
    region = plan.region
    ordinary = plan.ordinary
    designated_count = min(
        len(ordinary),
        max(_MIN_DAY_REGISTRATION_PRECINCTS, round(len(ordinary) * _DAY_REGISTRATION_SHARE)),
    )
    designated = set(rng.sample(range(len(ordinary)), designated_count))
    number = 0
    for index, (locality, draft) in enumerate(ordinary):
        number += 1
        if draft.buildings:
            street, house = draft.buildings[0].street, draft.buildings[0].house
        else:
            street, house = draft.rows[0].street, "1"
        yield Precinct(
            id=f"{region.code}-{number:04d}",
            number=number,
            name=f"Избирательный участок № {number}",
            address=f"{locality.name}, {street}, {house}, {_venue(rng)}",
            kato=locality.kato,
            kind=PrecinctKind.ORDINARY,
            country=HOME_COUNTRY,
            city=None,
            timezone=region.timezone,
            day_registration=index in designated,
            segments=tuple(draft.segments),
            buildings=tuple(b.rca for b in draft.explicit),
        )
    for locality, institution in plan.special:
        number += 1
        site = institution.building
        yield Precinct(
            id=f"{region.code}-{number:04d}",
            number=number,
            name=f"Избирательный участок № {number} ({institution.name})",
            address=f"{locality.name}, {site.street}, {site.house}, {institution.name}",
            kato=locality.kato,
            kind=PrecinctKind.SPECIAL,
            country=HOME_COUNTRY,
            city=None,
            timezone=region.timezone,
            day_registration=False,
            buildings=(site.rca,),
        )


def _foreign_precincts(missions: Sequence[ForeignMission]) -> Iterator[Precinct]:
    for number, mission in enumerate(missions, start=601):
        yield Precinct(
            id=f"{FOREIGN_REGION_CODE}-{number:04d}",
            number=number,
            name=f"Избирательный участок № {number}",
            address=f"{mission.city}, {mission.name}",
            kato=FOREIGN_KATO,
            kind=PrecinctKind.FOREIGN,
            country=mission.country,
            city=mission.city,
            timezone=mission.timezone,
            day_registration=False,
        )
