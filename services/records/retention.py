"""How long a record is kept (records/holds.py suspends it, records/purging.py ends it).

A record is kept for a period after its last change: the period of its `purpose`, at most
`RILON_RETENTION_PERSONAL_DATA_DAYS` when it holds personal data. The date is fixed when a
version is written and travels with it (`retain_until`, in events too), so partners holding a
copy know when to let it go; a change of the settings applies from each record's next change.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.settings import Settings
from models.envelope import Handling, Purpose


@dataclass(frozen=True)
class Retention:
    """Days kept after the last change, by purpose, and at most for personal data."""

    search_and_rescue: int
    border_management: int
    law_enforcement: int
    humanitarian: int
    personal_data: int

    @classmethod
    def of(cls, settings: Settings) -> "Retention":
        return cls(
            search_and_rescue=settings.retention_search_and_rescue_days,
            border_management=settings.retention_border_management_days,
            law_enforcement=settings.retention_law_enforcement_days,
            humanitarian=settings.retention_humanitarian_days,
            personal_data=settings.retention_personal_data_days,
        )

    def days(self, purpose: Purpose, personal_data: bool) -> int:
        days: int = getattr(self, purpose.value)
        return min(days, self.personal_data) if personal_data else days

    def until(self, changed_at: datetime, handling: Handling) -> datetime:
        """When a record last changed at `changed_at`, under `handling`, goes."""
        purpose = handling.purpose or Purpose.BORDER_MANAGEMENT  # set by the model's default
        return changed_at + timedelta(days=self.days(purpose, handling.personal_data))


DEFAULT = Retention.of(Settings.model_construct())  # the documented defaults
