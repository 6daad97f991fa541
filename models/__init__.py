"""Tables and schemas; importing this package registers every table on the metadata."""

from models.registry import Agency, Client, Country
from models.tokens import RevokedToken

__all__ = ["Agency", "Client", "Country", "RevokedToken"]
