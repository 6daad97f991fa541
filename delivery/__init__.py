"""Webhook fan-out: everything between an event and a partner's receiver.

Where each decision is made:
- who gets an event: `expansion.py` (the subscription's filter, `matching.py`, and the one
  access policy, `auth/policy.py`); replays apply the same rule (`replays.py`);
- what is sent next, fairly across subscriptions: `outbox.py` (the claim) and `pacing.py`
  (turns and circuits);
- how it is sent: `signing.py` (Standard Webhooks), `transport.py` (the SSRF-safe client);
- what a result means (retries, backoff, disabling, the disclosure audit row): `settling.py`
  with the schedule in `jobs.py`;
- the loop that runs all of it: `dispatcher.py` (in `rilon serve` or `rilon worker`).
What agency admins ask for by hand (ping, redeliver) is `manual.py`; what they see of
deliveries, `reads.py`. Nothing in `services/` imports this package.
"""
