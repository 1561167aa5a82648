"""Retention: each kind of personal record is purged a set time after its use ends, keeping
aggregate counts for statistics. Policies in :mod:`.policies`, the purge in :mod:`.service`, the
in-service schedule in :mod:`.scheduler`."""
