"""Tests of citytrace.evidence."""
