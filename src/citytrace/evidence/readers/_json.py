"""Streaming JSON with ijson: items under a path, and syntax errors with their byte offset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from ._io import WHITESPACE, open_binary, skip_bom
from ._model import EvidenceFormatError

__all__ = ["BACKEND", "first_byte", "iter_items"]

try:
    BACKEND: Any = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - the C backend ships in ijson's wheels
    BACKEND = ijson
_BUFFER_BYTES = 1 << 16


class _CountingReader:
    """A byte stream that knows how far it has been read.

    From ``trickle_from`` on it hands out one byte per read, so that the parser fails right
    after the byte that broke the JSON and :attr:`offset` tells which byte that was.
    """

    def __init__(self, stream: BinaryIO, start: int, trickle_from: int | None = None) -> None:
        self._stream = stream
        self.offset = start
        self.chunk_start = start
        self._trickle_from = trickle_from

    def read(self, size: int = -1) -> bytes:
        if self._trickle_from is not None:
            if self.offset >= self._trickle_from:
                size = min(size, 1)
            elif size < 0 or self.offset + size > self._trickle_from:
                size = self._trickle_from - self.offset
        data = self._stream.read(size)
        self.chunk_start = self.offset
        self.offset += len(data)
        return data


def first_byte(path: Path) -> bytes:
    """The first byte of the JSON text (after a BOM and white space), ``b""`` if none."""
    with open_binary(path) as stream:
        skip_bom(stream)
        while chunk := stream.read(_BUFFER_BYTES):
            stripped = chunk.lstrip(WHITESPACE)
            if stripped:
                return stripped[:1]
    return b""


def iter_items(path: Path, prefix: str) -> Iterator[object]:
    """Each JSON value at ``prefix`` (ijson syntax: ``"locations.item"``), streamed.

    Numbers come as ``int`` or ``float``. Invalid or truncated JSON raises
    :class:`EvidenceFormatError` with the byte offset; the values never appear in it.
    """
    with open_binary(path) as stream:
        reader = _CountingReader(stream, skip_bom(stream))
        try:
            yield from BACKEND.items(reader, prefix, use_float=True, buf_size=_BUFFER_BYTES)
        except ijson.JSONError as exc:
            raise _syntax_error(path, stream, reader, exc) from None


def _first_line(exc: Exception) -> str:
    # yajl's message goes on with a snippet of the file around the error: never show that.
    message = exc.args[0] if exc.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message).split("\n", 1)[0].strip().rstrip(".") or "syntax error"


def _syntax_error(
    path: Path, stream: BinaryIO, reader: _CountingReader, exc: Exception
) -> EvidenceFormatError:
    reason = _first_line(exc)
    if "premature EOF" in reason:
        end = reader.offset
        return EvidenceFormatError(
            f"JSON truncated at byte {end}", path=str(path), location=f"byte {end}"
        )
    offset = _locate(stream, reader.chunk_start)
    # The second pass fails where the first did; the byte range is only a fallback.
    where = f"bytes {reader.chunk_start}-{reader.offset}" if offset is None else f"byte {offset}"
    return EvidenceFormatError(
        f"invalid JSON ({reason}) at {where}", path=str(path), location=where
    )


def _locate(stream: BinaryIO, failing_chunk_start: int) -> int | None:
    """The offset of the byte at which the JSON breaks, found by parsing again.

    The second pass reads whole chunks up to the chunk that failed, then byte by byte.
    """
    stream.seek(0)
    reader = _CountingReader(stream, skip_bom(stream), trickle_from=failing_chunk_start)
    try:
        for _ in BACKEND.basic_parse(reader, buf_size=_BUFFER_BYTES):
            pass
    except ijson.JSONError:
        return max(reader.offset - 1, 0)
    return None
