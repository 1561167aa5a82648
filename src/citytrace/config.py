"""Settings in one place, read through :func:`get_settings`, never at import time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
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
    # Encryption at rest (citytrace.security): "id1:base64key,id2:base64key", the first current,
    # and the HMAC key of the keyed hashes of phone and resident numbers. Both are required
    # outside development; in development they are made at first start in HOME/keys.json.
    keys: SecretStr | None = None
    hash_key: SecretStr | None = None
    # Retention (citytrace.retention): days after which each kind of record is purged.
    retention_evidence_days: int = Field(default=30, ge=0)  # after the case is closed
    retention_checkin_days: int = Field(default=28, ge=0)  # after the check-in
    retention_city_record_days: int = Field(default=28, ge=0)  # after the day of the record
    retention_contact_days: int = Field(default=14, ge=0)  # after the follow-up ends
    retention_published_place_days: int = Field(default=14, ge=0)  # after the last contact
    # Keep an index of the city's records in memory (about 41 bytes a record, per service
    # process), one day at a time as days are stored, for searches in milliseconds; off: each
    # search reads the record store with DuckDB (a second or two at 70 million records).
    records_index: bool = True
    # Minutes between purges inside the service; 0 disables the scheduler.
    retention_interval_min: float = Field(default=60.0, ge=0)
    retention_batch_size: int = Field(default=200, ge=1)
    # Disclosure (citytrace.disclosure): exposure windows are widened to this step (floor the
    # start, ceil the end, in the city's zone); an entry is blocked below ``min_k`` people that
    # the city's records place around it in its window (within ``k_place_m`` of a named business,
    # ``k_address_m`` of an address); ``link_points`` entries of one case alone form a route that
    # singles a person out (de Montjoye et al. 2013: 4 points single out 95%).
    disclosure_time_step_min: int = Field(default=30, ge=1, le=1440)
    disclosure_min_k: int = Field(default=5, ge=1)
    disclosure_k_place_m: float = Field(default=25.0, gt=0, le=1000)
    disclosure_k_address_m: float = Field(default=100.0, gt=0, le=1000)
    disclosure_link_points: int = Field(default=4, ge=2)
    # Visits of several cases within this distance (and overlapping or adjacent windows) merge.
    disclosure_merge_distance_m: float = Field(default=30.0, ge=0, le=1000)
    # No disinfection note for exposures that ended more than this many days ago.
    disclosure_disinfection_days: int = Field(default=7, ge=0)
    # Minutes between the scheduler's sweeps (suppression of places whose contacts are all
    # identified); expiries run at their exact moment. 0 disables the scheduler.
    disclosure_interval_min: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _keys_outside_development(self) -> Settings:
        from citytrace.security.crypto import KeyConfigError, parse_hash_keys, parse_keys

        if (self.keys is None) != (self.hash_key is None):
            raise KeyConfigError(
                "CITYTRACE_KEYS and CITYTRACE_HASH_KEY must be set together "
                "(`citytrace keys generate` makes both)"
            )
        if self.keys is None:
            if self.environment != "development":
                raise KeyConfigError(
                    f"CITYTRACE_KEYS and CITYTRACE_HASH_KEY must be set when "
                    f"CITYTRACE_ENVIRONMENT is {self.environment!r} (only development makes its "
                    "own keys); `citytrace keys generate` prints new ones"
                )
            return self
        assert self.hash_key is not None
        parse_keys(self.keys.get_secret_value())
        parse_hash_keys(self.hash_key.get_secret_value())
        return self

    # Accounts and hardening. Outside development the session cookie must be Secure.
    cookie_secure: bool = False
    # Behind a reverse proxy that terminates TLS: trust its X-Forwarded-Proto and -For.
    behind_proxy: bool = False
    session_idle_min: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    api_token_days: int = Field(default=90, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_min: int = Field(default=15, ge=1)
    lockout_min: int = Field(default=15, ge=1)
    # Token buckets: this many requests a minute, in bursts of as many.
    login_rate_per_client_per_min: int = Field(default=10, ge=1)
    login_rate_per_username_per_min: int = Field(default=5, ge=1)
    public_rate_per_client_per_min: int = Field(default=60, ge=1)
    # Requests handled at once (citytrace.api.admission); the others wait their turn without
    # holding a worker thread. None: all worker threads but 8 (32); a larger value is lowered
    # to that, so that a request holding a database lock always finds a thread to finish.
    max_concurrent_requests: int | None = Field(default=None, ge=1)
    # Shared rate-limit buckets for several service processes (redis://host:6379/0); unset: each
    # process limits on its own.
    redis_url: str | None = None
    # argon2id cost (RFC 9106's second recommended option); raising it rehashes on next login.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    argon2_parallelism: int = Field(default=4, ge=1)
    # Where map tiles come from, allowed as images by the Content-Security-Policy.
    map_tile_host: str = "https://tile.openstreetmap.org"
    # The base map of the workspace's maps, e.g. "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    # (its host must be map_tile_host). None: district outlines only, and no outside request.
    map_tile_url: str | None = None
    # Screening (citytrace.screening): the channels result notifications go out on ("file",
    # "console" or a registered SMS/e-mail gateway, comma-separated), the file channel's folder
    # (HOME/outbox by default), attempts before a message is given up, and the days a booking
    # with its result is kept after it closed (cancelled, no-show, or result notified).
    screening_notify_channels: str = "file"
    screening_outbox_dir: Path | None = None
    screening_outbox_max_attempts: int = Field(default=5, ge=1, le=50)
    # Whose public holidays take a clinic's holiday hours (an ISO 3166 country code of the
    # `holidays` package; empty: Sundays only).
    holidays: str | None = "KR"
    # Minutes between the service's sends of the outbox; 0: none (a system timer runs
    # `citytrace screening outbox send` instead).
    screening_outbox_interval_min: float = Field(default=1.0, ge=0)
    retention_screening_days: int = Field(default=30, ge=0)

    @field_validator("holidays", mode="before")
    @classmethod
    def _known_country(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        import holidays

        code = str(value).strip().upper()
        if code not in holidays.list_supported_countries():
            raise ValueError(f"{value!r} is not a country whose public holidays are known")
        return code

    @model_validator(mode="after")
    def _secure_outside_development(self) -> Settings:
        if self.environment != "development" and not self.cookie_secure:
            raise ValueError(
                f"environment {self.environment!r} needs CITYTRACE_COOKIE_SECURE=true "
                "(sessions only over HTTPS); only development may run without it"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'citytrace.db'}"

    @property
    def records_dir(self) -> Path:
        """The city's records for the exposure search, a Parquet dataset by day."""
        return self.home / "records"

    @property
    def evidence_dir(self) -> Path:
        """Where bulk location data of cases is kept, as Parquet."""
        return self.home / "evidence"


@lru_cache
def get_settings() -> Settings:
    return Settings()
