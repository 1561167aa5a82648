"""A seeded synthetic city: residents, their daily routes, and the evidence they leave.

Everything derives from ``(seed, person_id)``: any person can be regenerated alone, exactly
as in the whole city. Use :func:`generate` for demo and test sizes, :func:`write_city` to
stream a city of millions to Parquet, and :func:`export_person_evidence` for import tests.
"""

from citytrace.synth.city import SynthCity, generate, generate_people, write_city
from citytrace.synth.config import EvidenceRates, SynthConfig
from citytrace.synth.export import export_person_evidence
from citytrace.synth.kinds import CHECKIN_KINDS, KIND_NAMES, PAYING_KINDS, VENUE_KINDS

__all__ = [
    "CHECKIN_KINDS",
    "KIND_NAMES",
    "PAYING_KINDS",
    "VENUE_KINDS",
    "EvidenceRates",
    "SynthCity",
    "SynthConfig",
    "export_person_evidence",
    "generate",
    "generate_people",
    "write_city",
]
