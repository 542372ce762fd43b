"""IIN-shaped text: where free text, a log line or a URL value holds what could be an IIN.

Free text is stored, shown to other operators and written into the append-only audit log,
which never holds an IIN (SPEC §8, §12); log lines are redacted with the same rule. People
write an IIN grouped ("7802 0340 0000", "780203-400000"), in other digit families
("７８０２...", "٧٨٠٢..."), or with invisible characters between the digits, so the rule reads
text the way a person does:

- A character counts as the digits of its compatibility form (NFKC): every Unicode decimal
  digit (Arabic-Indic, Devanagari, full-width, mathematical bold, ...) is its digit, a
  superscript or circled digit too, and a character standing for several ("⑫", "⅒") counts
  that many.
- Between two digits these are ignored: whitespace of every kind (spaces, no-break and thin
  spaces, tabs, line breaks), dashes and minus signs, format characters (zero-width space,
  joiners, word joiner, byte order mark, bidirectional marks, soft hyphen), combining marks
  (variation selectors, keycaps, strike-through overlays), control characters, and the
  blank letters that render as nothing (Hangul fillers, the blank Braille pattern).
- Text is IIN-shaped where such a run holds twelve digits or more. A longer run is refused
  whole: it may be an IIN with a digit or a number typed next to it, and which twelve of its
  digits are the IIN cannot be told.

Everything else ends a run: letters, "№", "+", and notably "." "/" "," ":", the separators of
dates, times, lists and court case numbers ("№ 2-1234/2026 от 15.01.2026", "6294-23-00-2/1501",
"+7 701 234 56 78"), so references like these stay acceptable. The price of that choice: an
IIN grouped with dots or slashes ("7802.0340.0000") is not found, and 12 digits spread over
numbers joined only by spaces or dashes ("2026-01-15 - 2026-02-15") are refused. A check
digit is deliberately not required: a mistyped IIN is still someone's.

A canonical UUID (8-4-4-4-12 hexadecimal digits, standing alone) is an identifier, not a
number a person wrote, and is read as letters: the service names its records and requests by
random UUIDs, and about one in thirty of them has dashes joining twelve decimal digits
("12345678-9012-4..."). The price: an IIN deliberately dressed as part of a UUID is not found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from service.domain.iin import IIN_LENGTH

# Code points outside these planes hold no digit, separator or invisible character (a unit
# test scans the whole range to keep this true); scanning only them keeps imports fast.
_SCANNED = (range(0x0000, 0x20000), range(0xE0000, 0xE1000))
_IGNORED_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pd", "Cf", "Cc", "Mn", "Me"})
# Minus and hyphen look-alikes outside the dash category, and letters that render blank.
_IGNORED_EXTRA = frozenset("\u2212\u207b\u208b\u02d7\u2796\u2043\u115f\u1160\u3164\uffa0\u2800")
_COMPATIBILITY_CATEGORIES = frozenset({"No", "So"})


def digits_in(character: str) -> int:
    """How many digits a character stands for: those of its compatibility form (NFKC)."""
    if character.isdigit():
        return 1
    if unicodedata.category(character) not in _COMPATIBILITY_CATEGORIES:
        return 0
    return sum(c.isdigit() for c in unicodedata.normalize("NFKC", character))


def is_ignored_between_digits(character: str) -> bool:
    """A separator or invisible character that does not end a run of digits."""
    return (
        character.isspace()
        or character in _IGNORED_EXTRA
        or unicodedata.category(character) in _IGNORED_CATEGORIES
    )


def _character_class(characters: list[str]) -> str:
    """A regular expression class of ``characters``, as ranges of consecutive code points."""
    ranges: list[list[int]] = []
    for code in sorted(map(ord, characters)):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in ranges
    )


def _tables() -> tuple[dict[str, int], list[str]]:
    weights: dict[str, int] = {}
    ignored: list[str] = []
    for block in _SCANNED:
        for code in block:
            character = chr(code)
            if weight := digits_in(character):
                weights[character] = weight
            elif is_ignored_between_digits(character):
                ignored.append(character)
    return weights, ignored


_WEIGHTS, _IGNORED = _tables()


def _runs(*, below: int, at_least: int) -> re.Pattern[str]:
    """Runs of ``at_least`` digit characters or more, of characters below code point ``below``.

    The look-ahead skips at once the many shorter runs (dates, times, ids) that could never
    be long enough; the possessive repeat does not try a run again shorter.
    """
    digit = _character_class([c for c in _WEIGHTS if ord(c) < below])
    ignored = _character_class([c for c in _IGNORED if ord(c) < below])
    return re.compile(
        rf"[{digit}](?=[{digit}{ignored}]{{{at_least - 1}}})"
        rf"(?:[{ignored}]*+[{digit}]){{{at_least - 1},}}"
    )


# The regular expression engine looks a character up in a table among the first 65,536
# code points but walks a list of ranges beyond them, and a character standing for several
# digits ("⑫") lets fewer characters hold twelve. So text is searched with the smallest
# classes that cover it: ASCII text (nearly every log value) and the usual Unicode text
# with runs of twelve characters, the rest with runs of fewer characters, then counted.
_ASCII_RUNS = _runs(below=0x80, at_least=IIN_LENGTH)
_BMP_RUNS = _runs(below=0x10000, at_least=IIN_LENGTH)
_SHORT_RUNS = _runs(below=0x110000, at_least=-(-IIN_LENGTH // max(_WEIGHTS.values())))
_UNCOMMON = re.compile(
    f"[{_character_class([c for c, n in _WEIGHTS.items() if n > 1])}\U00010000-\U0010ffff]"
)


def _runs_for(text: str) -> re.Pattern[str]:
    if text.isascii():
        return _ASCII_RUNS
    return _BMP_RUNS if _UNCOMMON.search(text) is None else _SHORT_RUNS


def _is_iin_shaped(run: re.Match[str]) -> bool:
    return sum(_WEIGHTS.get(c, 0) for c in run.group()) >= IIN_LENGTH


_HEX = "[0-9A-Fa-f]"
UUID = re.compile(rf"(?<![0-9A-Za-z]){_HEX}{{8}}(?:-{_HEX}{{4}}){{3}}-{_HEX}{{12}}(?![0-9A-Za-z])")
_SHORTEST_UUID = 36


def _uuids_as_letters(text: str) -> str:
    """``text`` with each canonical UUID written as letters, every other character in place."""
    if len(text) < _SHORTEST_UUID or "-" not in text or UUID.search(text) is None:
        return text
    return UUID.sub(lambda found: "u" * len(found.group()), text)


def _spans_in(read: str) -> Iterator[tuple[int, int]]:
    # ``read``: the text with its UUIDs written as letters, every character in place.
    return (run.span() for run in _runs_for(read).finditer(read) if _is_iin_shaped(run))


def iin_shaped_spans(text: str) -> Iterator[tuple[int, int]]:
    """The (start, end) of each IIN-shaped run in ``text``, in order, first digit to last."""
    return _spans_in(_uuids_as_letters(text))


def holds_iin_shaped(text: str) -> bool:
    return next(iin_shaped_spans(text), None) is not None


def redact_iin_shaped(text: str, replacement: str) -> str:
    """``text`` with each IIN-shaped run replaced (log lines: on every request's hot path)."""
    read = _uuids_as_letters(text)
    if read is text and text.isascii():
        # Every run found in ASCII text holds twelve digits: nothing to count.
        return _ASCII_RUNS.sub(replacement.replace("\\", "\\\\"), text)
    pieces: list[str] = []
    written = 0
    for start, end in _spans_in(read):
        pieces += (text[written:start], replacement)
        written = end
    pieces.append(text[written:])
    return "".join(pieces)
