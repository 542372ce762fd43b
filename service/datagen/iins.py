"""Unique, valid IINs shaped like real ones: birth date, century and sex digit, serial.

The check digit of SPEC §2 is a weighted sum over a seven-digit head (birth date, century
and sex) and a four-digit serial. Which serials are usable after a head, and their check
digits, depend on the head only through its two weighted sums mod 11: 121 classes. An
issuer tabulates its serials' endings (serial and check digit) once per class, so issuing
an IIN is one step of an iterator; a 12-million-person build issues one IIN per person.
The tests check every issued IIN against `service.domain.iin.parse_iin`.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Iterable, Iterator

_FIRST_WEIGHTS = tuple(range(1, 12))
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
_HEAD_LENGTH = 7
_CHECK_MODULUS = 11
_UNUSABLE = 10
SERIALS_PER_HEAD = 10_000


def _weighted(digits: Iterable[int], weights: Iterable[int]) -> int:
    return sum(map(operator.mul, digits, weights))


def _tail_class(serial: int) -> int:
    digits = tuple(map(int, f"{serial:04d}"))
    first_sum = _weighted(digits, _FIRST_WEIGHTS[_HEAD_LENGTH:]) % _CHECK_MODULUS
    second_sum = _weighted(digits, _SECOND_WEIGHTS[_HEAD_LENGTH:]) % _CHECK_MODULUS
    return first_sum * _CHECK_MODULUS + second_sum


# A serial's share of both sums mod 11, as a class like a head's.
_TAIL_CLASSES = tuple(_tail_class(serial) for serial in range(SERIALS_PER_HEAD))
_SERIAL_TEXT = tuple(b"%04d" % serial for serial in range(SERIALS_PER_HEAD))
_CHECK_TEXT = tuple(b"%d" % check for check in range(_CHECK_MODULUS))


@functools.cache
def _head(key: int) -> tuple[bytes, int]:
    """The head of `key` (2 * birth ordinal + female) and its check class.

    YYMMDD, then the century/sex digit: 3 and 4 for 1900s men and women, 5 and 6 after.
    The fifth digit is a tens-of-days digit, 0-3, so a head never has a BIN's shape.
    Shared by every issuer in the process: about 73,000 birth dates and sexes in all.
    """
    ordinal, female = divmod(key, 2)
    born = dt.date.fromordinal(ordinal)
    if not 1800 <= born.year <= 2099:
        raise ValueError("IINs encode births from 1800 to 2099 only")
    year = born.year % 100
    century_digit = 2 * ((born.year - 1800) // 100) + 1 + female
    digits = (*divmod(year, 10), *divmod(born.month, 10), *divmod(born.day, 10), century_digit)
    first_sum = _weighted(digits, _FIRST_WEIGHTS) % _CHECK_MODULUS
    second_sum = _weighted(digits, _SECOND_WEIGHTS) % _CHECK_MODULUS
    text = b"%02d%02d%02d%d" % (year, born.month, born.day, century_digit)
    return text, first_sum * _CHECK_MODULUS + second_sum


class IinIssuer:
    """Hands out each IIN once, skipping serials whose prefix is never issued.

    Issuers given disjoint `serials` never hand out the same IIN, so each can work alone.
    Each IIN comes after `prefix`, which saves the writer a concatenation per line.
    """

    def __init__(self, serials: range = range(SERIALS_PER_HEAD), *, prefix: bytes = b"") -> None:
        self._serials = serials
        self._prefix = prefix
        self._endings: dict[int, tuple[bytes, ...]] = {}
        self._issuing: dict[int, Iterator[bytes]] = {}

    def issue(self, birth_ordinal: int, female: bool) -> bytes:
        """`prefix` and the next unused IIN for a birth date (`date.toordinal()`) and sex."""
        key = 2 * birth_ordinal + female
        try:
            return next(self._issuing[key])
        except KeyError:
            head, check_class = _head(key)
            self._issuing[key] = map((self._prefix + head).__add__, self._endings_of(check_class))
            return self.issue(birth_ordinal, female)
        except StopIteration:
            raise OverflowError("no serials left for one birth date and sex") from None

    def _endings_of(self, check_class: int) -> tuple[bytes, ...]:
        """Serial and check digit of each usable serial after a head of this class."""
        endings = self._endings.get(check_class)
        if endings is None:
            checks = _checks(check_class)
            endings = self._endings[check_class] = tuple(
                _SERIAL_TEXT[serial] + _CHECK_TEXT[check]
                for serial in self._serials
                if (check := checks[_TAIL_CLASSES[serial]]) != _UNUSABLE
            )
        return endings


@functools.cache
def _checks(head_class: int) -> tuple[int, ...]:
    """The check digit after a head of this class, by tail class; 10 where unusable."""
    head_first, head_second = divmod(head_class, _CHECK_MODULUS)
    checks = []
    for tail_class in range(_CHECK_MODULUS**2):
        tail_first, tail_second = divmod(tail_class, _CHECK_MODULUS)
        check = (head_first + tail_first) % _CHECK_MODULUS
        if check == _UNUSABLE:
            check = (head_second + tail_second) % _CHECK_MODULUS
        checks.append(check)
    return tuple(checks)
