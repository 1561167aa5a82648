"""Words of the screening pages in Korean and English; merged into the workspace's catalogue."""

MESSAGES: dict[str, dict[str, str]] = {"ko": {}, "en": {}}
