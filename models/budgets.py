"""Rate-limit buckets shared by every process (api/ratelimit.py, api/throttle.py)."""

from sqlmodel import Field, SQLModel


class RateBucket(SQLModel, table=True):
    """One token bucket: `tokens` as of `stamp` (Unix seconds), refilling at the rate its user
    knows. No row is a full bucket, so a row may go once it is full again (`full_at`)."""

    __tablename__ = "rate_bucket"

    key: str = Field(primary_key=True, max_length=200)
    tokens: float
    stamp: float
    full_at: float = Field(index=True)
