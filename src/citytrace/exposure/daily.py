"""Loading records that span several days into a store, one day file each, all checked first."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citytrace.errors import ConflictError
from citytrace.exposure._checks import Rows
from citytrace.exposure.records import normalise_records
from citytrace.exposure.store import DayStats, RecordStore


def append_by_day(
    store: RecordStore, table: pa.Table, *, replace: bool = False, rows: Rows | None = None
) -> list[DayStats]:
    """Store records of any number of days, split by the local day on which each starts.

    Every record is checked and every day's place in the store is checked before anything is
    written, so a bad row or a day already stored (without ``replace``) changes nothing.
    """
    rows = rows or Rows()
    normalise_records(
        table, dwell_min=store.dwell_min, default_dwell_min=store.default_dwell_min, rows=rows
    )
    local = table.column("started_at").cast(pa.timestamp("us", tz=store.timezone))
    day_text = pc.strftime(local, format="%Y-%m-%d")
    days = sorted({date.fromisoformat(d) for d in pc.unique(day_text).to_pylist()})
    stored = set(store.days())
    clash = [d for d in days if d in stored]
    if clash and not replace:
        listed = ", ".join(d.isoformat() for d in clash[:5])
        raise ConflictError(
            f"{len(clash)} day(s) already stored ({listed}): replace them explicitly"
        )
    day_of_row = np.asarray(day_text.to_numpy(zero_copy_only=False), dtype=object)
    result = []
    for day in days:
        part = table.filter(pa.array(day_of_row == day.isoformat()))
        result.append(store.append_day(part, day=day, replace=replace))
    return result
