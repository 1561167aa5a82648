"""Tables of the disclosure domain."""

from __future__ import annotations
