"""The shape of the real country the synthetic one is built to, and how close it came.

Figures are given at SCALE_PERSONS people and scale with the number of persons generated;
shares do not scale. `voterctl data generate` prints `compare()`'s table after each run.

Where they come from (issue 13): about 12 million voters; about 10,100 precincts in
Kazakhstan of which about 630 special (632 in the 2026 referendum); about 70 precincts at
missions in about 54 countries; about 0.1% of people registered abroad; about a third of
people under 18. The rural share (about 38%) and the number of rural settlements (about
6,300) are approximate national-statistics figures. How the 630 special precincts split by
institution is not published: SPECIAL_AT_SCALE is an assumption, kept here so that it is
visible and checked like the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SCALE_PERSONS = 20_000_000
VOTERS_AT_SCALE = 12_000_000
UNDER_18_SHARE = 1 / 3
ABROAD_SHARE = 0.001
DOMESTIC_PRECINCTS_AT_SCALE = 10_100
# By institution kind (service/datagen/geography.py InstitutionKind values); sums to 630.
SPECIAL_AT_SCALE: Mapping[str, int] = {
    "hospital": 380,
    "sanatorium": 40,
    "pretrial_detention": 70,
    "military_unit": 110,
    "remote_pasture": 25,
    "ship": 5,
}
MISSIONS_AT_SCALE = 70
MISSION_COUNTRIES_AT_SCALE = 54
VILLAGES_AT_SCALE = 6_300
RURAL_SHARE = 0.38

TOLERANCE = 0.10
# Below this many persons the floors (every region, every kind at least once) dominate, so
# the table is printed but an off figure does not fail the command.
CHECKED_FROM_PERSONS = 1_000_000


def special_at_scale() -> int:
    return sum(SPECIAL_AT_SCALE.values())


def scaled(count: float, persons: int) -> float:
    return count * persons / SCALE_PERSONS


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    label: str
    generated: float
    target: float | None  # None: shown for information, not compared
    is_share: bool = False
    # How far a count may be off whatever its size: whole precincts round, and every kind
    # exists at least once; a sum of such counts may be off by as many as it sums.
    slack: float = 1.0

    @property
    def deviation(self) -> float | None:
        if not self.target:
            return None
        return (self.generated - self.target) / self.target

    @property
    def off(self) -> bool:
        """More than TOLERANCE away, and for a count also more than its slack."""
        if self.target is None:
            return False
        allowed = TOLERANCE * self.target
        if not self.is_share:
            allowed = max(allowed, self.slack)
        return abs(self.generated - self.target) > allowed


def compare(persons: int, figures: Mapping[str, float]) -> list[Row]:
    """The generated `figures` (GenerationSummary.figures) against the targets for `persons`."""

    def count(key: str, label: str, at_scale: float, slack: float = 1.0) -> Row:
        return Row(key, label, figures[key], scaled(at_scale, persons), slack=slack)

    def share(key: str, label: str, target: float) -> Row:
        return Row(key, label, figures[key], target, is_share=True)

    rows = [
        Row("persons", "persons", figures["persons"], float(persons)),
        count("voters", "voters (eligible on the first election's day)", VOTERS_AT_SCALE),
        share("under_18_share", "under-18 share", UNDER_18_SHARE),
        share("abroad_share", "registered abroad (share)", ABROAD_SHARE),
        count("domestic_precincts", "precincts in Kazakhstan", DOMESTIC_PRECINCTS_AT_SCALE),
        count(
            "special_precincts",
            "  of which special",
            special_at_scale(),
            slack=len(SPECIAL_AT_SCALE),
        ),
    ]
    rows += [
        count(f"special.{kind}", f"    {kind.replace('_', ' ')}", at_scale)
        for kind, at_scale in SPECIAL_AT_SCALE.items()
    ]
    rows += [
        count("missions", "precincts at missions abroad", MISSIONS_AT_SCALE),
        count("mission_countries", "  in countries", MISSION_COUNTRIES_AT_SCALE),
        count("villages", "villages", VILLAGES_AT_SCALE),
        Row("towns", "towns and city districts", figures["towns"], None),
        share("rural_share", "people living in villages (share)", RURAL_SHARE),
    ]
    return rows


def _number(value: float, *, is_share: bool) -> str:
    return f"{value:.2%}" if is_share else f"{value:,.0f}"


def table(persons: int, rows: list[Row]) -> list[str]:
    """The comparison as lines of text, with a verdict at the end."""
    lines = [
        f"{'figure':<48} {'generated':>12} {'target':>12} {'deviation':>9}",
    ]
    for row in rows:
        target = "-" if row.target is None else _number(row.target, is_share=row.is_share)
        deviation = "" if row.deviation is None else f"{row.deviation:+.1%}"
        flag = "  OFF" if row.off else ""
        generated = _number(row.generated, is_share=row.is_share)
        lines.append(f"{row.label:<48} {generated:>12} {target:>12} {deviation:>9}{flag}")
    off = [row.label.strip() for row in rows if row.off]
    scale = (
        f"targets: the published figures at {SCALE_PERSONS:,} persons scaled to {persons:,} "
        f"(a count may also be off by its rounding: one, or one per kind it sums)"
    )
    if not off:
        lines.append(f"{scale}; every figure within {TOLERANCE:.0%}")
    elif persons >= CHECKED_FROM_PERSONS:
        lines.append(f"{scale}; OFF by more than {TOLERANCE:.0%}: {', '.join(off)}")
    else:
        lines.append(
            f"{scale}; off by more than {TOLERANCE:.0%}: {', '.join(off)} "
            f"(not checked below {CHECKED_FROM_PERSONS:,} persons)"
        )
    return lines


def failed(persons: int, rows: list[Row]) -> bool:
    """Whether `voterctl data generate` should exit non-zero for this comparison."""
    return persons >= CHECKED_FROM_PERSONS and any(row.off for row in rows)
