"""Names of the organisations whose accounts use the service, in Kazakh, Russian and English.

A token's ``org`` claim names one by id; a citizen's access log (SPEC §17) shows the name,
never the account. An id not in the catalogue is shown as the id itself: the access is
listed whether or not anyone has named its organisation yet.
"""

from __future__ import annotations

from service.messages import Language

_NAMES: dict[str, tuple[str, str, str]] = {
    # id: (kk, ru, en)
    "cec": (
        "Қазақстан Республикасының Орталық сайлау комиссиясы",
        "Центральная избирательная комиссия Республики Казахстан",
        "Central Election Commission of the Republic of Kazakhstan",
    ),
    "tec": (
        "Аумақтық сайлау комиссиясы",
        "Территориальная избирательная комиссия",
        "Territorial election commission",
    ),
    "pec": (
        "Учаскелік сайлау комиссиясы",
        "Участковая избирательная комиссия",
        "Precinct election commission",
    ),
    "egov": (
        "«Азаматтарға арналған үкімет» мемлекеттік корпорациясы (eGov)",
        "Государственная корпорация «Правительство для граждан» (eGov)",
        "State Corporation “Government for Citizens” (eGov)",
    ),
    "akimat": (
        "Жергілікті атқарушы орган (әкімдік)",
        "Местный исполнительный орган (акимат)",
        "Local executive body (akimat)",
    ),
}
_INDEX = {Language.KK: 0, Language.RU: 1, Language.EN: 2}


def organisation_name(organisation_id: str, language: Language) -> str | None:
    """The organisation's name in ``language``, or None for an id not in the catalogue."""
    names = _NAMES.get(organisation_id)
    return names[_INDEX[language]] if names else None


def known_organisations() -> frozenset[str]:
    return frozenset(_NAMES)
