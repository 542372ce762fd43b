"""Absentee certificates (SPEC §15 way 4): where a certificate may be presented.

A certificate takes the voter off their home precinct's list. They may be added once, on
presenting it, to the list of any precinct of the election's territory outside the home
precinct's locality.

A precinct's locality is read from its KATO code (SPEC §4: a precinct's segments lie inside
its own locality's code): the full nine digits name a town or a village, except in the
three cities of republican significance (Astana 71, Almaty 75, Shymkent 79), whose codes
name a district of the city: there the whole city is one locality, its first two digits. A
foreign precinct's locality is its country and city.
"""

from __future__ import annotations

from enum import StrEnum

from service.domain.model import ActiveListEntry, ListEntryKind, Precinct, PrecinctKind

# KATO region codes of the cities of republican significance (one locality each).
CITIES_OF_REPUBLICAN_SIGNIFICANCE = ("71", "75", "79")
# Serials run 00001..99999 within an election.
SERIAL_DIGITS = 5
LAST_SERIAL = 10**SERIAL_DIGITS - 1


def locality_of(precinct: Precinct) -> str:
    """The locality a precinct lies in, as a comparable key."""
    if precinct.kind is PrecinctKind.FOREIGN:
        return f"abroad:{precinct.country}:{precinct.city or ''}"
    region = precinct.kato[:2]
    if region in CITIES_OF_REPUBLICAN_SIGNIFICANCE:
        return f"kato:{region}"
    return f"kato:{precinct.kato}"


def same_locality(one: Precinct, other: Precinct) -> bool:
    return locality_of(one) == locality_of(other)


def serial_text(serial: int) -> str:
    """A serial as printed: five digits, leading zeros kept."""
    if not 1 <= serial <= LAST_SERIAL:
        raise ValueError(f"a serial lies in 1..{LAST_SERIAL}")
    return f"{serial:0{SERIAL_DIGITS}d}"


class CertificateAtPrecinct(StrEnum):
    """What a certificate holder's certificate means at one precinct (Service A)."""

    # Used here: the voter is on this precinct's list.
    LISTED = "LISTED"
    # Not used yet, and this precinct may take it: the use is to be recorded.
    USABLE = "USABLE"
    # The home precinct, whose commission issued it: the voter left its list.
    ABSENTEE_CERTIFICATE_ISSUED = "ABSENTEE_CERTIFICATE_ISSUED"
    # Used at another precinct already.
    ABSENTEE_CERTIFICATE_USED = "ABSENTEE_CERTIFICATE_USED"
    # Inside the home precinct's locality.
    ABSENTEE_SAME_LOCALITY = "ABSENTEE_SAME_LOCALITY"

    @property
    def refusal(self) -> str | None:
        """The Service A reason code, None when the voter is (or is about to be) listed."""
        if self in (CertificateAtPrecinct.LISTED, CertificateAtPrecinct.USABLE):
            return None
        return self.value


def certificate_at(
    certificate: ActiveListEntry, *, checked: Precinct, home: Precinct | None
) -> CertificateAtPrecinct:
    """The certificate at the precinct ``checked``; ``home`` is the issuing precinct (None
    if the directory no longer holds it: then only its id is compared).

    Whether the election is held at ``checked`` at all (the territory) is asked before.
    """
    if certificate.kind is not ListEntryKind.ABSENTEE_CERTIFICATE:
        raise ValueError(f"{certificate.kind.value} is not an absentee certificate")
    if checked.id == certificate.precinct_id:
        return CertificateAtPrecinct.ABSENTEE_CERTIFICATE_ISSUED
    if certificate.used_at is not None:
        if certificate.used_at == checked.id:
            return CertificateAtPrecinct.LISTED
        return CertificateAtPrecinct.ABSENTEE_CERTIFICATE_USED
    if home is not None and same_locality(home, checked):
        return CertificateAtPrecinct.ABSENTEE_SAME_LOCALITY
    return CertificateAtPrecinct.USABLE
