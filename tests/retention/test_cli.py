"""`citytrace retention purge [--dry-run]` on the embedded database of the test's home."""

from __future__ import annotations

import json

from citytrace.cli.retention import app
from tests.cli_runner import invoke


class TestRetentionCommands:
    def test_dry_run_and_purge(self) -> None:
        dry = invoke(app, "purge", "--dry-run").output
        assert "evidence_and_traces: due 0 cases, 0 evidence_files, 0 visits" in dry
        assert "(30 days after the case is closed)" in dry
        assert "check_ins: due 0 check_ins, 0 files (28 days after the check-in)" in dry
        assert "published_places: due 0 places (14 days after" in dry
        result = json.loads(invoke(app, "purge", "--json").output)
        assert result["dry_run"] is False
        assert result["results"]["contacts"] == {"contacts": 0}
        assert result["results"]["published_places"] == {"places": 0}

    def test_policies(self) -> None:
        shown = invoke(app, "policies").output
        assert "contacts: 14 days after the contact's follow-up ends" in shown
        assert "(CITYTRACE_RETENTION_CHECKIN_DAYS)" in shown
