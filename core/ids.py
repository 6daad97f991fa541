"""Ids of new rows: UUIDs ordered by time (RFC 9562, version 7).

Every table that grows with traffic (records, their versions, events, audit rows, deliveries,
their attempts) has a unique index on such an id. A random (version 4) id lands each insert
on a random page of that index, so once an index outgrows the page cache every insert reads
and rewrites a page nobody else touched; ids in time order are appended at the index's end,
where the pages are hot (docs/DECISIONS.md, "Ids in time order").
"""

import uuid_utils


def new_id() -> str:
    """A fresh id: its first 48 bits the time in milliseconds, then a counter and randomness
    (74 bits), increasing within the process."""
    return str(uuid_utils.uuid7())
