"""The reference engine: the exact test of :mod:`citytrace.exposure.definition` on every pair.

No index, no keys: every case visit against every record, in blocks. Its cost grows with visits
times records, so it serves small inputs and the tests that check the other engines against it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.exposure._common import (
    RAW_SCHEMA,
    PreparedRecords,
    close_pairs,
    own_persons,
    summarise_pairs,
)
from citytrace.exposure.definition import ExposureRule, gap_m, overlap_us
from citytrace.exposure.visits import CaseVisits

__all__ = ["search_brute"]

_BLOCK_PAIRS = 4_000_000


def search_brute(visits: CaseVisits, records: PreparedRecords, rule: ExposureRule) -> pa.Table:
    """Every contact pair by exhaustive comparison, aggregated as ``RAW_SCHEMA``."""
    table = records.keyed
    if visits.size == 0 or table.num_rows == 0:
        return RAW_SCHEMA.empty_table()
    r_lat = _floats(table, "latitude")
    r_lon = _floats(table, "longitude")
    r_rad = _floats(table, "radius_m")
    r_start = _times(table, "started_at")
    r_end = _times(table, "finished_at")
    person = np.asarray(table.column("person_id").to_numpy(), np.int64)
    encoded = pc.dictionary_encode(table.column("kind").combine_chunks())
    vocabulary = encoded.dictionary.to_pylist()
    order = sorted(range(len(vocabulary)), key=lambda i: vocabulary[i])
    rank = np.empty(len(vocabulary), np.int64)
    rank[order] = np.arange(len(vocabulary))
    kind = rank[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.int64)]
    kinds = [vocabulary[i] for i in order]
    own, has_own = own_persons(visits, records.person_ids)

    parts: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                      NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]] = []  # fmt: skip
    block = max(1, _BLOCK_PAIRS // table.num_rows)
    for lo in range(0, visits.size, block):
        hi = min(lo + block, visits.size)
        v = np.arange(lo, hi)[:, None]
        overlap = overlap_us(
            visits.started_us[v], visits.finished_us[v], r_start[None, :], r_end[None, :]
        )
        gap = gap_m(
            visits.latitude[v],
            visits.longitude[v],
            visits.radius_m[v],
            r_lat[None, :],
            r_lon[None, :],
            r_rad[None, :],
        )
        hit = (overlap >= rule.min_overlap_us) & (gap <= rule.limit_m)
        hit &= ~(has_own[v] & (own[v] == person[None, :]))
        vi, ri = np.nonzero(hit)
        vi = vi + lo
        close = close_pairs(gap[hit], overlap[hit], visits.radius_m[vi], r_rad[ri], rule)
        parts.append(
            (
                vi,
                ri,
                np.maximum(visits.started_us[vi], r_start[ri]),
                np.minimum(visits.finished_us[vi], r_end[ri]),
                overlap[hit],
                gap[hit],
                close,
            )
        )
    vi = np.concatenate([p[0] for p in parts])
    ri = np.concatenate([p[1] for p in parts])
    return summarise_pairs(
        visits.case_code[vi],
        person[ri],
        np.concatenate([p[2] for p in parts]),
        np.concatenate([p[3] for p in parts]),
        np.concatenate([p[4] for p in parts]),
        np.concatenate([p[5] for p in parts]),
        kind[ri],
        kinds,
        np.concatenate([p[6] for p in parts]),
    )


def _floats(table: pa.Table, name: str) -> NDArray[np.float64]:
    return np.asarray(table.column(name).to_numpy(), np.float64)


def _times(table: pa.Table, name: str) -> NDArray[np.int64]:
    return np.asarray(table.column(name).cast(pa.int64()).to_numpy(), np.int64)
