"""Webhook fan-out: outbox expansion, dispatcher, signing and the SSRF-safe transport."""
