"""Screening clinics: the registry, booking, the arrival queue, samples, results and their
notification, the clinic finder and capacity planning."""

from citytrace.retention.policies import Counts, PurgeContext, register_purger


def _purge_screening(ctx: PurgeContext) -> Counts:
    from citytrace.screening.retention import purge_screening

    return purge_screening(ctx)


register_purger("screening", _purge_screening)
