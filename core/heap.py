"""Keep the garbage collector off the objects a process builds once at start-up.

A started service holds ~160,000 objects that live as long as it does: modules, routes,
pydantic validators, SQLAlchemy's compiled statements. Each full collection walked all of them,
~120 ms with every thread stopped (the GIL is held throughout), which set B3's p99
(docs/PERFORMANCE.md). Frozen, they are never walked again; what requests create is still
collected as usual.
"""

import gc


def freeze_startup_objects() -> None:
    """Collect once, then move everything that survived out of the collector's sight."""
    gc.collect()
    gc.freeze()
