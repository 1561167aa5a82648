"""Words of the public disclosure pages in Korean and English."""

MESSAGES: dict[str, dict[str, str]] = {"ko": {}, "en": {}}
