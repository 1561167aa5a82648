"""GPX 1.0 and 1.1 (topografix.com/GPX): timed track points, route points and waypoints.

The file is streamed with defusedxml's ``iterparse`` (no DTDs, entities or external references)
and each point is dropped from the tree once read, so memory stays flat however long the track.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, iterparse

from ._collect import Collector
from ._io import open_binary
from ._values import RecordError, iso_to_us, number_position

__all__ = ["read_gpx"]

_POINTS = frozenset({"trkpt", "rtept", "wpt"})
# Elements numbered in issue locations, and the numbering each restarts inside it.
_NUMBERED = frozenset({"trk", "trkseg", "rte", *_POINTS})
_RESTARTS = {"trk": ("trkseg",), "trkseg": ("trkpt",), "rte": ("rtept",)}
# Finished children kept in a parent before they are deleted from it.
_PRUNE_EVERY = 512


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


class _Position:
    """The path of the current point, e.g. ``trk[0].trkseg[2].trkpt[17]``."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._path: list[str] = []

    def enter(self, name: str) -> None:
        if name in _NUMBERED:
            number = self._counts.get(name, -1) + 1
            self._counts[name] = number
            self._path.append(f"{name}[{number}]")
            for child in _RESTARTS.get(name, ()):
                self._counts.pop(child, None)
        else:
            self._path.append("")

    def leave(self) -> None:
        self._path.pop()

    def __str__(self) -> str:
        return ".".join(part for part in self._path if part)


def read_gpx(path: Path, collector: Collector) -> None:
    """Read the points of a GPX file that have a ``<time>`` as fixes (GPX times are UTC)."""
    with open_binary(path) as stream:
        events = iterparse(stream, events=("start", "end"), forbid_dtd=True)
        try:
            untimed = _read_events(collector, events)
        except ParseError as exc:
            line, column = exc.position
            reason = str(exc).split(":", 1)[0]
            raise collector.refuse(
                f"invalid XML ({reason}) at line {line}, column {column + 1}", f"line {line}"
            ) from None
        except DefusedXmlException:
            raise collector.refuse(
                "XML with a DTD, entities or external references is not accepted"
            ) from None
        except LookupError:  # expat asks the codec registry for the declared encoding
            raise collector.refuse("the XML declares an unknown encoding", "line 1") from None
    if untimed:
        collector.warn("gpx", f"{untimed} route points or waypoints without <time> skipped")


def _read_events(collector: Collector, events: Iterable[tuple[str, Any]]) -> int:
    """Turn the parse events into fixes; the number of untimed route points and waypoints."""
    open_elements: list[Any] = []
    finished_children: list[int] = []
    position = _Position()
    points = 0
    untimed = 0
    for event, element in events:
        name = _local(element.tag)
        if event == "start":
            if not open_elements and name != "gpx":
                raise collector.refuse("the root element is not <gpx>: not a GPX file", "line 1")
            open_elements.append(element)
            finished_children.append(0)
            position.enter(name)
            continue
        open_elements.pop()
        finished_children.pop()
        if name in _POINTS:
            if _read_point(collector, element, name, str(position), points):
                untimed += 1
            points += 1
            element.clear()
        position.leave()
        if open_elements:
            # Finished children are a prefix of their parent's children: drop them in batches.
            finished_children[-1] += 1
            if finished_children[-1] >= _PRUNE_EVERY:
                del open_elements[-1][: finished_children[-1]]
                finished_children[-1] = 0
    return untimed


def _read_point(collector: Collector, element: Any, name: str, where: str, index: int) -> bool:
    """Add the point as a fix; True if it is a route point or waypoint without a time."""
    time_text = next(
        (child.text for child in element if _local(child.tag) == "time"),
        None,
    )
    if time_text is None and name != "trkpt":
        return True
    try:
        tracked_at = iso_to_us(time_text, UTC, "time")
        lat, lon = number_position(
            element.get("lat"), element.get("lon"), lat_field="lat", lon_field="lon"
        )
        collector.add_fix(tracked_at, lat, lon, None, index)
    except RecordError as exc:
        collector.reject(*exc.at_path(where))
    return False
