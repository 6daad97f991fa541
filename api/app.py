"""The application factory."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from fastapi import Depends, FastAPI

from api import console, docs, errors
from api.auditing import AuditMiddleware
from api.deps import Runtime, Webhooks
from api.errors import problems
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.observability import ObservabilityMiddleware
from api.operation_ids import operation_id
from api.parameters import refuse_bad_parameters
from api.ratelimit import Buckets, RateLimiter
from api.routers import (
    alerts,
    audit,
    auth,
    cases,
    distress,
    feed,
    geo,
    health,
    metrics,
    registry,
    subscriptions,
)
from api.throttle import TokenThrottle
from auth.tokens import TokenKeys
from core.crypto import SecretBox
from core.db import Database
from core.heap import freeze_startup_objects
from core.metrics import Metrics
from core.netguard import networks
from core.resolver import Resolver
from core.settings import Settings, get_settings
from delivery.dispatcher import build as build_dispatcher
from delivery.replays import ReplayLimits
from delivery.telemetry import BacklogCollector
from services.records.polls import Polls
from services.records.retention import Retention
from services.registry.bootstrap import ensure_admin
from services.webhooks.subscriptions import WebhookPolicy

log = logging.getLogger(__name__)

DESCRIPTION = """
Incident alerts and vessel-in-distress reports shared between the coast guards, maritime police,
immigration services, navies and rescue-coordination centres of the Bali Process network.

**Getting in.** Press **Authorize**, enter your agency client's `client_id` and `client_secret`
(client credentials flow) and leave the scopes unticked to get every scope your roles grant
(tick some only to narrow the token). Tokens last 15 minutes: when calls answer 401, press
Authorize → Logout → Authorize again. Every request you make is audited.

**Errors** are `application/problem+json` (RFC 9457): `title`, `detail`, and for invalid input
an `errors` list naming each field. Quote the `request_id` when you report a problem.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = Database(
        settings.database_url,
        max_batch=settings.writer_max_batch,
        timeout=settings.db_timeout_seconds,
    )
    box = SecretBox(settings.secrets_key_bytes())
    allowed = networks(settings.webhook_allowed_networks)
    instruments = Metrics()
    buckets = Buckets(db)
    instruments.add_collectors([BacklogCollector(db)])
    runtime = Runtime(
        settings=settings,
        db=db,
        keys=TokenKeys.from_settings(settings),
        limiter=RateLimiter(buckets, settings.rate_limit_per_minute, settings.rate_limit_burst),
        throttle=TokenThrottle(buckets, settings),
        webhooks=Webhooks(
            WebhookPolicy(box, settings.max_subscriptions_per_agency),
            allowed,
            ReplayLimits(settings.replay_max_days, settings.replay_max_events),
            Resolver(allowed, timeout=settings.webhook_connect_timeout_seconds),
        ),
        metrics=instruments,
        retention=Retention.of(settings),
        polls=Polls(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        db.start()
        admin_id, admin_secret = settings.bootstrap_admin_id, settings.bootstrap_admin_secret
        if admin_id and admin_secret:
            secret = admin_secret.get_secret_value()
            await anyio.to_thread.run_sync(partial(db.run_write, ensure_admin, admin_id, secret))
        stop = asyncio.Event()
        dispatcher = None
        if settings.dispatcher:
            dispatcher = asyncio.create_task(build_dispatcher(settings, db, instruments).run(stop))
        freeze_startup_objects()
        try:
            yield
        finally:
            stop.set()
            if dispatcher is not None:
                await dispatcher
            runtime.webhooks.resolver.close()
            db.close()

    app = FastAPI(
        title="RILON Liaison API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        responses=problems(400, 413, 422, 429, 500),  # 422: any bad query parameter
        dependencies=[Depends(refuse_bad_parameters)],
        generate_unique_id_function=operation_id,
        # The service's metrics are its own (Prometheus, /metrics) and it exports no traces.
        # FastAPI's OpenTelemetry hooks would otherwise look for a configured provider on
        # every request: 4 % of the event loop's time in B1's profile.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = runtime
    errors.install(app)
    docs.install(app)
    console.install(app)
    # FastAPI tries each route in turn until one matches, so the records' routes, which take
    # most requests, come first (7 % of B1's CPU a request). /docs orders its groups by TAGS.
    routers = (
        alerts,
        distress,
        health,
        metrics,
        auth,
        registry,
        cases,
        geo,
        feed,
        subscriptions,
        audit,
    )
    for module in routers:
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware, runtime=runtime)
    app.add_middleware(ObservabilityMiddleware, metrics=instruments, access_log=settings.access_log)
    app.add_middleware(RequestContextMiddleware)
    return app
