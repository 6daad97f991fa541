"""The standing lookups of one transaction, and what forgets them.

`tokens.load_principal` looks each token's standing up once per transaction (a writer batch
runs many requests of one token in one). Whatever changes a standing in a transaction calls
`standing_changed`, so that every lookup after it in that transaction sees the change.
"""

from sqlmodel import Session

STANDINGS = "rilon_standings"  # session.info: (jti, client_id) -> the liveness row or None


def standing_changed(session: Session) -> None:
    """A client's or token's standing changed in this transaction: write the change now, so
    the standing lookups after it in the same transaction see it, and forget those made before."""
    session.flush()
    session.info.pop(STANDINGS, None)
