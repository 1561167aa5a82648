"""Settings in one place, read through :func:`get_settings`, never at import time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "citytrace"


class Settings(BaseSettings):
    """Service settings from ``CITYTRACE_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CITYTRACE_", extra="ignore")

    environment: str = "development"
    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None
    city: str = "seoul"
    timezone: str = "Asia/Seoul"
    # Disclosure window: from this many days before symptom onset (or specimen collection).
    window_days_before_onset: int = 2
    # Readers stream, but keep the fixes they read (about 0.6 bytes per byte of a JSON export):
    # a larger file is refused before reading, with a suggestion to split it by period.
    max_evidence_mb: int = 4096

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'citytrace.db'}"

    @property
    def evidence_dir(self) -> Path:
        """Where bulk location data of cases is kept, as Parquet."""
        return self.home / "evidence"


@lru_cache
def get_settings() -> Settings:
    return Settings()
