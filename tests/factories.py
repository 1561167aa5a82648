"""Evidence files and rows written by code, shared by the tests of several domains."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from citytrace.contacts.models import Contact, ContactState, RiskClass

START = datetime(2020, 3, 3, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
CITY_HALL = (37.5663, 126.9779)
SEOUL_STATION = (37.5547, 126.9707)


def gpx_text() -> str:
    """A track: 40 minutes at City Hall, a walk, 50 minutes near Seoul Station."""
    points = []
    t = START
    for _ in range(40):
        points.append((CITY_HALL, t))
        t += timedelta(minutes=1)
    for i in range(1, 10):
        f = i / 10
        lat = CITY_HALL[0] + (SEOUL_STATION[0] - CITY_HALL[0]) * f
        lon = CITY_HALL[1] + (SEOUL_STATION[1] - CITY_HALL[1]) * f
        points.append(((lat, lon), t))
        t += timedelta(minutes=1)
    for _ in range(50):
        points.append((SEOUL_STATION, t))
        t += timedelta(minutes=1)
    pts = "\n".join(
        f'<trkpt lat="{lat:.6f}" lon="{lon:.6f}"><time>{ts:%Y-%m-%dT%H:%M:%SZ}</time></trkpt>'
        for (lat, lon), ts in points
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><trkseg>{pts}</trkseg></trk></gpx>"
    )


CARD_CSV = (
    "transacted_at,merchant_id,merchant_name,merchant_category,"
    "latitude,longitude,address,amount_krw\n"
    "2020-03-03T11:20:00+09:00,M-77,Seoul Station Cafe,cafe,"
    "37.55475,126.97075,Hangang-daero 405,4500\n"
)


def contact_row(
    case_id: int,
    person_ref: str,
    *,
    start: datetime = START,
    state: ContactState = ContactState.IDENTIFIED,
    quarantine_until: date = date(2020, 3, 17),
    **fields: Any,
) -> Contact:
    """A close contact of 30 minutes at 5 m from ``start`` (not yet added to a session)."""
    return Contact(
        case_id=case_id,
        person_ref=person_ref,
        first_contact_at=start,
        last_contact_at=start + timedelta(minutes=30),
        max_overlap_min=30.0,
        min_distance_m=5.0,
        n_contacts=1,
        risk_class=RiskClass.CLOSE,
        state=state,
        quarantine_until_date=quarantine_until,
        **fields,
    )
