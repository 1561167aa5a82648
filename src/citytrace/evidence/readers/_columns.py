"""Growable column builders for fixes and observations, and their conversion to Arrow tables.

Columns grow in :mod:`array` buffers (8 bytes a value, no Python object per value) so that a
file of millions of fixes costs tens of bytes per fix, then become Arrow arrays without a copy.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from ._model import FIX_SCHEMA, OBSERVATION_SCHEMA

__all__ = ["FixColumns", "FixTable", "ObservationColumns"]

_NAN = float("nan")


def _floats(values: array[float]) -> npt.NDArray[np.float64]:
    return np.frombuffer(values, dtype=np.float64) if len(values) else np.empty(0, np.float64)


def _ints(values: array[int]) -> npt.NDArray[np.int64]:
    return np.frombuffer(values, dtype=np.int64) if len(values) else np.empty(0, np.int64)


def _nullable_floats(values: npt.NDArray[np.float64]) -> pa.Array:
    # NaN marks a missing value: the readers never keep a NaN that was in the file.
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def _timestamps(
    values: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    return pa.array(values, type=pa.int64(), mask=mask).cast(FIX_SCHEMA.field("tracked_at").type)


@dataclass(frozen=True)
class FixTable:
    """The built fix table and what building it found about the input order."""

    table: pa.Table
    out_of_order: int
    duplicates: int


class FixColumns:
    """Position fixes as they are read; :meth:`build` sorts them and drops exact duplicates."""

    def __init__(self) -> None:
        self.tracked_at_us: array[int] = array("q")
        self.latitude: array[float] = array("d")
        self.longitude: array[float] = array("d")
        self.accuracy_m: array[float] = array("d")
        self.source_index: array[int] = array("q")
        self._stream_starts: list[int] = []

    def __len__(self) -> int:
        return len(self.tracked_at_us)

    def append(
        self,
        tracked_at_us: int,
        latitude: float,
        longitude: float,
        accuracy_m: float | None,
        source_index: int,
    ) -> None:
        """Add one fix (already validated)."""
        self.tracked_at_us.append(tracked_at_us)
        self.latitude.append(latitude)
        self.longitude.append(longitude)
        self.accuracy_m.append(_NAN if accuracy_m is None else accuracy_m)
        self.source_index.append(source_index)

    def start_stream(self) -> None:
        """Mark that the next fixes come from another part of the file, with its own time order.

        Order is checked within a stream only: the raw signals of a Timeline export are not
        expected to follow its path points in time.
        """
        self._stream_starts.append(len(self))

    def build(self) -> FixTable:
        """The fixes sorted by time (then file position), without exact duplicates.

        Exact duplicates have the same time, latitude and longitude; the first in the file is
        kept. ``out_of_order`` counts fixes earlier than the fix before them in the same stream.
        """
        tracked = _ints(self.tracked_at_us)
        lat = _floats(self.latitude)
        lon = _floats(self.longitude)
        index = _ints(self.source_index)
        going_back = tracked[1:] < tracked[:-1]
        starts = [s for s in self._stream_starts if 0 < s < len(tracked)]
        going_back[np.asarray(starts, dtype=np.int64) - 1] = False
        out_of_order = int(np.count_nonzero(going_back))

        by_position = np.lexsort((np.arange(len(tracked)), lon, lat, tracked))
        same = np.zeros(len(tracked), dtype=np.bool_)
        t, la, lo = tracked[by_position], lat[by_position], lon[by_position]
        same[1:] = (t[1:] == t[:-1]) & (la[1:] == la[:-1]) & (lo[1:] == lo[:-1])
        kept = by_position[~same]
        del by_position, t, la, lo
        kept = kept[np.lexsort((kept, tracked[kept]))]

        accuracy = _floats(self.accuracy_m)[kept]
        table = pa.Table.from_arrays(
            [
                _timestamps(tracked[kept]),
                pa.array(lat[kept], type=pa.float64()),
                pa.array(lon[kept], type=pa.float64()),
                _nullable_floats(accuracy),
                pa.array(index[kept], type=pa.int64()),
            ],
            schema=FIX_SCHEMA,
        )
        return FixTable(table, out_of_order, int(np.count_nonzero(same)))


class ObservationColumns:
    """Observations (presence at a place) as they are read; :meth:`build` sorts them."""

    def __init__(self) -> None:
        self.kind: list[str] = []
        self.started_at_us: array[int] = array("q")
        self.finished_at_us: array[int] = array("q")
        self.finished_known = bytearray()
        self.latitude: array[float] = array("d")
        self.longitude: array[float] = array("d")
        self.radius_m: array[float] = array("d")
        self.place_id: list[str | None] = []
        self.place_name: list[str | None] = []
        self.place_kind: list[str | None] = []
        self.address: list[str | None] = []
        self.confidence: array[float] = array("d")
        self.source_index: array[int] = array("q")

    def __len__(self) -> int:
        return len(self.started_at_us)

    def append(
        self,
        *,
        kind: str,
        started_at_us: int,
        finished_at_us: int | None,
        latitude: float,
        longitude: float,
        radius_m: float | None,
        place_id: str | None,
        place_name: str | None,
        place_kind: str | None,
        address: str | None,
        confidence: float | None,
        source_index: int,
    ) -> None:
        """Add one observation (already validated)."""
        self.kind.append(kind)
        self.started_at_us.append(started_at_us)
        self.finished_at_us.append(0 if finished_at_us is None else finished_at_us)
        self.finished_known.append(finished_at_us is not None)
        self.latitude.append(latitude)
        self.longitude.append(longitude)
        self.radius_m.append(_NAN if radius_m is None else radius_m)
        self.place_id.append(place_id)
        self.place_name.append(place_name)
        self.place_kind.append(place_kind)
        self.address.append(address)
        self.confidence.append(_NAN if confidence is None else confidence)
        self.source_index.append(source_index)

    def build(self) -> pa.Table:
        """The observations sorted by start time, then file position."""
        started = _ints(self.started_at_us)
        index = _ints(self.source_index)
        order = np.lexsort((index, started))
        finished_unknown = np.frombuffer(bytes(self.finished_known), dtype=np.bool_) == 0

        def strings(values: Sequence[str | None]) -> pa.Array:
            return pa.array(values, type=pa.string()).take(pa.array(order))

        return pa.Table.from_arrays(
            [
                strings(self.kind),
                _timestamps(started[order]),
                _timestamps(_ints(self.finished_at_us)[order], finished_unknown[order]),
                pa.array(_floats(self.latitude)[order], type=pa.float64()),
                pa.array(_floats(self.longitude)[order], type=pa.float64()),
                _nullable_floats(_floats(self.radius_m)[order]),
                strings(self.place_id),
                strings(self.place_name),
                strings(self.place_kind),
                strings(self.address),
                _nullable_floats(_floats(self.confidence)[order]),
                pa.array(index[order], type=pa.int64()),
            ],
            schema=OBSERVATION_SCHEMA,
        )
