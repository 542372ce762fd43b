"""Individual identification numbers (SPEC §2).

The digits carry no personal data since 2013, so nothing here derives age, sex or century,
nor refuses a number for its shape alone: digit 5 in {4, 5, 6} is a BIN's mark only for a
number the registry does not know as a person (``is_legal_entity_number``, SPEC §15).
"""

from __future__ import annotations

from enum import StrEnum

IIN_LENGTH = 12
_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_LEGAL_ENTITY_MARKERS = frozenset("456")
_UNUSABLE = 10


class IinErrorCode(StrEnum):
    IIN_FORMAT = "IIN_FORMAT"
    IIN_CHECKSUM = "IIN_CHECKSUM"
    IIN_UNUSABLE = "IIN_UNUSABLE"


class InvalidIin(ValueError):
    """The input is not the IIN of an individual. Carries a stable code, never the input."""

    def __init__(self, code: IinErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


def check_digit(prefix: str) -> int | None:
    """The check digit for an 11-digit prefix, or None if the prefix is never issued."""
    digits = [int(ch) for ch in prefix]
    first = sum(d * w for d, w in zip(digits, _FIRST_WEIGHTS, strict=True)) % 11
    if first != _UNUSABLE:
        return first
    second = sum(d * w for d, w in zip(digits, _SECOND_WEIGHTS, strict=True)) % 11
    return None if second == _UNUSABLE else second


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def parse_iin(raw: str) -> str:
    """Return the normalised IIN or raise InvalidIin with the first failing check."""
    candidate = raw.strip(" ")
    if len(candidate) != IIN_LENGTH or not _is_ascii_digits(candidate):
        raise InvalidIin(IinErrorCode.IIN_FORMAT)
    expected = check_digit(candidate[:11])
    if expected is None:
        raise InvalidIin(IinErrorCode.IIN_UNUSABLE)
    if int(candidate[11]) != expected:
        raise InvalidIin(IinErrorCode.IIN_CHECKSUM)
    return candidate


def has_legal_entity_shape(iin: str) -> bool:
    """Digit 5 is 4, 5 or 6: the shape of a business identification number (BIN)."""
    return iin[4] in _LEGAL_ENTITY_MARKERS


def is_legal_entity_number(iin: str, *, known_as_person: bool) -> bool:
    """A BIN, not an individual's IIN: BIN-shaped and unknown to the registry as a person.

    Since 2013 a person's number may have any digit 5, so a person the registry holds is
    never refused for it.
    """
    return not known_as_person and has_legal_entity_shape(iin)


def complete_iin(prefix: str) -> str | None:
    """Append the check digit to an 11-digit prefix; None when the prefix is never issued."""
    digit = check_digit(prefix)
    return None if digit is None else prefix + str(digit)
