"""Telling the evidence format of a file from its first bytes (its name is only a hint)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import ijson

from ._io import BOM, HEAD_BYTES, WHITESPACE, is_blank, read_head
from ._json import BACKEND
from ._model import EvidenceFormatError, EvidenceKind
from .tabular import LAYOUTS

__all__ = ["detect_kind"]

_JSON_TOP_KEYS = {
    "locations": EvidenceKind.GOOGLE_RECORDS,
    "timelineObjects": EvidenceKind.GOOGLE_SEMANTIC,
    "semanticSegments": EvidenceKind.GOOGLE_TIMELINE,
    "rawSignals": EvidenceKind.GOOGLE_TIMELINE,
    "userLocationProfile": EvidenceKind.GOOGLE_TIMELINE,
}
_SEGMENT_TIMES = {"startTime", "endTime"}
_SEGMENT_KINDS = {"visit", "activity", "timelinePath", "timelineMemory"}
_GPX_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?gpx[\s>/]")
_SEMANTIC_NAME = re.compile(r"\d{4}_[A-Za-z]+\.json")
_JSON_KINDS = {
    EvidenceKind.GOOGLE_RECORDS,
    EvidenceKind.GOOGLE_SEMANTIC,
    EvidenceKind.GOOGLE_TIMELINE,
}
_TEXT_KINDS = {EvidenceKind.GEOLIFE_PLT, *LAYOUTS}


def _name_hint(path: Path) -> EvidenceKind | None:
    name = path.name.lower()
    if name.endswith(".gpx"):
        return EvidenceKind.GPX
    if name.endswith(".plt"):
        return EvidenceKind.GEOLIFE_PLT
    if name == "records.json":
        return EvidenceKind.GOOGLE_RECORDS
    if name in {"timeline.json", "location-history.json"}:
        return EvidenceKind.GOOGLE_TIMELINE
    if _SEMANTIC_NAME.fullmatch(name):
        return EvidenceKind.GOOGLE_SEMANTIC
    return None


def _json_kind(body: bytes) -> EvidenceKind | None:
    """The Google layout, from the first top-level key or the first array item's keys."""
    item_keys: set[str] = set()
    try:
        for prefix, event, value in BACKEND.parse(io.BytesIO(body)):
            if event != "map_key":
                if prefix == "item" and event == "end_map":
                    break
                continue
            if prefix == "" and value in _JSON_TOP_KEYS:
                return _JSON_TOP_KEYS[value]
            if prefix == "item":
                item_keys.add(value)
    except ijson.JSONError:
        pass  # the head ends mid-value, or it is not JSON after all
    if item_keys & _SEGMENT_TIMES and item_keys & _SEGMENT_KINDS:
        return EvidenceKind.GOOGLE_TIMELINE
    return None


def _text_kind(body: bytes, *, whole_file: bool) -> tuple[EvidenceKind | None, str]:
    """The text format (GeoLife or a CSV layout) and, if none, what the text looked like."""
    try:
        # A head cut short may end inside a character: that is not an error.
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=whole_file)
    except UnicodeDecodeError:
        return None, "binary content"
    lines = text.splitlines()
    if not lines or "\x00" in text:
        return None, "binary content"
    if lines[0].strip().startswith("Geolife trajectory") or (
        len(lines) > 1 and lines[1].strip() == "WGS 84"
    ):
        return EvidenceKind.GEOLIFE_PLT, ""
    header = {name.strip().lower() for name in next(csv.reader([lines[0]]), [])}
    matches = [
        kind
        for kind, layout in LAYOUTS.items()
        if layout.started in header and layout.place_id in header
    ]
    if len(matches) == 1:
        return matches[0], ""
    return None, "text that is neither a GeoLife .plt file nor a card, cell or checkin CSV"


def detect_kind(path: Path) -> EvidenceKind:
    """The evidence format of a file, told from its first 64 KiB.

    JSON is told apart by its first top-level key (``locations``, ``timelineObjects``,
    ``semanticSegments``...) or, for a top-level array, by the keys of its first item; XML by a
    ``<gpx>`` root; text by the GeoLife header or the CSV header's columns. The file name (such
    as ``Records.json`` or ``*.gpx``) decides only when the content of that family is not
    conclusive.

    Raises
    ------
    EvidenceFormatError
        The file is empty, cannot be read, or is no known format.
    """
    path = Path(path)
    head = read_head(path, HEAD_BYTES)
    if is_blank(head):
        raise EvidenceFormatError("file is empty", path=str(path))
    body = head.removeprefix(BOM).lstrip(WHITESPACE)
    hint = _name_hint(path)
    kind: EvidenceKind | None
    if body[:1] in (b"{", b"["):
        kind, seen, family = _json_kind(body), "JSON of an unknown layout", _JSON_KINDS
    elif body[:1] == b"<":
        kind = EvidenceKind.GPX if _GPX_ROOT.search(body) else None
        seen, family = "XML without a <gpx> root", {EvidenceKind.GPX}
    else:
        kind, seen = _text_kind(body, whole_file=len(head) < HEAD_BYTES)
        family = _TEXT_KINDS if seen != "binary content" else set()
    if kind is None and hint in family:
        kind = hint
    if kind is None:
        raise EvidenceFormatError(f"not a known evidence format ({seen})", path=str(path))
    return kind
