"""Finding the line that makes a CSV file unreadable, for errors that name it.

Arrow reads CSV fast but says little about where it failed; these helpers look again, only once
a read has failed, and find the first line with the wrong number of fields or the first value
that does not convert.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from citytrace.errors import InputError

_CHECK_ROWS = 1 << 16


def structure_error(file: Path, n_fields: int) -> InputError:
    """The first line whose number of fields differs from the header's."""
    with file.open("r", encoding="utf-8-sig", newline="") as text:
        records = csv.reader(text)
        for fields in records:
            if fields and len(fields) != n_fields:
                return InputError(
                    f"has {len(fields)} fields, the header has {n_fields}",
                    path=str(file),
                    location=f"line {records.line_num}",
                )
    return InputError("is not a valid CSV file", path=str(file))


def first_failing_cast(values: pa.Array, target: pa.DataType) -> int:
    """Row of the first value that does not cast to ``target``, or -1 (bisection of casts,
    block by block so that a late failure in a long column stays cheap)."""
    for lo in range(0, len(values), _CHECK_ROWS):
        block = values.slice(lo, _CHECK_ROWS)
        if casts(block, target):
            continue
        good, bad = 0, len(block)  # block[:good] casts, block[:bad] does not
        while bad - good > 1:
            mid = (good + bad) // 2
            if casts(block.slice(0, mid), target):
                good = mid
            else:
                bad = mid
        return lo + bad - 1
    return -1


def casts(values: pa.Array, target: pa.DataType) -> bool:
    """Whether every value converts to ``target``."""
    try:
        values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
