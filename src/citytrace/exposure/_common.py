"""What the engines share: the contacts schema, prepared records, aggregation of pairs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from citytrace.exposure import _kernels
from citytrace.exposure._checks import UTC_US
from citytrace.exposure.definition import TOLERANCE_M, ExposureRule
from citytrace.exposure.records import keyed_records, normalise_records
from citytrace.exposure.visits import CaseVisits

CONTACT_COLUMNS = (
    "case_id",
    "person_id",
    "first_contact_at",
    "last_contact_at",
    "max_overlap_min",
    "min_distance_m",
    "evidence_kinds",
    "n_contacts",
    "risk_class",
)

RAW_SCHEMA = pa.schema(
    [
        ("case_code", pa.int64()),
        ("person_id", pa.int64()),
        ("first_us", pa.int64()),
        ("last_us", pa.int64()),
        ("max_overlap_us", pa.int64()),
        ("min_distance_m", pa.float64()),
        ("evidence_kinds", pa.string()),
        ("n_contacts", pa.int64()),
        ("close", pa.bool_()),
    ]
)
"""What every engine computes, per (case, person): person ids in the engine's id space."""


@dataclass(frozen=True)
class PreparedRecords:
    """Keyed records of an in-memory table, with text person ids replaced by codes.

    ``person_ids`` maps a code back to the original id (None: the ids are the codes).
    """

    keyed: pa.Table
    person_ids: pa.Array | None


def prepare_table(records: pa.Table) -> PreparedRecords:
    """Check, normalise and key an in-memory table of records; text ids become codes."""
    normal = normalise_records(records)
    person = normal.column("person_id")
    mapping = None
    if person.type != pa.int64():
        mapping = pc.unique(person).sort()
        codes = pc.index_in(person, mapping).cast(pa.int64())
        normal = normal.set_column(0, "person_id", codes)
    return PreparedRecords(keyed=keyed_records(normal), person_ids=mapping)


def own_persons(
    visits: CaseVisits, person_ids: pa.Array | None
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Each visit's own person in the engine's id space (the records' int64 ids, or the codes of
    ``person_ids``), and whether it has one there."""
    own = visits.own_person
    if person_ids is None and own.type == pa.int64():
        if own.null_count == len(own):  # no own persons (the usual case): no round trips
            return np.zeros(len(own), np.int64), np.zeros(len(own), bool)
        if own.null_count == 0:
            return np.array(own.to_numpy(), np.int64), np.ones(len(own), bool)
    if person_ids is not None:
        codes = pc.index_in(own.cast(pa.string()), person_ids.cast(pa.string()))
        values = np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
        return values, values >= 0
    if not pa.types.is_integer(own.type):
        # Text ids against integer records: only those written as integers can match.
        texts = own.to_pylist()
        own = pa.array(
            [int(v) if v is not None and v.lstrip("-").isdigit() else None for v in texts],
            pa.int64(),
        )
    values = np.asarray(own.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    known = np.asarray(own.is_valid().to_numpy(zero_copy_only=False), bool)
    return values, known


def summarise_pairs(
    case_code: NDArray[np.int64],
    person: NDArray[np.int64],
    from_us: NDArray[np.int64],
    to_us: NDArray[np.int64],
    overlap: NDArray[np.int64],
    gap: NDArray[np.float64],
    kind_code: NDArray[np.int64],
    kinds: list[str],
    close: NDArray[np.bool_],
) -> pa.Table:
    """Contact pairs aggregated per (case, person), as :data:`RAW_SCHEMA`.

    ``kinds`` is the sorted vocabulary of ``kind_code``.
    """
    if case_code.size == 0:
        return RAW_SCHEMA.empty_table()
    order = np.lexsort((person, case_code))
    case_code, person = case_code[order], person[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (case_code[1:] != case_code[:-1]) | (person[1:] != person[:-1])])
    )
    first = np.minimum.reduceat(from_us[order], starts)
    last = np.maximum.reduceat(to_us[order], starts)
    longest = np.maximum.reduceat(overlap[order], starts)
    nearest = np.minimum.reduceat(np.maximum(gap[order], 0.0), starts)
    counts = np.diff(np.append(starts, case_code.size))
    any_close = np.maximum.reduceat(close[order].astype(np.int8), starts).astype(bool)
    if len(kinds) <= 63:
        bits = np.left_shift(np.int64(1), kind_code[order])
        masks = np.bitwise_or.reduceat(bits, starts)
        names = {
            int(m): ",".join(k for i, k in enumerate(kinds) if int(m) >> i & 1)
            for m in np.unique(masks)
        }
        evidence = [names[int(m)] for m in masks]
    else:  # too many kinds for a bit mask: the slow way
        codes = kind_code[order]
        ends = np.append(starts[1:], codes.size)
        evidence = [
            ",".join(kinds[c] for c in np.unique(codes[a:b]))
            for a, b in zip(starts, ends, strict=True)
        ]
    return pa.table(
        {
            "case_code": case_code[starts],
            "person_id": person[starts],
            "first_us": first,
            "last_us": last,
            "max_overlap_us": longest,
            "min_distance_m": nearest,
            "evidence_kinds": pa.array(evidence, pa.string()),
            "n_contacts": counts.astype(np.int64),
            "close": any_close,
        },
        schema=RAW_SCHEMA,
    )


def close_pairs(
    gap: NDArray[np.float64],
    overlap: NDArray[np.int64],
    visit_radius: NDArray[np.float64],
    record_radius: NDArray[np.float64],
    rule: ExposureRule,
) -> NDArray[np.bool_]:
    """Which contact pairs meet the close-contact rule."""
    close = rule.close
    return np.asarray(
        (gap <= close.max_distance_m + TOLERANCE_M)
        & (overlap >= close.min_overlap_us)
        & (visit_radius <= close.max_radius_m)
        & (record_radius <= close.max_radius_m)
    )


def finish(
    raw: pa.Table, visits: CaseVisits, person_ids: pa.Array | None, *, presorted: bool = False
) -> pa.Table:
    """The contacts table from :data:`RAW_SCHEMA`: ids restored, units converted, sorted
    (``presorted``: already sorted by case and person)."""
    if not presorted:
        raw = raw.sort_by([("case_code", "ascending"), ("person_id", "ascending")])
    case_id = pc.take(visits.case_ids, raw.column("case_code"))
    person = raw.column("person_id")
    if person_ids is not None:
        person = pc.take(person_ids, person)
    overlap_min = pc.divide(raw.column("max_overlap_us").cast(pa.float64()), 60_000_000.0)
    risk = pc.if_else(raw.column("close"), "close", "casual")
    return pa.table(
        {
            "case_id": case_id,
            "person_id": person,
            "first_contact_at": raw.column("first_us").cast(UTC_US),
            "last_contact_at": raw.column("last_us").cast(UTC_US),
            "max_overlap_min": overlap_min,
            "min_distance_m": raw.column("min_distance_m"),
            "evidence_kinds": raw.column("evidence_kinds"),
            "n_contacts": raw.column("n_contacts"),
            "risk_class": risk,
        }
    )


def raw_from_arrays(*columns: NDArray[np.generic] | pa.Array) -> pa.Table:
    """Contacts per (case, person), one array a column of :data:`RAW_SCHEMA` in its order."""
    return pa.table(dict(zip(RAW_SCHEMA.names, columns, strict=True)), schema=RAW_SCHEMA)


class Texts(NamedTuple):
    """A list of texts as Arrow's string buffers, to be picked by code (:meth:`take`) in one
    compiled pass rather than through Arrow's ``take`` (whose dispatch is most of the cost of
    the few contacts of a search)."""

    texts: pa.Array
    offsets: NDArray[np.int32]
    data: NDArray[np.uint8]
    longest: int

    @classmethod
    def of(cls, texts: list[str]) -> Texts:
        encoded = [t.encode() for t in texts]
        lengths = np.array([len(b) for b in encoded], np.int32)
        offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int32)]).astype(np.int32)
        data = np.frombuffer(b"".join(encoded), np.uint8).copy()
        return cls(pa.array(texts, pa.string()), offsets, data, int(lengths.max(initial=0)))

    def take(self, codes: NDArray[np.integer]) -> pa.Array:
        """The texts of ``codes`` (each below the number of texts) as a string array."""
        if codes.size * self.longest >= 2**31:  # beyond a string array's offsets: Arrow's way
            return self.texts.take(pa.array(codes))
        offsets, data = _kernels.take_texts(codes, self.offsets, self.data)
        return pa.Array.from_buffers(
            pa.string(), codes.size, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )


_RISK = Texts.of(["casual", "close"])  # by whether the contact is close


def contacts_from_arrays(
    case_code: NDArray[np.int64],
    person: NDArray[np.int64],
    first_us: NDArray[np.int64],
    last_us: NDArray[np.int64],
    max_overlap_us: NDArray[np.int64],
    min_distance_m: NDArray[np.float64],
    evidence_kinds: pa.Array,
    n_contacts: NDArray[np.int64],
    close: NDArray[np.bool_],
    case_ids: pa.Array,
    person_ids: pa.Array | None,
) -> pa.Table:
    """What :func:`finish` makes of a presorted raw table, from the raw columns as arrays: the
    same table, with few round trips through Arrow (the fixed cost of a small search)."""
    if case_ids.type == pa.int64() and not case_ids.null_count:
        case_id = _plain(pa.int64(), case_ids.to_numpy()[case_code])
    else:
        case_id = case_ids.take(_plain(pa.int64(), case_code))
    person_id = _plain(pa.int64(), person)
    if person_ids is not None:
        person_id = person_ids.take(person_id)
    return pa.Table.from_arrays(
        [
            case_id,
            person_id,
            _plain(UTC_US, first_us),
            _plain(UTC_US, last_us),
            _plain(pa.float64(), np.divide(max_overlap_us, 60_000_000.0)),
            _plain(pa.float64(), min_distance_m),
            evidence_kinds,
            _plain(pa.int64(), n_contacts),
            _RISK.take(np.ascontiguousarray(close).view(np.uint8)),
        ],
        names=list(CONTACT_COLUMNS),
    )


def _plain(kind: pa.DataType, values: NDArray[np.generic]) -> pa.Array:
    """A numpy array of 8-byte values as an Arrow array of ``kind``, without a copy."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(kind, values.size, [None, pa.py_buffer(values)])
