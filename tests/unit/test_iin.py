import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from service.domain.iin import (
    IinErrorCode,
    InvalidIin,
    check_digit,
    complete_iin,
    has_legal_entity_shape,
    is_legal_entity_number,
    parse_iin,
)

# Any digit 5: since 2013 a person's IIN may have 4, 5 or 6 there too (SPEC §15).
prefixes = st.text(alphabet="0123456789", min_size=11, max_size=11)


@pytest.mark.parametrize("iin", ["900101300126", "791028302728", "061211600012", "900101300811"])
def test_published_valid_vectors_are_accepted(iin: str) -> None:
    assert parse_iin(iin) == iin


def test_vectors_that_need_the_second_weights_use_them() -> None:
    first = sum(int(d) * w for d, w in zip("06121160001", range(1, 12), strict=True)) % 11
    assert first == 10
    assert check_digit("06121160001") == 2


def test_wrong_check_digit_is_a_checksum_error() -> None:
    with pytest.raises(InvalidIin) as caught:
        parse_iin("900101300127")
    assert caught.value.code is IinErrorCode.IIN_CHECKSUM


@pytest.mark.parametrize("last", "0123456789")
def test_prefix_never_issued_is_unusable_for_any_last_digit(last: str) -> None:
    with pytest.raises(InvalidIin) as caught:
        parse_iin("90010130080" + last)
    assert caught.value.code is IinErrorCode.IIN_UNUSABLE


def test_a_bin_shaped_number_with_a_good_check_digit_is_a_well_formed_number() -> None:
    # Whether it is a person's is the registry's to say, not the digits'.
    assert parse_iin("040540001230") == "040540001230"
    assert has_legal_entity_shape("040540001230")


@pytest.mark.parametrize("marker", "456")
def test_digit_5_marks_a_bin_only_for_a_number_the_registry_does_not_know(marker: str) -> None:
    iin = complete_iin("8501" + marker + "030011")
    assert iin is not None
    assert is_legal_entity_number(iin, known_as_person=False)
    assert not is_legal_entity_number(iin, known_as_person=True)


@given(prefixes.map(complete_iin).filter(lambda v: v is not None), st.booleans())
def test_a_person_the_registry_holds_is_never_a_bin(iin: str, known: bool) -> None:
    assert parse_iin(iin) == iin
    if known:
        assert not is_legal_entity_number(iin, known_as_person=True)
    else:
        assert is_legal_entity_number(iin, known_as_person=False) == (iin[4] in "456")


def test_surrounding_spaces_are_stripped() -> None:
    assert parse_iin("  900101300126 ") == "900101300126"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "90010130012",
        "9001013001260",
        "90010130012a",
        "9001-1300126",
        "９００１０１３００１２６",
        "\t900101300126",
        "900101300126\n",
        "٩٠٠١٠١٣٠٠١٢٦",
    ],
)
def test_anything_but_twelve_ascii_digits_is_a_format_error(raw: str) -> None:
    with pytest.raises(InvalidIin) as caught:
        parse_iin(raw)
    assert caught.value.code is IinErrorCode.IIN_FORMAT


def test_error_text_never_contains_the_input() -> None:
    with pytest.raises(InvalidIin) as caught:
        parse_iin("900101300127")
    assert "900101300127" not in str(caught.value)


@given(prefixes)
@example("90010130080")
def test_every_completed_prefix_parses_back(prefix: str) -> None:
    iin = complete_iin(prefix)
    if iin is None:
        with pytest.raises(InvalidIin):
            parse_iin(prefix + "0")
    else:
        assert parse_iin(iin) == iin


@given(prefixes, st.integers(min_value=0, max_value=9))
def test_exactly_one_last_digit_is_accepted(prefix: str, last: int) -> None:
    expected = check_digit(prefix)
    candidate = prefix + str(last)
    if expected == last:
        assert parse_iin(candidate) == candidate
    else:
        with pytest.raises(InvalidIin):
            parse_iin(candidate)


def _first_sum(prefix: str) -> int:
    return sum(int(d) * w for d, w in zip(prefix, range(1, 12), strict=True)) % 11


@given(
    prefixes.map(complete_iin).filter(lambda v: v is not None),
    st.integers(min_value=0, max_value=9),
    st.integers(min_value=1, max_value=9),
)
def test_changing_one_of_the_first_ten_digits_is_detected(
    iin: str, position: int, delta: int
) -> None:
    # Weights 1..10 are nonzero mod 11, so the first sum always moves; the 11th weight is
    # 11 = 0 mod 11, which is why position 10 is outside this property (see the example).
    changed = iin[:position] + str((int(iin[position]) + delta) % 10) + iin[position + 1 :]
    assume(position < 10)
    assume(_first_sum(iin[:11]) != 10 and _first_sum(changed[:11]) != 10)
    with pytest.raises(InvalidIin):
        parse_iin(changed)


def test_eleventh_weight_is_zero_mod_eleven_so_that_digit_is_not_protected() -> None:
    # Found by hypothesis: the algorithm itself cannot see a change in digit 11.
    assert parse_iin("000000000000") == "000000000000"
    assert parse_iin("000000000010") == "000000000010"
