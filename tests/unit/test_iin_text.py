"""IIN-shaped text (service.domain.iin_text): every way people write an IIN is found, and the
document references operators really write are not."""

from __future__ import annotations

import sys
import unicodedata
import uuid

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from service.domain import iin_text
from service.domain.iin import complete_iin
from service.domain.iin_text import (
    digits_in,
    holds_iin_shaped,
    iin_shaped_spans,
    is_ignored_between_digits,
    redact_iin_shaped,
)

IIN = "780203400000"  # the finding's example: a valid IIN
REDACTED = "[REDACTED-IIN]"

# --- named forms: what the finding reproduced, and its relatives ----------------------------

HOSTILE = {
    "plain": "780203400000",
    "grouped by fours, after a label": "ИИН 7802 0340 0000",
    "date part dashed": "780203-400000",
    "full-width": "７８０２０３４０００００",
    "zero-width space inside": "7\u200b80203400000",
    "zero-width joiner and non-joiner": "7802\u200d0340\u200c0000",
    "word joiner and byte order mark": "7802\u20600340\ufeff0000",
    "bidi marks and isolates": "\u200f7802\u200e0340\u20660000\u2069",
    "soft hyphens": "7802\u00ad0340\u00ad0000",
    "no-break spaces": "7802\u00a00340\u00a00000",
    "thin and narrow no-break spaces": "7802\u20090340\u202f0000",
    "ideographic space": "7802\u30000340\u30000000",
    "tab and line break": "7802\t0340\n0000",
    "en dash, em dash, minus sign": "7802\u20130340\u20140000\u2212",
    "minus sign between groups": "780203\u2212400000",
    "spaced dashes": "7802 - 0340 - 0000",
    "Arabic-Indic": "٧٨٠٢٠٣٤٠٠٠٠٠",
    "Extended Arabic-Indic": "۷۸۰۲۰۳۴۰۰۰۰۰",
    "Devanagari": "७८०२०३४०००००",
    "mathematical bold": "𝟕𝟖𝟎𝟐𝟎𝟑𝟒𝟎𝟎𝟎𝟎𝟎",
    "superscripts": "⁷⁸⁰²⁰³⁴⁰⁰⁰⁰⁰",
    "circled": "⑦⑧⓪②⓪③④⓪⓪⓪⓪⓪",
    "circled numbers standing for two digits": "⑫⑬⑭⑮⑯⑰",
    "keycaps": "".join(f"{d}\ufe0f\u20e3" for d in IIN),
    "combining strike-through": "".join(f"{d}\u0336" for d in IIN),
    "Hangul filler between digits": "7802\u31640340\u31640000",
    "mixed families and separators": "７8٠2 ０\u200b3-4०0\u00a00\u20130𝟎",
    "thirteen digits: an IIN and one more": "7802034000001",
    "an IIN next to another number": "780203400000 15",
    "an IIN inside a longer number": "99780203400000123",
    "between letters": "iin780203400000kz",
}

LEGITIMATE = {
    "court case and date": "№ 2-1234/2026 от 15.01.2026",
    "Kazakh court case number": "Решение суда № 6294-23-00-2/1501 от 15.01.2026",
    "mobile phone, international": "+7 701 234 56 78",
    "mobile phone, dashed": "8-701-234-56-78",
    "landline with area code": "8 (727) 123-45-67",
    "date and time": "21.03.2027 10:30",
    "ISO date and time": "2027-03-21 10:30:00",
    "date range with dots": "01.01.2026-31.12.2026",
    "document code": "TEC-2027-17",
    "eleven digits": "12345678901",
    "resolution with clause": "Постановление № 123 от 15.01.2026, п. 3.2.1",
    "bank account (IBAN)": "KZ86125KZT5004100100",
    "list of case numbers": "2-1234/2026, 2-1235/2026, 2-1236/2026",
    "precinct and year": "участок 15-0009, 2027",
    "words only": "ИИН не указан, см. решение комиссии",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=list(HOSTILE))
def test_an_iin_written_any_usual_way_is_iin_shaped(text: str) -> None:
    assert holds_iin_shaped(text)


@pytest.mark.parametrize("text", LEGITIMATE.values(), ids=list(LEGITIMATE))
def test_a_legitimate_document_reference_is_not_iin_shaped(text: str) -> None:
    assert not holds_iin_shaped(text)
    assert redact_iin_shaped(text, REDACTED) == text


def test_the_finding_is_redacted_from_its_first_digit_to_its_last() -> None:
    text = 'document_ref: "ИИН 7802 0340 0000", approved'
    assert list(iin_shaped_spans(text)) == [(19, 33)]
    assert redact_iin_shaped(text, REDACTED) == f'document_ref: "ИИН {REDACTED}", approved'


def test_every_iin_in_a_text_is_redacted_and_the_rest_kept() -> None:
    text = "a 7802 0340 0000, b ７８０２０３４０００００; c 2-1/2027"
    assert redact_iin_shaped(text, "#") == "a #, b #; c 2-1/2027"


# The price of the choices the module documents, stated so that changing them is deliberate.


def test_dots_and_slashes_end_a_run_so_an_iin_grouped_by_them_is_not_found() -> None:
    assert not holds_iin_shaped("7802.0340.0000")
    assert not holds_iin_shaped("7802/0340/0000")


def test_numbers_joined_only_by_spaces_and_dashes_are_refused_once_they_hold_twelve_digits() -> (
    None
):
    assert holds_iin_shaped("2026-01-15 - 2026-02-15")
    assert holds_iin_shaped("+7 701 234 56 78 8 702")


def test_a_mistyped_iin_is_still_iin_shaped() -> None:
    assert holds_iin_shaped("780203400001")  # wrong check digit


# --- properties ------------------------------------------------------------------------------


def _digit_family() -> dict[int, list[str]]:
    family: dict[int, list[str]] = {d: [] for d in range(10)}
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        if character.isdigit():
            family[unicodedata.digit(character)].append(character)
    return family


DIGITS_WRITTEN = _digit_family()
SEPARATORS = st.one_of(
    st.characters(categories=["Zs", "Pd", "Cf", "Mn", "Me", "Cc", "Zl", "Zp"]),
    st.sampled_from("\u2212\u00ad\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u3164\u2800"),
)
valid_iins = (
    st.text(alphabet="0123456789", min_size=11, max_size=11)
    .map(complete_iin)
    .filter(lambda iin: iin is not None)
)


@st.composite
def iins_written_by_people(draw: st.DrawFn) -> str:
    """A valid IIN, each digit in any digit family, with any separators between them."""
    iin = draw(valid_iins)
    assert iin is not None
    written = [draw(st.sampled_from(DIGITS_WRITTEN[int(d)])) for d in iin]
    between = [draw(st.text(SEPARATORS, max_size=3)) for _ in range(len(written) - 1)]
    return "".join(d + s for d, s in zip(written, [*between, ""], strict=True))


@given(st.text(), iins_written_by_people(), st.text())
@example("ИИН ", "7802 0340 0000", "")
@example("", "7\u200b80203400000", ".")
def test_any_iin_written_with_any_digits_and_separators_is_found_in_any_text(
    before: str, iin: str, after: str
) -> None:
    text = before + iin + after
    # The one place the rule looks away: a canonical UUID is an identifier (module docstring).
    assume(iin_text.UUID.search(text) is None)
    first, last = len(before), len(before) + len(iin)
    assert any(start <= first and last <= end for start, end in iin_shaped_spans(text))
    assert iin not in redact_iin_shaped(text, REDACTED)


def _digits_of(text: str) -> int:
    return sum(sum(c.isdigit() for c in unicodedata.normalize("NFKC", ch)) for ch in text)


@given(st.text())
@example("№ 2-1234/2026 от 15.01.2026")
@example("+7 701 234 56 78")
def test_text_holding_fewer_than_twelve_digits_is_never_iin_shaped(text: str) -> None:
    if _digits_of(text) < 12:
        assert not holds_iin_shaped(text)
        assert redact_iin_shaped(text, REDACTED) == text


@given(st.text(st.one_of(st.sampled_from("0123456789 -./a٣７⑫"), SEPARATORS, st.characters())))
def test_redaction_leaves_no_iin_shaped_run(text: str) -> None:
    redacted = redact_iin_shaped(text, REDACTED)
    assert not holds_iin_shaped(redacted)
    assert (redacted == text) == (not holds_iin_shaped(text))


def _runs_one_character_at_a_time(text: str) -> list[tuple[int, int]]:
    """The rule read literally, as a reference for the regular expressions."""
    spans: list[tuple[int, int]] = []
    start = end = digits = 0
    for found in iin_text.UUID.finditer(text):
        text = text[: found.start()] + "u" * len(found.group()) + text[found.end() :]
    for index, character in enumerate([*text, "x"]):
        if weight := digits_in(character):
            if digits == 0:
                start = index
            digits += weight
            end = index + 1
        elif not (digits and is_ignored_between_digits(character)):
            if digits >= 12:
                spans.append((start, end))
            digits = 0
    return spans


@given(
    st.text(
        st.one_of(
            st.sampled_from("0123456789 -–\u200b\u00a0.x"),
            st.sampled_from("٠١٢٣٤٥٦٧٨٩०१२３４⑫⑬①𝟎𝟏\U00011066"),
            SEPARATORS,
            st.characters(),
        )
    )
)
@example("2026-12-05T10:30:00.123456Z")
@example("⑫⑬⑭⑮⑯⑰ ⑫")
@example("1 - 2 - 3 - 4 - 5 - 6 - 7 - 8 - 9 - 0 - 1 - 2")
def test_the_spans_are_those_of_the_rule_read_one_character_at_a_time(text: str) -> None:
    assert list(iin_shaped_spans(text)) == _runs_one_character_at_a_time(text)


# --- the character tables --------------------------------------------------------------------


def test_a_character_counts_as_the_digits_of_its_compatibility_form_across_all_of_unicode() -> None:
    scanned = {code for block in iin_text._SCANNED for code in block}
    for code in range(sys.maxunicode + 1):
        character = chr(code)
        expected = sum(c.isdigit() for c in unicodedata.normalize("NFKC", character))
        assert digits_in(character) == expected, hex(code)
        if code not in scanned:
            # The tables are built from the scanned planes only: nothing may lie outside.
            assert expected == 0, hex(code)
            assert not is_ignored_between_digits(character), hex(code)


@pytest.mark.parametrize(
    "character",
    [
        "\u00a0",
        "\u2009",
        "\u202f",
        "\u3000",
        "\t",
        "\n",
        "\u2028",
        "\u2013",
        "\u2014",
        "\u2212",
        "\u00ad",
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u200e",
        "\u200f",
        "\u2066",
        "\u20e3",
        "\ufe0f",
        "\U000e0041",
        "\u3164",
    ],
)
def test_separators_and_invisible_characters_are_ignored_between_digits(character: str) -> None:
    assert is_ignored_between_digits(character)
    assert holds_iin_shaped(character.join(IIN))


@pytest.mark.parametrize("character", [".", "/", ",", ":", "+", "_", "(", "№", "x", "О"])
def test_other_characters_end_a_run(character: str) -> None:
    assert not is_ignored_between_digits(character)
    assert not holds_iin_shaped(IIN[:6] + character + IIN[6:])


@pytest.mark.parametrize("text", ["a 780203400000 b", "а 7802 0340 0000 б"])
def test_the_replacement_is_written_as_given(text: str) -> None:
    assert redact_iin_shaped(text, r"[\1 \g<0>]")[2:-2] == r"[\1 \g<0>]"


# --- identifiers: canonical UUIDs -----------------------------------------------------------


@given(st.uuids())
def test_no_uuid_is_iin_shaped_in_either_case_or_inside_text(value: uuid.UUID) -> None:
    # Without the exemption about one random UUID in thirty would be (dashes join its groups).
    for written in (str(value), str(value).upper(), f"request {value}: done", f"/v1/x/{value}"):
        assert not holds_iin_shaped(written)
        assert redact_iin_shaped(written, REDACTED) == written


@pytest.mark.parametrize(
    "text",
    [
        "12345678-9012-4abc-8def-0123456789ab",
        "12345678-9012-3456-7890-123456789012",
        "abcdefab-abcd-4bcd-abcd-780203400000",
    ],
)
def test_a_uuid_whose_groups_join_into_twelve_digits_is_an_identifier(text: str) -> None:
    assert not holds_iin_shaped(text)
    assert redact_iin_shaped(text, REDACTED) == text


@pytest.mark.parametrize(
    "text",
    [
        "12345678-9012",  # the first two groups alone
        "12345678-9012-4abc-8def-0123456789abc",  # a last group of thirteen
        "x12345678-9012-4abc-8def-0123456789ab",  # no longer standing alone
        "12345678-9012-4abc-8def-0123456789ab0",
    ],
)
def test_text_that_is_not_a_canonical_uuid_is_read_as_usual(text: str) -> None:
    assert holds_iin_shaped(text)


def test_an_iin_next_to_a_uuid_is_still_found_and_only_it_is_redacted() -> None:
    record = "12345678-9012-4abc-8def-0123456789ab"
    text = f"ИИН 7802 0340 0000, запись {record}; {IIN}-{record}"

    assert holds_iin_shaped(text)
    assert redact_iin_shaped(text, REDACTED) == (
        f"ИИН {REDACTED}, запись {record}; {REDACTED}-{record}"
    )
