"""The outbreak picture as CSV, for spreadsheets: one row a day, a cluster or a district, with a
header; the same figures as the JSON (counts only)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from citytrace.stats.service import Cluster, CurveDay, Timeliness

MEDIA_TYPE = "text/csv; charset=utf-8; header=present"


def curve_csv(days: Iterable[CurveDay]) -> str:
    return _csv(("day", "cases", "mean_7d"), ((d.day, d.cases, f"{d.mean_7d:.3f}") for d in days))


def clusters_csv(clusters: Iterable[Cluster]) -> str:
    """A cluster a row; its cases by district as ``district:cases`` joined by ``;`` (``none``
    for cases without a district)."""
    return _csv(
        ("cases", "links", "generations", "first_confirmed", "last_confirmed", "districts"),
        (
            (
                c.cases,
                c.links,
                c.generations,
                c.first_confirmed,
                c.last_confirmed,
                ";".join(f"{d or 'none'}:{n}" for d, n in c.districts.items()),
            )
            for c in clusters
        ),
    )


def timeliness_csv(rows: Iterable[Timeliness]) -> str:
    """A district a row; ``all`` for every case, first."""
    return _csv(
        ("district_code", "cases", "median_hours", "p90_hours"),
        ((t.district_code or "all", t.cases, t.median_hours, t.p90_hours) for t in rows),
    )


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()
