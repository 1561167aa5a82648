"""Public disclosure of places where contacts may have occurred, and the open-data feed.

Two planes, never mixed: what links an entry to cases and visits stays in the investigation
store; the public entries carry no case, person or per-person order.
"""
