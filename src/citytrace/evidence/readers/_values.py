"""Parsing and validation of the values every reader shares: times, coordinates, numbers.

Each function either returns a clean value or raises :class:`RecordError`, which the reader turns
into a :class:`RecordIssue` for that record. Reasons never quote the value itself (personal data).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

__all__ = [
    "RecordError",
    "as_mapping",
    "as_text",
    "check_interval",
    "check_position",
    "e7_position",
    "epoch_digits_to_us",
    "epoch_ms_to_us",
    "google_time_to_us",
    "iso_to_us",
    "latlng_text_position",
    "lower_text",
    "minutes_offset",
    "number_position",
    "optional_float",
    "optional_metres",
    "optional_unit",
    "to_float",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Largest epoch milliseconds a datetime can hold (9999-12-31T23:59:59.999Z).
_MAX_EPOCH_MS = 253_402_300_799_999
_MIN_EPOCH_MS = -62_135_596_800_000
# Epoch values at or above this many units are milliseconds, below it seconds: 1e11 seconds is
# the year 5138 while 1e11 milliseconds is 1973, so real data of either kind is unambiguous.
_MS_THRESHOLD = 100_000_000_000
# E7 integers above these wrap around (int32 overflow in some Records.json exports).
_LAT_E7_WRAP = 900_000_000
_LON_E7_WRAP = 1_800_000_000
_TWO_32 = 2**32
_MAX_OFFSET_MIN = 10_000_000.0


class RecordError(Exception):
    """A record (or one field of it) cannot be used; ``field`` names the field if known."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field

    def at_path(self, base: str) -> tuple[str, str]:
        """The issue ``(location, reason)`` for a record at JSON/XML path ``base``."""
        return (f"{base}.{self.field}" if self.field else base), self.reason

    def at_line(self, line: int) -> tuple[str, str]:
        """The issue ``(location, reason)`` for a record on text line ``line``."""
        return f"line {line}", (f"{self.field}: {self.reason}" if self.field else self.reason)


def _to_us(moment: datetime) -> int:
    # Integer arithmetic: datetime.timestamp() goes through a float and can be 1 µs off.
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def iso_to_us(value: object, naive_tz: tzinfo | None, field: str | None = None) -> int:
    """Microseconds since the epoch (UTC) of an ISO 8601 date and time.

    A time without a UTC offset is read in ``naive_tz``; without one it is refused. Fractions
    finer than a microsecond are truncated.
    """
    if not isinstance(value, str):
        raise RecordError("missing or not a text time", field)
    text = value.strip()
    if len(text) <= 10:
        raise RecordError("not an ISO 8601 date and time", field)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError("not an ISO 8601 date and time", field) from None
    if moment.tzinfo is None:
        if naive_tz is None:
            raise RecordError("time has no UTC offset (give assume_tz to read it)", field)
        moment = moment.replace(tzinfo=naive_tz)
    try:
        return _to_us(moment)
    except OverflowError:
        raise RecordError("time out of range", field) from None


def epoch_ms_to_us(value: object, field: str | None = None) -> int:
    """Microseconds since the epoch of epoch milliseconds given as an integer or digit string."""
    return _epoch_to_us(value, field, always_ms=True)


def epoch_digits_to_us(value: object, field: str | None = None) -> int:
    """Microseconds of epoch time as digits: milliseconds from 10¹¹ up, seconds below."""
    return _epoch_to_us(value, field, always_ms=False)


def _epoch_to_us(value: object, field: str | None, *, always_ms: bool) -> int:
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.lstrip("-").isdigit()):
            raise RecordError("not an epoch time", field)
        number = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise RecordError("missing or not an epoch time", field)
    millis = number if always_ms or abs(number) >= _MS_THRESHOLD else number * 1000
    if not _MIN_EPOCH_MS <= millis <= _MAX_EPOCH_MS:
        raise RecordError("time out of range", field)
    return millis * 1000


def google_time_to_us(value: object, naive_tz: tzinfo | None, field: str | None = None) -> int:
    """Microseconds of a Google time: ISO 8601, or epoch seconds/milliseconds as digits."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return epoch_digits_to_us(value, field)
    if isinstance(value, int) and not isinstance(value, bool):
        return epoch_digits_to_us(value, field)
    return iso_to_us(value, naive_tz, field)


def check_position(
    latitude: float,
    longitude: float,
    *,
    lat_field: str | None = "latitude",
    lon_field: str | None = "longitude",
) -> tuple[float, float]:
    """The position if it is a valid WGS84 latitude and longitude, else :class:`RecordError`."""
    if not -90.0 <= latitude <= 90.0:
        reason = (
            "latitude is not a number" if math.isnan(latitude) else "latitude outside [-90, 90]"
        )
        raise RecordError(reason, lat_field)
    if not -180.0 <= longitude <= 180.0:
        reason = (
            "longitude is not a number"
            if math.isnan(longitude)
            else "longitude outside [-180, 180]"
        )
        raise RecordError(reason, lon_field)
    return latitude, longitude


def number_position(
    latitude: object,
    longitude: object,
    *,
    lat_field: str = "latitude",
    lon_field: str = "longitude",
) -> tuple[float, float]:
    """The position of two numbers or numeric texts in decimal degrees, validated."""
    return check_position(
        to_float(latitude, lat_field),
        to_float(longitude, lon_field),
        lat_field=lat_field,
        lon_field=lon_field,
    )


def _e7(value: object, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise RecordError("missing or not an integer", field)


def e7_position(
    latitude_e7: object,
    longitude_e7: object,
    *,
    lat_field: str = "latitudeE7",
    lon_field: str = "longitudeE7",
) -> tuple[float, float]:
    """Degrees of Google's E7 integers (degrees × 10⁷), undoing the int32 overflow wrap."""
    lat = _e7(latitude_e7, lat_field)
    lon = _e7(longitude_e7, lon_field)
    if lat > _LAT_E7_WRAP:
        lat -= _TWO_32
    if lon > _LON_E7_WRAP:
        lon -= _TWO_32
    return check_position(lat / 1e7, lon / 1e7, lat_field=lat_field, lon_field=lon_field)


def latlng_text_position(value: object, field: str | None = None) -> tuple[float, float]:
    """The position in ``"50.05°, 14.34°"``, ``"50.05, 14.34"`` or ``"geo:50.05,14.34"``."""
    if not isinstance(value, str):
        raise RecordError("missing or not a text position", field)
    text = value.strip()
    if text.startswith("geo:"):
        text = text[4:].split(";", 1)[0]
    parts = text.split(",")
    if len(parts) != 2:
        raise RecordError("not a 'latitude, longitude' position", field)
    try:
        lat, lon = (float(part.strip().removesuffix("°")) for part in parts)
    except ValueError:
        raise RecordError("not a 'latitude, longitude' position", field) from None
    return check_position(lat, lon, lat_field=field, lon_field=field)


def to_float(value: object, field: str | None = None) -> float:
    """A float of a JSON number or a numeric string, else :class:`RecordError`."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise RecordError("missing or not a number", field)


def optional_float(value: object, field: str | None = None) -> float | None:
    """Like :func:`to_float`, but ``None`` (JSON null, absent or empty text) stays ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_float(value, field)


def optional_metres(value: object, field: str | None = None) -> float | None:
    """A distance in metres (accuracy, radius): finite and >= 0, or ``None`` if absent."""
    metres = optional_float(value, field)
    if metres is not None and not (math.isfinite(metres) and metres >= 0.0):
        raise RecordError("not a finite number of metres >= 0", field)
    return metres


def optional_unit(value: float | None, field: str | None = None) -> float | None:
    """A probability or confidence in [0, 1], or ``None``."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise RecordError("outside [0, 1]", field)
    return value


def as_mapping(value: object, field: str | None = None) -> dict[str, object]:
    """The value if it is a JSON object, else :class:`RecordError`."""
    if not isinstance(value, dict):
        raise RecordError("not a JSON object", field)
    return value


def as_text(value: object) -> str | None:
    """Stripped text, or ``None`` for anything that is not non-empty text."""
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def lower_text(value: object) -> str | None:
    """Like :func:`as_text`, lowercased (venue kinds, Google semantic types)."""
    text = as_text(value)
    return text.lower() if text else None


def check_interval(started_at_us: int, finished_at_us: int | None, field: str | None) -> None:
    """Refuse an interval that finishes before it starts."""
    if finished_at_us is not None and finished_at_us < started_at_us:
        raise RecordError("finished before it started", field)


def minutes_offset(start_us: int, minutes: object, field: str | None = None) -> int:
    """``start_us`` plus a number of minutes (a number or numeric string, at most ~19 years)."""
    offset = to_float(minutes, field)
    if not abs(offset) <= _MAX_OFFSET_MIN:
        raise RecordError("minute offset out of range", field)
    return start_us + round(offset * 60_000_000)
