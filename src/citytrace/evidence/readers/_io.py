"""Opening evidence files: I/O errors as refusals, the UTF-8 byte-order mark, text lines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ._model import EvidenceFormatError

__all__ = [
    "BOM",
    "HEAD_BYTES",
    "MAX_LINE_BYTES",
    "WHITESPACE",
    "is_blank",
    "iter_text_lines",
    "open_binary",
    "read_head",
    "skip_bom",
]

BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\r\n"
HEAD_BYTES = 64 * 1024
"""How much of a file is sniffed to tell its format or that it is empty."""
MAX_LINE_BYTES = 1 << 20
"""Longest text line accepted; a longer one means the file is not the text format claimed."""


@contextmanager
def open_binary(path: Path) -> Iterator[BinaryIO]:
    """The file opened for reading bytes; an I/O failure becomes :class:`EvidenceFormatError`."""
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise EvidenceFormatError(
            f"cannot open the file: {exc.strerror or type(exc).__name__}", path=str(path)
        ) from None
    with stream:
        yield stream


def skip_bom(stream: BinaryIO) -> int:
    """Move past a UTF-8 byte-order mark if the stream starts with one; the bytes skipped."""
    if stream.read(len(BOM)) == BOM:
        return len(BOM)
    stream.seek(0)
    return 0


def read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the file (fewer if it is shorter)."""
    with open_binary(path) as stream:
        return stream.read(size)


def is_blank(head: bytes) -> bool:
    """Whether the head of a file holds nothing but a byte-order mark and white space."""
    return not head.removeprefix(BOM).strip(WHITESPACE)


def iter_text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file, line endings kept, a leading BOM dropped.

    Each line is decoded on its own so that a decoding error names its exact line.
    """
    with open_binary(path) as stream:
        number = 0
        while True:
            raw = stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES:
                raise EvidenceFormatError(
                    f"line longer than {MAX_LINE_BYTES} bytes: not a text file of this format",
                    path=str(path),
                    location=f"line {number}",
                )
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EvidenceFormatError(
                    f"not UTF-8 text (bad byte at column {exc.start + 1})",
                    path=str(path),
                    location=f"line {number}",
                ) from None
            yield number, line
