"""Domain operations, a package per domain (records, audit, registry, webhooks). Each takes a
Session as its first argument and never commits: the caller's unit of work does."""
