import pytest

from service.domain.access_log import Purpose
from service.domain.day_registration import DayRegistrationRefusal
from service.domain.decision import NO_PRECINCT, NOT_IN_PRECINCT
from service.domain.model import NextStepCode, ReasonCode
from service.domain.overrides import OverrideRefusal
from service.errors import ErrorCode
from service.messages import Language, known_codes, message, negotiate

EVERY_CODE = sorted(
    {c.value for c in ErrorCode}
    | {c.value for c in ReasonCode}
    | {c.value for c in NextStepCode}
    | {c.value for c in DayRegistrationRefusal}
    | {c.value for c in OverrideRefusal}
    | {c.value for c in Purpose}
    | {NO_PRECINCT, NOT_IN_PRECINCT}
)


@pytest.mark.parametrize("code", EVERY_CODE)
def test_every_code_a_caller_can_see_has_a_text_in_kazakh_russian_and_english(code: str) -> None:
    assert code in known_codes()
    texts = {message(code, language) for language in Language}
    assert len(texts) == 3
    assert code not in texts


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, Language.KK),
        ("", Language.KK),
        ("ru", Language.RU),
        ("en-GB,en;q=0.9", Language.EN),
        ("de, ru;q=0.3, en;q=0.7", Language.EN),
        ("kk-KZ;q=0.1, ru;q=0.2", Language.RU),
        ("en;q=0", Language.KK),
        ("*", Language.KK),
        ("ru;q=abc, en", Language.EN),
    ],
)
def test_language_is_negotiated_by_quality_with_kazakh_by_default(
    header: str | None, language: Language
) -> None:
    assert negotiate(header) is language
