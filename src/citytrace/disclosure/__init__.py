"""Public disclosure of places where contacts may have occurred, and the open-data feed.

Two planes, never mixed: what links an entry to cases and visits stays in the investigation
store; the public entries carry no case, person or per-person order.
"""

from citytrace.retention.policies import Counts, PurgeContext, register_purger


def _purge_published_places(ctx: PurgeContext) -> Counts:
    from citytrace.disclosure.scheduler import purge_published_places

    return purge_published_places(ctx)


register_purger("published_places", _purge_published_places)
