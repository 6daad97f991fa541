"""Identity and access: tokens, roles and scopes, and the one policy of who may do what."""
