"""Trajectories: from a person's position fixes to the places where they stayed.

A pure library: Arrow tables and numpy arrays in and out, inputs never modified.
"""

from __future__ import annotations

from citytrace.trajectory.io import read_fixes, write_staypoints
from citytrace.trajectory.staypoints import generate_staypoints, staypoints_of_track

__all__ = ["generate_staypoints", "read_fixes", "staypoints_of_track", "write_staypoints"]
