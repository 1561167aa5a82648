"""The registry of screening clinics: opening hours, lanes and booths, and the import of Korea's
published clinic list with a report of what was placed, merged and rejected.

Opening hours are kept per kind of day (weekdays, Saturdays, Sundays and holidays) as
``"HH:MM-HH:MM"`` in the configured zone: a closing time at or before the opening time falls on
the next day (``"18:00-09:00"`` is overnight), ``"00:00-24:00"`` is round the clock,
``"closed"`` is closed, and ``None`` means unknown (a clinic offers no slots on such a day).
Sundays and the country's public holidays (``CITYTRACE_HOLIDAYS``, Korea's by default, from the
``holidays`` package: Seollal, Chuseok, election days and the rest) take the holiday hours.

The list (``data/clinics``, see its NOTICE) gives no coordinates: a clinic in a district whose
outline the configured city ships is placed at a point inside that district
(``location_precision = district``); elsewhere its position is unknown and the import report
says so, province by province.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from citytrace.audit import service as audit
from citytrace.config import get_settings
from citytrace.errors import ConflictError, InputError, NotFoundError
from citytrace.screening import simulation
from citytrace.screening.models import Clinic, ClinicKind, LocationPrecision, Unit

__all__ = [
    "CLOSED",
    "KIND_DEFAULTS",
    "DayHours",
    "ImportIssue",
    "ImportReport",
    "KindDefaults",
    "create",
    "get",
    "get_by_reference",
    "get_by_reference_or_raise",
    "get_or_raise",
    "hours_on",
    "import_files",
    "import_packaged",
    "is_open",
    "list_",
    "opening_windows",
    "packaged_files",
    "parse_hours",
    "read_source_hours",
    "update",
]

CLOSED: Literal["closed"] = "closed"
DAY_MIN = 24 * 60


@dataclass(frozen=True)
class KindDefaults:
    """What a new clinic of a kind starts with (all editable per clinic)."""

    service_time_min: int
    ventilation_min: int
    disinfection_min: int
    units: int


KIND_DEFAULTS: dict[ClinicKind, KindDefaults] = {
    # The figures of the capacity simulation (citytrace.screening.simulation, with sources), so
    # that the slots a clinic offers and the throughput planned for it agree.
    # Kwon et al., J Korean Med Sci 2020;35(11):e123: about 10 min a person, 6 an hour a booth.
    ClinicKind.DRIVE_THROUGH: KindDefaults(round(simulation.DRIVE_THROUGH_SERVICE_MIN), 0, 0, 1),
    # Yangji Hospital, JKMS 2020;35(15):e154: between people, staff wait 5 min for the booth's
    # ventilation, then 1 min of disinfectant contact. The time in the booth is the simulation's
    # calibrated 6.5 min (4 booths then test 9-10 times a conventional clinic, as published),
    # rounded up to whole minutes for the slots: a booth takes someone every 13 min.
    ClinicKind.WALK_THROUGH: KindDefaults(
        math.ceil(simulation.WALK_THROUGH_SERVICE_MIN),
        round(simulation.WALK_THROUGH_VENTILATION_MIN),
        round(simulation.WALK_THROUGH_DISINFECTION_MIN),
        1,
    ),
    # Conventional clinics: about 30 min a visitor.
    ClinicKind.CONVENTIONAL: KindDefaults(round(simulation.CONVENTIONAL_SERVICE_MIN), 0, 0, 1),
}

UNIT_WORD = {
    ClinicKind.DRIVE_THROUGH: "Lane",
    ClinicKind.WALK_THROUGH: "Booth",
    ClinicKind.CONVENTIONAL: "Room",
}


# --- opening hours -------------------------------------------------------------------------


@dataclass(frozen=True)
class DayHours:
    """Open from ``opens_min`` to ``closes_min`` minutes after the local midnight of the day;
    ``closes_min`` may pass 1440 (the next day)."""

    opens_min: int
    closes_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.opens_min < DAY_MIN or not (
            self.opens_min < self.closes_min <= self.opens_min + DAY_MIN
        ):
            raise ValueError(f"impossible opening hours {self.opens_min}-{self.closes_min}")

    @property
    def text(self) -> str:
        """The stored form, ``"HH:MM-HH:MM"``."""
        close = self.closes_min if self.closes_min == DAY_MIN else self.closes_min % DAY_MIN
        return f"{_clock(self.opens_min)}-{_clock(close)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_STORED = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")
_SOURCE = re.compile(r"^(\d{1,2})\s*:\s*(\d{1,2})\s*[~\-–]\s*(\d{1,2})\s*:\s*(\d{1,2})$")
_CLOSED_WORDS = frozenset({"미운영", "휴무", "휴진", "closed"})
_UNKNOWN_WORDS = frozenset({"", "-", ": ~ :", ":~:"})


def _hours_from(oh: int, om: int, ch: int, cm: int) -> DayHours:
    if om > 59 or cm > 59 or oh > 24 or ch > 24 or (oh == 24 and om) or (ch == 24 and cm):
        raise ValueError("not a time of day")
    opens, closes = (oh * 60 + om) % DAY_MIN, ch * 60 + cm
    if closes == DAY_MIN and opens == 0:
        return DayHours(0, DAY_MIN)
    closes %= DAY_MIN
    if closes == opens:
        return DayHours(0, DAY_MIN)
    return DayHours(opens, closes if closes > opens else closes + DAY_MIN)


def parse_hours(text: str | None) -> DayHours | Literal["closed"] | None:
    """Stored hours as :class:`DayHours`, ``"closed"``, or ``None`` (unknown).

    Raises
    ------
    InputError
        When ``text`` is none of the stored forms.
    """
    if text is None:
        return None
    if text == CLOSED:
        return CLOSED
    m = _STORED.match(text)
    if m is None:
        raise InputError(f"opening hours must be HH:MM-HH:MM or {CLOSED!r}, not {text!r}")
    try:
        return _hours_from(*(int(g) for g in m.groups()))
    except ValueError:
        raise InputError(f"{text!r} is not a pair of times of day") from None


def normalise_hours(text: str | None) -> str | None:
    """Hours as given (stored form, ``"closed"`` or ``None``) in their stored form."""
    parsed = parse_hours(text)
    return parsed.text if isinstance(parsed, DayHours) else parsed


@dataclass(frozen=True)
class SourceHours:
    """Hours read from the published list: the stored form and, if any, a note on the reading."""

    stored: str | None
    note: str | None = None


def read_source_hours(text: str) -> SourceHours:
    """Hours as the published list writes them: ``09:00 ~ 18:00``, ``9:0 ~ 18:0``, ``미운영``
    (closed), ``-`` or ``: ~ :`` (unknown). Equal opening and closing times (``09:00 ~ 09:00``,
    ``24:00 ~ 24:00``) are read as round the clock, and a closing time before the opening one as
    the next morning; the note says so."""
    value = text.strip()
    if value in _CLOSED_WORDS:
        return SourceHours(CLOSED)
    if value in _UNKNOWN_WORDS:
        return SourceHours(None, f"hours {value!r} not given: unknown")
    m = _SOURCE.match(value)
    if m is None:
        return SourceHours(None, f"hours {value!r} not understood: unknown")
    oh, om, ch, cm = (int(g) for g in m.groups())
    try:
        hours = _hours_from(oh, om, ch, cm)
    except ValueError:
        return SourceHours(None, f"hours {value!r} are not times of day: unknown")
    if (oh * 60 + om) % DAY_MIN == (ch * 60 + cm) % DAY_MIN and not (oh == 0 and ch == 24):
        return SourceHours(hours.text, f"hours {value!r} open and close at once: read as 24 h")
    if hours.closes_min > DAY_MIN:
        return SourceHours(hours.text, f"hours {value!r} read as closing the next morning")
    return SourceHours(hours.text)


def zone() -> ZoneInfo:
    """The configured time zone, in which opening hours are read."""
    return ZoneInfo(get_settings().timezone)


def hours_on(clinic: Clinic, day: date) -> str | None:
    """The clinic's stored hours for a local date: Sundays and public holidays (holiday hours),
    Saturdays, or weekdays."""
    weekday = day.weekday()
    if weekday == 6 or is_public_holiday(day):
        return clinic.holiday_hours
    if weekday == 5:
        return clinic.saturday_hours
    return clinic.weekday_hours


def is_public_holiday(day: date) -> bool:
    """Whether ``day`` is a public holiday of the configured country (``CITYTRACE_HOLIDAYS``)."""
    settings = get_settings()
    return settings.holidays is not None and day in _holidays(settings.holidays, day.year)


@cache
def _holidays(country: str, year: int) -> Mapping[date, str]:
    import holidays

    return holidays.country_holidays(country, years=year)


def opening_window(clinic: Clinic, day: date) -> tuple[datetime, datetime] | None:
    """When the clinic opens and closes on the local date ``day`` (UTC, the close maybe on the
    next day); ``None`` when closed or unknown."""
    parsed = parse_hours(hours_on(clinic, day))
    if not isinstance(parsed, DayHours):
        return None
    midnight = datetime.combine(day, time(0), tzinfo=zone())
    return (
        _to_utc(midnight + timedelta(minutes=parsed.opens_min)),
        _to_utc(midnight + timedelta(minutes=parsed.closes_min)),
    )


def _to_utc(local: datetime) -> datetime:
    from datetime import UTC

    return local.astimezone(UTC)


def opening_windows(clinic: Clinic, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """The windows that open on the local dates ``first`` to ``last`` (inclusive), in order."""
    windows = []
    day = first
    while day <= last:
        window = opening_window(clinic, day)
        if window is not None:
            windows.append(window)
        day += timedelta(days=1)
    return windows


def local_date(at: datetime) -> date:
    """The local date of a moment in the configured zone."""
    return at.astimezone(zone()).date()


def is_open(clinic: Clinic, at: datetime) -> bool:
    """Whether the clinic is open at ``at`` (overnight hours of the day before count)."""
    if not clinic.active:
        return False
    day = local_date(at)
    for start, end in opening_windows(clinic, day - timedelta(days=1), day):
        if start <= at < end:
            return True
    return False


# --- the registry --------------------------------------------------------------------------


def get(*, session: Session, clinic_id: int) -> Clinic | None:
    return session.get(Clinic, clinic_id)


def get_or_raise(*, session: Session, clinic_id: int) -> Clinic:
    clinic = get(session=session, clinic_id=clinic_id)
    if clinic is None:
        raise NotFoundError(f"clinic {clinic_id} does not exist")
    return clinic


def get_by_reference(*, session: Session, reference: str) -> Clinic | None:
    return session.scalar(select(Clinic).where(Clinic.reference == reference))


def get_by_reference_or_raise(*, session: Session, reference: str) -> Clinic:
    clinic = get_by_reference(session=session, reference=reference)
    if clinic is None:
        raise NotFoundError(f"clinic {reference!r} does not exist")
    return clinic


def list_(
    *,
    session: Session,
    province: str | None = None,
    district_code: str | None = None,
    kind: ClinicKind | None = None,
    active: bool | None = None,
    name_contains: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[Clinic]:
    """Clinics by province, name and id, filtered by any of the arguments."""
    query = select(Clinic).order_by(Clinic.province, Clinic.name, Clinic.id)
    if province is not None:
        query = query.where(Clinic.province == province)
    if district_code is not None:
        query = query.where(Clinic.district_code == district_code)
    if kind is not None:
        query = query.where(Clinic.kind == kind)
    if active is not None:
        query = query.where(Clinic.active.is_(active))
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Clinic.name.like(f"%{escaped}%", escape="\\"))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def _check_district(code: str | None) -> None:
    if code is None:
        return
    from citytrace.geo import load_city

    city = load_city(get_settings().city)
    if code not in {d.code for d in city.districts}:
        raise InputError(f"unknown district code {code!r}", location="district_code")


def _set_units(clinic: Clinic, count: int) -> None:
    """Make ``count`` units active: new ones are added, extra ones deactivated (their history
    stays)."""
    word = UNIT_WORD[clinic.kind]
    by_number = {u.number: u for u in clinic.units}
    for number in range(1, max(count, len(by_number)) + 1):
        unit = by_number.get(number)
        if unit is None and number <= count:
            clinic.units.append(Unit(number=number, label=f"{word} {number}", active=True))
        elif unit is not None:
            unit.active = number <= count


def create(*, session: Session, actor: str, data: Any) -> Clinic:
    """Register a clinic (``data``: :class:`citytrace.screening.schemas.ClinicCreate`).

    Unset service time, turnover and unit count take the kind's defaults (:data:`KIND_DEFAULTS`).
    """
    reference = data.reference or _new_reference(data.name, data.address)
    if get_by_reference(session=session, reference=reference) is not None:
        raise ConflictError(f"a clinic with reference {reference!r} already exists")
    _check_district(data.district_code)
    defaults = KIND_DEFAULTS[data.kind]
    located = data.latitude is not None and data.longitude is not None
    clinic = Clinic(
        reference=reference,
        name=data.name,
        kind=data.kind,
        address=data.address,
        province=data.province,
        district_name=data.district_name,
        district_code=data.district_code,
        latitude=data.latitude if located else None,
        longitude=data.longitude if located else None,
        location_precision=LocationPrecision.ADDRESS if located else LocationPrecision.UNKNOWN,
        phone=data.phone,
        weekday_hours=normalise_hours(data.weekday_hours),
        saturday_hours=normalise_hours(data.saturday_hours),
        holiday_hours=normalise_hours(data.holiday_hours),
        service_time_min=data.service_time_min or defaults.service_time_min,
        ventilation_min=(
            defaults.ventilation_min if data.ventilation_min is None else data.ventilation_min
        ),
        disinfection_min=(
            defaults.disinfection_min if data.disinfection_min is None else data.disinfection_min
        ),
        source="manual",
    )
    _set_units(clinic, data.units or defaults.units)
    session.add(clinic)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="screening.clinic.create",
        entity="clinic",
        entity_id=clinic.id,
        detail={"reference": reference},
    )
    return clinic


_UPDATABLE = (
    "name",
    "kind",
    "address",
    "province",
    "district_name",
    "district_code",
    "phone",
    "service_time_min",
    "ventilation_min",
    "disinfection_min",
    "active",
)


def update(*, session: Session, actor: str, clinic_id: int, data: Any) -> Clinic:
    """Change a clinic (``data``: :class:`citytrace.screening.schemas.ClinicUpdate`; only the
    fields set). Setting both coordinates places the clinic at its address; ``units`` changes
    how many lanes or booths are in use (existing bookings keep theirs)."""
    clinic = get_or_raise(session=session, clinic_id=clinic_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if "district_code" in changes:
        _check_district(changes["district_code"])
    for key in ("weekday_hours", "saturday_hours", "holiday_hours"):
        if key in changes:
            setattr(clinic, key, normalise_hours(changes[key]))
    for key in _UPDATABLE:
        # A district code may be cleared; other fields are only ever changed to a value.
        if key in changes and (changes[key] is not None or key == "district_code"):
            setattr(clinic, key, changes[key])
    if "latitude" in changes or "longitude" in changes:
        lat, lon = changes.get("latitude"), changes.get("longitude")
        if (lat is None) != (lon is None):
            raise InputError("give both latitude and longitude, or neither", location="latitude")
        clinic.latitude, clinic.longitude = lat, lon
        clinic.location_precision = (
            LocationPrecision.UNKNOWN if lat is None else LocationPrecision.ADDRESS
        )
    if changes.get("units") is not None:
        _set_units(clinic, changes["units"])
    clinic.booking_version += 1
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="screening.clinic.update",
        entity="clinic",
        entity_id=clinic.id,
        detail={"fields": sorted(changes)},
    )
    return clinic


def _normalise_text(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def _source_key(name: str, address: str) -> str:
    text = f"{_normalise_text(name)}\x00{_normalise_text(address)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _new_reference(name: str, address: str) -> str:
    """A stable reference from name and address: the same clinic gets the same reference in
    every database, so that staff accounts can name it before the import."""
    return f"KR-{_source_key(name, address)[:10].upper()}"


# --- the import ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportIssue:
    """A rejected row, or a note on a row that was imported: file, line and reason."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Merged:
    """A clinic listed more than once (name and address equal): one clinic, these lines."""

    name: str
    lines: tuple[str, ...]


@dataclass
class ImportReport:
    """What an import did, for the operator: counts, placement, merges, rejections, notes."""

    files: list[str]
    rows_read: int = 0
    clinics: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    placed_by_district: int = 0
    placed_by_district_of: dict[str, int] = field(default_factory=dict)
    location_unknown_by_province: dict[str, int] = field(default_factory=dict)
    kept_own_location: int = 0
    merged: list[Merged] = field(default_factory=list)
    rejected: list[ImportIssue] = field(default_factory=list)
    notes: list[ImportIssue] = field(default_factory=list)
    city: str = ""

    @property
    def location_unknown(self) -> int:
        return sum(self.location_unknown_by_province.values())

    def summary(self) -> str:
        """The report as text, one fact a line."""
        unknown = ", ".join(
            f"{p} {n}" for p, n in sorted(self.location_unknown_by_province.items())
        )
        lines = [
            f"files: {', '.join(self.files)}",
            f"rows read: {self.rows_read}",
            f"clinics: {self.clinics} ({', '.join(f'{k} {n}' for k, n in self.by_kind.items())})",
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}",
            f"placed by district ({self.city} outlines): {self.placed_by_district}",
            f"location kept from an earlier edit (address): {self.kept_own_location}",
            f"location unknown (no outlines of their district): {self.location_unknown}"
            + (f" [{unknown}]" if unknown else ""),
            f"duplicates merged: {len(self.merged)}",
        ]
        lines += [f"  {m.name}: {'; '.join(m.lines)}" for m in self.merged]
        lines.append(f"rows rejected: {len(self.rejected)}")
        lines += [f"  {issue}" for issue in self.rejected]
        lines.append(f"notes: {len(self.notes)}")
        lines += [f"  {issue}" for issue in self.notes]
        return "\n".join(lines)


PACKAGED_FILES = (
    "screening_clinics_info.csv",
    "screening_clinics_region.csv",
    "drive_through_clinics_info.csv",
    "drive_through_clinics_region.csv",
)
_DRIVE_THROUGH_NAME = re.compile(r"drive|승차", re.IGNORECASE)
# Province names as addresses write them, to the short form of the region files.
_PROVINCE_ALIASES = {
    "서울특별시": "서울",
    "서울시": "서울",
    "부산광역시": "부산",
    "부산시": "부산",
    "대구광역시": "대구",
    "인천광역시": "인천",
    "광주광역시": "광주",
    "대전광역시": "대전",
    "울산광역시": "울산",
    "세종특별자치시": "세종",
    "경기도": "경기",
    "강원도": "강원",
    "충청북도": "충북",
    "충청남도": "충남",
    "전라북도": "전북",
    "전라남도": "전남",
    "경상북도": "경북",
    "경상남도": "경남",
    "제주특별자치도": "제주",
}
_PROVINCES = frozenset(_PROVINCE_ALIASES.values())


def packaged_files() -> list[Path]:
    """The clinic list shipped with the package (``screening/data/clinics``)."""
    folder = resources.files("citytrace.screening") / "data" / "clinics"
    return [Path(str(folder / name)) for name in PACKAGED_FILES]


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    name: str
    address: str
    hours: tuple[SourceHours, SourceHours, SourceHours]
    phone: str
    province: str
    district: str
    drive_through: bool

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def _read_csv(path: Path, name: str) -> list[list[str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte {exc.start}): the clinic list is UTF-8", path=name
        ) from None
    if "\x00" in text:
        raise InputError("not a text file (it holds NUL bytes)", path=name)
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(f"not CSV: {exc}", path=name) from None


def _role(name: str, rows: list[list[str]]) -> Literal["info", "region"]:
    widths = Counter(len(r) for r in rows if r)
    if not widths:
        raise InputError("the file is empty", path=name)
    width = widths.most_common(1)[0][0]
    if width == 6:
        return "info"
    if width == 3:
        return "region"
    raise InputError(
        f"not a clinic list: most lines have {width} fields; an information file has 6 (name, "
        "address, weekday, Saturday and holiday hours, phone), a region file 3 (province, "
        "district, name)",
        path=name,
    )


def _pair(
    files: dict[Path, list[list[str]]], roles: Mapping[Path, str], shown: Mapping[Path, str]
) -> list[tuple[Path, Path | None]]:
    """Each information file with the region file listing the same names line by line."""
    infos = [p for p in files if roles[p] == "info"]
    regions = [p for p in files if roles[p] == "region"]
    pairs: list[tuple[Path, Path | None]] = []
    for info in infos:
        names = [r[0].strip() for r in files[info] if r]
        best, best_score = None, 0.0
        for region in regions:
            other = [r[2].strip() for r in files[region] if len(r) >= 3]
            same = sum(a == b for a, b in zip(names, other, strict=False))
            score = same / max(len(names), len(other), 1)
            if score > best_score:
                best, best_score = region, score
        if best is not None and best_score >= 0.5:
            regions.remove(best)
            pairs.append((info, best))
        else:
            pairs.append((info, None))
    if regions:
        raise InputError(
            "a region file without its information file (name, address, hours, phone)",
            path=shown[regions[0]],
        )
    return pairs


def _province_of(address: str) -> str:
    first = address.split()[0] if address.split() else ""
    if first in _PROVINCES:
        return first
    return _PROVINCE_ALIASES.get(first, "")


def _rows(
    info: Path,
    region: Path | None,
    rows: list[list[str]],
    region_rows: list[list[str]] | None,
    drive_through: bool,
    report: ImportReport,
) -> list[_Row]:
    out: list[_Row] = []
    name_of = info.name
    for line, fields in enumerate(rows, start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        report.rows_read += 1
        if len(fields) != 6:
            report.rejected.append(
                ImportIssue(name_of, line, f"expected 6 fields, found {len(fields)}")
            )
            continue
        name, address, weekday, saturday, holiday, phone = (f.strip() for f in fields)
        if not name:
            report.rejected.append(ImportIssue(name_of, line, "no clinic name"))
            continue
        if len(name) > 200 or len(address) > 300:
            report.rejected.append(ImportIssue(name_of, line, "name or address too long"))
            continue
        province = district = ""
        if region_rows is not None and region is not None:
            if line > len(region_rows) or len(region_rows[line - 1]) != 3:
                report.rejected.append(
                    ImportIssue(name_of, line, f"{region.name} has no province/district line")
                )
                continue
            province, district, region_name = (f.strip() for f in region_rows[line - 1])
            if region_name != name:
                report.rejected.append(
                    ImportIssue(
                        name_of,
                        line,
                        f"{region.name} line {line} names another clinic ({region_name!r})",
                    )
                )
                continue
        else:
            province = _province_of(address)
        hours = (
            read_source_hours(weekday),
            read_source_hours(saturday),
            read_source_hours(holiday),
        )
        for label, h in zip(("weekday", "Saturday", "holiday"), hours, strict=True):
            if h.note:
                report.notes.append(ImportIssue(name_of, line, f"{label} {h.note}"))
        if all(h.stored is None for h in hours):
            report.notes.append(
                ImportIssue(name_of, line, "no opening hours known: listed, but not bookable")
            )
        if not address:
            report.notes.append(ImportIssue(name_of, line, "no address"))
        out.append(
            _Row(
                file=name_of,
                line=line,
                name=name,
                address=address,
                hours=hours,
                phone=phone[:60],
                province=province,
                district=district,
                drive_through=drive_through,
            )
        )
    return out


def _district_points(city_name: str) -> tuple[str, dict[str, tuple[str, float, float]]]:
    """The city's Korean name and, per district name, its code and a point inside it."""
    from shapely.geometry import shape

    from citytrace.geo import load_city

    city = load_city(city_name)
    points: dict[str, tuple[str, float, float]] = {}
    for feature in city.outlines_geojson("district")["features"]:
        props = feature["properties"]
        point = shape(feature["geometry"]).representative_point()
        points[str(props["name_ko"])] = (str(props["code"]), round(point.y, 6), round(point.x, 6))
    return city.display_name_ko, points


def import_files(
    *,
    session: Session,
    actor: str,
    paths: Sequence[Path],
    drive_through: Iterable[Path] = (),
    display_names: Sequence[str] | None = None,
) -> ImportReport:
    """Import clinic lists: each information file (6 fields a line) with the region file that
    lists the same clinics (3 fields), paired by their names; a file whose name says
    ``drive``/``승차`` (or that is in ``drive_through``) lists drive-through clinics.

    Clinics listed more than once (same name and address) are merged, a drive-through listing
    marking the clinic as such. Importing again updates the clinics from the lists (keeping a
    location, service time, units and state set since), never duplicates them. One transaction:
    a file that is not a clinic list stores nothing (:class:`InputError`); bad rows are rejected
    and reported, the others imported.
    """
    if not paths:
        raise InputError("no file given")
    names = list(display_names) if display_names is not None else [str(p) for p in paths]
    shown = dict(zip(paths, names, strict=True))
    files = {p: _read_csv(p, shown[p]) for p in paths}
    roles = {p: _role(shown[p], rows) for p, rows in files.items()}
    marked = {Path(p) for p in drive_through}
    settings = get_settings()
    report = ImportReport(files=names, city=settings.city)
    rows: list[_Row] = []
    for info, region in _pair(files, roles, shown):
        is_drive = info in marked or bool(_DRIVE_THROUGH_NAME.search(Path(shown[info]).name))
        rows += _rows(
            Path(shown[info]),
            None if region is None else Path(shown[region]),
            files[info],
            None if region is None else files[region],
            is_drive,
            report,
        )
    # Merge by name and address, and else by address and phone (one clinic is listed under
    # two names: 한일병원 and 경남한일병원); the screening list first, so that its line is the
    # source.
    groups: dict[str, list[_Row]] = {}
    by_contact: dict[tuple[str, str], str] = {}
    for row in sorted(rows, key=lambda r: (r.drive_through, r.file, r.line)):
        key = _source_key(row.name, row.address)
        contact = (_normalise_text(row.address), re.sub(r"\D", "", row.phone))
        if key not in groups and all(contact) and contact in by_contact:
            key = by_contact[contact]
            report.notes.append(
                ImportIssue(
                    row.file,
                    row.line,
                    f"merged with {groups[key][0].where} ({groups[key][0].name!r}): "
                    "the same address and phone under another name",
                )
            )
        groups.setdefault(key, []).append(row)
        if all(contact):
            by_contact.setdefault(contact, key)
    city_ko, points = _district_points(settings.city)
    existing = {
        c.source_key: c
        for c in session.scalars(select(Clinic).where(Clinic.source_key.is_not(None)))
    }
    kinds: Counter[str] = Counter()
    for key, group in groups.items():
        first = group[0]
        if len(group) > 1:
            report.merged.append(Merged(first.name, tuple(r.where for r in group)))
        kind = (
            ClinicKind.DRIVE_THROUGH
            if any(r.drive_through for r in group)
            else ClinicKind.CONVENTIONAL
        )
        kinds[kind.value] += 1
        in_city = bool(first.province) and city_ko.startswith(first.province)
        placed = points.get(first.district) if in_city else None
        if in_city and placed is None:
            report.notes.append(
                ImportIssue(
                    first.file, first.line, f"district {first.district!r} is not in {city_ko}"
                )
            )
        values: dict[str, Any] = {
            "name": first.name,
            "address": first.address,
            "province": first.province,
            "district_name": first.district,
            "phone": first.phone,
            "weekday_hours": first.hours[0].stored,
            "saturday_hours": first.hours[1].stored,
            "holiday_hours": first.hours[2].stored,
            "source": "; ".join(r.where for r in group)[:300],
        }
        clinic = existing.get(key)
        if clinic is None:
            defaults = KIND_DEFAULTS[kind]
            clinic = Clinic(
                reference=_new_reference(first.name, first.address),
                source_key=key,
                kind=kind,
                service_time_min=defaults.service_time_min,
                ventilation_min=defaults.ventilation_min,
                disinfection_min=defaults.disinfection_min,
                **values,
            )
            _place(clinic, placed)
            _set_units(clinic, defaults.units)
            session.add(clinic)
            report.created += 1
        else:
            before = _snapshot(clinic)
            for name, value in values.items():
                setattr(clinic, name, value)
            if kind == ClinicKind.DRIVE_THROUGH and clinic.kind == ClinicKind.CONVENTIONAL:
                clinic.kind = kind
            if clinic.location_precision != LocationPrecision.ADDRESS:
                _place(clinic, placed)
            if _snapshot(clinic) != before:
                report.updated += 1
            else:
                report.unchanged += 1
        if clinic.location_precision == LocationPrecision.ADDRESS:
            report.kept_own_location += 1
        elif placed is not None:
            report.placed_by_district += 1
            report.placed_by_district_of[first.district] = (
                report.placed_by_district_of.get(first.district, 0) + 1
            )
        else:
            province = first.province or "(no province)"
            report.location_unknown_by_province[province] = (
                report.location_unknown_by_province.get(province, 0) + 1
            )
    report.clinics = len(groups)
    report.by_kind = dict(sorted(kinds.items()))
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="screening.clinics.import",
        entity="clinic",
        detail={
            "files": names,
            "rows": report.rows_read,
            "clinics": report.clinics,
            "created": report.created,
            "updated": report.updated,
            "rejected": len(report.rejected),
            "merged": len(report.merged),
        },
    )
    return report


def _place(clinic: Clinic, placed: tuple[str, float, float] | None) -> None:
    if placed is None:
        clinic.district_code = None
        clinic.latitude = clinic.longitude = None
        clinic.location_precision = LocationPrecision.UNKNOWN
    else:
        clinic.district_code, clinic.latitude, clinic.longitude = placed
        clinic.location_precision = LocationPrecision.DISTRICT


def _snapshot(clinic: Clinic) -> tuple[Any, ...]:
    return tuple(
        getattr(clinic, name)
        for name in (
            "name",
            "kind",
            "address",
            "province",
            "district_name",
            "district_code",
            "phone",
            "weekday_hours",
            "saturday_hours",
            "holiday_hours",
            "latitude",
            "longitude",
            "location_precision",
            "source",
        )
    )


def import_packaged(*, session: Session, actor: str) -> ImportReport:
    """Import the clinic list shipped with the package (see ``data/clinics/NOTICE.md``)."""
    paths = packaged_files()
    return import_files(
        session=session, actor=actor, paths=paths, display_names=[p.name for p in paths]
    )


DEMO_CLINIC = "demo-clinic"
"""The reference of the demo's own clinic (the demo's clinic staff account belongs to it)."""


def load_demo_clinics(*, session: Session, actor: str) -> str:
    """The packaged clinic list, and a walk-through clinic of the demo near Seoul City Hall
    (4 booths, open round the clock) for the demo's clinic staff; what was done."""
    report = import_packaged(session=session, actor=actor)
    if get_by_reference(session=session, reference=DEMO_CLINIC) is None:
        from citytrace.screening.schemas import ClinicCreate

        create(
            session=session,
            actor=actor,
            data=ClinicCreate(
                reference=DEMO_CLINIC,
                name="Demo walk-through clinic (Seoul City Hall plaza)",
                kind=ClinicKind.WALK_THROUGH,
                address="서울 중구 세종대로 110",
                province="서울",
                district_name="중구",
                district_code="11140",
                latitude=37.5663,
                longitude=126.9779,
                phone="",
                weekday_hours="00:00-24:00",
                saturday_hours="00:00-24:00",
                holiday_hours="00:00-24:00",
                units=4,
            ),
        )
    return f"{report.clinics} screening clinics ({report.placed_by_district} placed by district)"
