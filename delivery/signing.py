"""Standard Webhooks signatures: a fresh timestamp and signature for every attempt."""

from datetime import datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

from delivery.jobs import Job

USER_AGENT = "RILON-Liaison-Webhooks/1"


@lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    """Decode each secret once, not for every signature (a subscription's every attempt)."""
    return Webhook(secret)


def signed_headers(job: Job, now: datetime) -> dict[str, str]:
    """`webhook-id` is the event id (stable across retries); during a secret rotation both
    secrets sign, giving two `v1,` signatures."""
    signatures = " ".join(
        _signer(secret).sign(job.event_id, now, job.body) for secret in job.secrets
    )
    return {
        "webhook-id": job.event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
