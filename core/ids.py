"""Ids of new rows: UUIDs ordered by time (RFC 9562, version 7).

Every table that grows with traffic has an index that begins with such an id: records, events,
audit rows and deliveries their own, a record's versions and a delivery's attempts their
parent's. A random (version 4) id lands each insert on a random page of that index, so once an
index outgrows the page cache every insert reads and rewrites a page nobody else touched; ids
in time order are appended at the index's end, where the pages are hot (docs/DECISIONS.md,
"Ids in time order").
"""

import uuid_utils


def new_id() -> str:
    """A fresh id: its first 48 bits the time in milliseconds, then 74 bits of counter and
    randomness, increasing within the process."""
    return str(uuid_utils.uuid7())
