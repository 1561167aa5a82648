"""Message templates of result notifications, in Korean and English.

Each template is a subject (for e-mail) and a text (SMS or e-mail body) with ``{placeholders}``.
Messages name the clinic, the booking reference and the outcome, never the person: the
recipient is the person, and the less a lost phone shows, the better.
"""

from __future__ import annotations

from citytrace.errors import InputError

LANGUAGES = ("ko", "en")

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "result.negative": {
        "ko": (
            "코로나19 검사 결과 안내",
            "[{clinic}] 예약번호 {reference}의 코로나19 검사 결과는 음성입니다. "
            "증상이 계속되면 다시 검사를 받으세요.",
        ),
        "en": (
            "Your COVID-19 test result",
            "[{clinic}] The COVID-19 test of booking {reference} is negative. "
            "If symptoms go on, get tested again.",
        ),
    },
    "result.positive": {
        "ko": (
            "코로나19 검사 결과 안내",
            "[{clinic}] 예약번호 {reference}의 코로나19 검사 결과는 양성입니다. "
            "외출하지 말고 집에서 기다려 주세요. 보건소에서 곧 연락드립니다.",
        ),
        "en": (
            "Your COVID-19 test result",
            "[{clinic}] The COVID-19 test of booking {reference} is positive. "
            "Please stay at home: the health office will call you shortly.",
        ),
    },
    "result.inconclusive": {
        "ko": (
            "코로나19 검사 결과 안내",
            "[{clinic}] 예약번호 {reference}의 코로나19 검사 결과가 확정되지 않았습니다. "
            "다시 검사를 받아 주세요. 그때까지 외출을 삼가 주세요.",
        ),
        "en": (
            "Your COVID-19 test result",
            "[{clinic}] The COVID-19 test of booking {reference} was inconclusive. "
            "Please get tested again, and stay at home until then.",
        ),
    },
}


def render(template: str, language: str, **values: str) -> tuple[str, str]:
    """The subject and text of ``template`` in ``language`` (Korean when not known), filled.

    Raises
    ------
    InputError
        An unknown template.
    """
    try:
        by_language = TEMPLATES[template]
    except KeyError:
        raise InputError(f"no message template {template!r}") from None
    subject, text = by_language.get(language) or by_language["ko"]
    return subject.format(**values), text.format(**values)
