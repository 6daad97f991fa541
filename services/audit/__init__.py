"""The audit trail: how each row is cleaned, chained and verified, and what an auditor may read."""
