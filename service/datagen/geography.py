"""Regions, localities, buildings and the precincts whose boundaries cover them.

Boundaries are built so that no two precincts ever claim the same address: each street's
house numbers are cut into consecutive ranges (per side when the street is split by parity)
and every range belongs to exactly one precinct.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from random import Random

from service.datagen.names import NEW_STREET_NAMES, POLLING_VENUES, STREET_NAMES
from service.domain.model import HOME_COUNTRY, Parity, Precinct, PrecinctKind, Segment

# About 1,200 voters per precinct, as in SPEC §1 (12 million voters, ~10,100 precincts).
PRECINCT_TARGET_RESIDENTS = 1_100
MIN_LOCALITY_RESIDENTS = 2 * PRECINCT_TARGET_RESIDENTS
RESIDENTS_PER_FLAT = 2.6
RESIDENTS_PER_PRIVATE_HOUSE = 4.5
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
    localities: tuple[str, ...]
    is_city: bool = False


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
    Region("10", "область Абай", "Asia/Almaty", 3.0, ("Семей", "Курчатов")),
    Region("11", "Акмолинская область", "Asia/Almaty", 3.8, ("Кокшетау", "Степногорск", "Щучинск")),
    Region("15", "Актюбинская область", "Asia/Aqtobe", 4.6, ("Актобе", "Хромтау", "Кандыагаш")),
    Region("19", "Алматинская область", "Asia/Almaty", 7.0, ("Қонаев", "Есик", "Талгар")),
    Region("23", "Атырауская область", "Asia/Atyrau", 3.5, ("Атырау", "Кульсары")),
    Region("27", "Западно-Казахстанская область", "Asia/Oral", 3.4, ("Уральск", "Аксай")),
    Region("31", "Жамбылская область", "Asia/Almaty", 6.0, ("Тараз", "Шу", "Каратау")),
    Region("33", "область Жетісу", "Asia/Almaty", 3.5, ("Талдыкорган", "Текели")),
    Region(
        "35",
        "Карагандинская область",
        "Asia/Almaty",
        5.6,
        ("Караганда", "Темиртау", "Балхаш", "Сарань"),
    ),
    Region("39", "Костанайская область", "Asia/Qostanay", 4.3, ("Костанай", "Рудный", "Лисаковск")),
    Region("43", "Кызылординская область", "Asia/Qyzylorda", 4.0, ("Кызылорда", "Аральск")),
    Region("47", "Мангистауская область", "Asia/Aqtau", 3.8, ("Актау", "Жанаозен")),
    Region("55", "Павлодарская область", "Asia/Almaty", 3.8, ("Павлодар", "Экибастуз", "Аксу")),
    Region("59", "Северо-Казахстанская область", "Asia/Almaty", 2.7, ("Петропавловск", "Булаево")),
    Region("61", "Туркестанская область", "Asia/Almaty", 10.0, ("Туркестан", "Кентау", "Сарыагаш")),
    Region("62", "область Ұлытау", "Asia/Almaty", 1.1, ("Жезказган", "Сатпаев")),
    Region(
        "63",
        "Восточно-Казахстанская область",
        "Asia/Almaty",
        3.7,
        ("Усть-Каменогорск", "Риддер", "Алтай"),
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


FOREIGN_MISSIONS = (
    ForeignMission(
        "RUS",
        "Moscow",
        "Europe/Moscow",
        "Посольство Республики Казахстан в Российской Федерации",
        20,
    ),
    ForeignMission(
        "RUS",
        "Saint Petersburg",
        "Europe/Moscow",
        "Генеральное консульство Республики Казахстан в Санкт-Петербурге",
        6,
    ),
    ForeignMission("RUS", "Omsk", "Asia/Omsk", "Консульство Республики Казахстан в Омске", 4),
    ForeignMission("DEU", "Berlin", "Europe/Berlin", "Посольство Республики Казахстан в ФРГ", 8),
    ForeignMission(
        "DEU",
        "Frankfurt am Main",
        "Europe/Berlin",
        "Генеральное консульство Республики Казахстан во Франкфурте-на-Майне",
        4,
    ),
    ForeignMission(
        "TUR", "Ankara", "Europe/Istanbul", "Посольство Республики Казахстан в Турции", 3
    ),
    ForeignMission(
        "TUR",
        "Istanbul",
        "Europe/Istanbul",
        "Генеральное консульство Республики Казахстан в Стамбуле",
        7,
    ),
    ForeignMission(
        "USA", "Washington", "America/New_York", "Посольство Республики Казахстан в США", 4
    ),
    ForeignMission(
        "USA",
        "New York",
        "America/New_York",
        "Генеральное консульство Республики Казахстан в Нью-Йорке",
        4,
    ),
    ForeignMission(
        "GBR", "London", "Europe/London", "Посольство Республики Казахстан в Великобритании", 5
    ),
    ForeignMission("CHN", "Beijing", "Asia/Shanghai", "Посольство Республики Казахстан в КНР", 3),
    ForeignMission(
        "CHN", "Urumqi", "Asia/Urumqi", "Генеральное консульство Республики Казахстан в Урумчи", 2
    ),
    ForeignMission(
        "ARE", "Dubai", "Asia/Dubai", "Генеральное консульство Республики Казахстан в Дубае", 6
    ),
    ForeignMission("ARE", "Abu Dhabi", "Asia/Dubai", "Посольство Республики Казахстан в ОАЭ", 2),
    ForeignMission(
        "KOR", "Seoul", "Asia/Seoul", "Посольство Республики Казахстан в Республике Корея", 8
    ),
    ForeignMission(
        "UZB", "Tashkent", "Asia/Tashkent", "Посольство Республики Казахстан в Узбекистане", 5
    ),
    ForeignMission(
        "KGZ", "Bishkek", "Asia/Bishkek", "Посольство Республики Казахстан в Кыргызстане", 5
    ),
)


@dataclass(frozen=True, slots=True)
class Locality:
    kato: str
    name: str
    region: Region


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


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"
    MILITARY_UNIT = "military_unit"
    PRETRIAL_DETENTION = "pretrial_detention"


@dataclass(frozen=True, slots=True)
class Institution:
    kind: InstitutionKind
    name: str
    building: Building


@dataclass(frozen=True, slots=True)
class Geography:
    precincts: tuple[Precinct, ...]
    # Homes some precinct covers, and the cumulative residents for weighted picks.
    residences: tuple[Building, ...]
    residence_weights: tuple[float, ...]
    # Homes on new streets that no precinct covers yet (NO_PRECINCT_FOR_ADDRESS).
    uncovered: tuple[Building, ...]
    institutions: tuple[Institution, ...]
    missions: tuple[ForeignMission, ...]

    def institutions_of(self, kind: InstitutionKind) -> tuple[Institution, ...]:
        return tuple(i for i in self.institutions if i.kind is kind)


@dataclass(slots=True)
class _Unit:
    """A range of one street's house numbers that goes to one precinct as a whole."""

    segment: Segment
    buildings: list[Building]
    residents: float


@dataclass(slots=True)
class _Draft:
    """A precinct under construction: boundaries are still being merged and moved."""

    segments: list[Segment] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    explicit: list[Building] = field(default_factory=list)
    residents: float = 0.0


def _locality_name(region: Region, locality: str) -> str:
    if region.is_city:
        return f"{region.name}, {locality}"
    return f"{region.name}, г. {locality}"


_STREET_FORMS = ("{kk} даңғылы", "{kk} көшесі", "улица {ru}", "проспект {ru}", "переулок {ru}")


def _street_names(rng: Random) -> Iterator[str]:
    names = [form.format(kk=kk, ru=ru) for kk, ru in STREET_NAMES for form in _STREET_FORMS]
    rng.shuffle(names)
    yield from names
    # Only the largest districts exhaust the named streets.
    for number in itertools.count(1):
        yield f"улица № {number}"


class _Builder:
    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._rca_serial = itertools.count(1)

    def building(self, kato: str, street: str, house: str, number: int, flats: int) -> Building:
        # 16 digits: the region, then a national serial, so codes are unique per building.
        rca = f"{kato[:2]}{next(self._rca_serial):014d}"
        return Building(rca, kato, street, house, number, flats)

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
                    residents >= PRECINCT_TARGET_RESIDENTS / 2
                    and side[index + 1].number != building.number
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


def _drafts(units: Sequence[_Unit]) -> list[_Draft]:
    drafts: list[_Draft] = []
    current = _Draft()
    for unit in units:
        if not _merged(current.segments, unit.segment):
            current.segments.append(unit.segment)
        current.buildings.extend(unit.buildings)
        current.residents += unit.residents
        if current.residents >= PRECINCT_TARGET_RESIDENTS:
            drafts.append(current)
            current = _Draft()
    if current.segments:
        # A small remainder joins the previous precinct rather than forming a tiny one.
        if drafts and current.residents < PRECINCT_TARGET_RESIDENTS / 3:
            drafts[-1].segments.extend(current.segments)
            drafts[-1].buildings.extend(current.buildings)
            drafts[-1].residents += current.residents
        else:
            drafts.append(current)
    return drafts


def _move_explicit_building(drafts: list[_Draft], rng: Random) -> None:
    # Akim decisions sometimes hand one building to a neighbouring precinct; the explicit
    # building then wins over the segment that contains it (SPEC §4).
    index = rng.randrange(len(drafts) - 1)
    source, target = drafts[index], drafts[index + 1]
    lettered = [b for b in source.buildings if not b.house.isdigit()]
    target.explicit.append(rng.choice(lettered or source.buildings))


def _institution_names(region: Region, rng: Random) -> list[tuple[InstitutionKind, str]]:
    names = [
        (InstitutionKind.PRETRIAL_DETENTION, f"Следственный изолятор № {rng.randint(1, 30)}"),
        (InstitutionKind.HOSPITAL, f"Городская клиническая больница № {rng.randint(1, 12)}"),
    ]
    # The first region always has one, so every build has an eligible_special sample.
    if region is REGIONS[0] or rng.random() < 0.6:
        names.append((InstitutionKind.MILITARY_UNIT, f"Воинская часть {rng.randint(3000, 99999)}"))
    return names


class _RegionPlan:
    """Precincts of one region, numbered in the order their boundaries were drawn."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.ordinary: list[tuple[Locality, _Draft]] = []
        self.special: list[tuple[Locality, Institution]] = []


def build_geography(*, residents: int, rng: Random) -> Geography:
    """A country with room for about `residents` people, deterministic for `rng`'s seed."""
    builder = _Builder(rng)
    total_share = sum(r.population_share for r in REGIONS)
    plans: list[_RegionPlan] = []
    uncovered: list[Building] = []
    for region in REGIONS:
        plan = _RegionPlan(region)
        plans.append(plan)
        region_residents = residents * region.population_share / total_share
        for index, name in enumerate(region.localities):
            kato = f"{region.code}{11 + index:02d}10000"
            locality = Locality(kato, _locality_name(region, name), region)
            if region.is_city:
                share = 1 / len(region.localities)
            else:
                # The regional centre holds about half of the region.
                share = 0.5 if index == 0 else 0.5 / (len(region.localities) - 1)
            streets = _locality_streets(
                builder,
                locality,
                residents=max(MIN_LOCALITY_RESIDENTS, region_residents * share),
                rng=rng,
            )
            units = [unit for name, homes in streets for unit in builder.units(name, homes)]
            drafts = _drafts(units)
            if len(drafts) > 1 and rng.random() < 0.3:
                _move_explicit_building(drafts, rng)
            plan.ordinary.extend((locality, draft) for draft in drafts)
            if _has_new_street(region, index, rng):
                street = NEW_STREET_NAMES[rng.randrange(len(NEW_STREET_NAMES))]
                uncovered.extend(
                    builder.street(kato, street, longest=rng.randint(2, 6), apartment_share=0.0)
                )
            if index == 0:
                plan.special.extend(_institutions(builder, locality, streets, region, rng))
    precincts = [p for plan in plans for p in _precincts(plan, rng)]
    precincts.extend(_foreign_precincts())
    residences = tuple(b for plan in plans for _, draft in plan.ordinary for b in draft.buildings)
    return Geography(
        precincts=tuple(precincts),
        residences=residences,
        residence_weights=tuple(itertools.accumulate(b.residents for b in residences)),
        uncovered=tuple(uncovered),
        institutions=tuple(i for plan in plans for _, i in plan.special),
        missions=FOREIGN_MISSIONS,
    )


def _has_new_street(region: Region, locality_index: int, rng: Random) -> bool:
    # The first district of the first region always has one, so every build has a sample.
    return (region is REGIONS[0] and locality_index == 0) or rng.random() < 0.3


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


def _institutions(
    builder: _Builder,
    locality: Locality,
    streets: list[tuple[str, list[Building]]],
    region: Region,
    rng: Random,
) -> Iterator[tuple[Locality, Institution]]:
    for offset, (kind, name) in enumerate(_institution_names(region, rng), start=1):
        street, homes = streets[rng.randrange(len(streets))]
        # Past the street's last house, so the address is new and no segment claims it.
        number = homes[-1].number + 2 * offset + 10
        building = builder.building(locality.kato, street, str(number), number, 0)
        yield locality, Institution(kind, name, building)


def _venue(rng: Random) -> str:
    return POLLING_VENUES[rng.randrange(len(POLLING_VENUES))].format(n=rng.randint(1, 180))


def _precincts(plan: _RegionPlan, rng: Random) -> Iterator[Precinct]:
    region = plan.region
    designated_count = min(
        len(plan.ordinary),
        max(_MIN_DAY_REGISTRATION_PRECINCTS, round(len(plan.ordinary) * _DAY_REGISTRATION_SHARE)),
    )
    designated = set(rng.sample(range(len(plan.ordinary)), designated_count))
    number = 0
    for index, (locality, draft) in enumerate(plan.ordinary):
        number += 1
        home = draft.buildings[0]
        yield Precinct(
            id=f"{region.code}-{number:04d}",
            number=number,
            name=f"Избирательный участок № {number}",
            address=f"{locality.name}, {home.street}, {home.house}, {_venue(rng)}",
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


def _foreign_precincts() -> Iterator[Precinct]:
    for number, mission in enumerate(FOREIGN_MISSIONS, start=601):
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
