"""Tests of citytrace.evidence.readers."""
