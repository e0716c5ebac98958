"""`TwilioIngress`: the Serve deployment Twilio and API clients talk to.

Routes:
- `POST /twilio/voice`, `POST /twilio/voice/continue`, `POST /twilio/status` — Twilio's
  signed webhooks (`deployments.twilio_webhooks`);
- `WS /twilio/stream` — signed media streams, `WS /v1/text/stream` — text mode (bearer
  token); each relayed to a session actor (`deployments.call_streams`);
- `GET /v1/config` — the live settings this replica serves, and the last `user_config`
  it refused (bearer token);
- `/v1/campaigns`, `/v1/leads/{number}` — outbound campaigns, a lead's history and the
  do-not-call list (bearer token; `deployments.campaign_api`);
- `GET /v1/calls` — the calls list, filtered and paged (CSV too), and
  `GET /v1/analytics/...` — funnel, outcomes, costs, latency, drop-off, trends and an
  experiment's variants (bearer token; `deployments.analytics_api`);
- `GET /v1/calls/{call_sid}` — the call report; `POST /v1/calls/{call_sid}/tier` — force
  or revoke a live call's premium tier (bearer token; `deployments.tier_admin`);
- `GET /healthz` — liveness, answered from this process alone; `GET /readyz` — readiness:
  Redis, PostgreSQL, the orchestrator and the warm pool checked concurrently, 200 when
  all pass, else 503 naming the failed ones (`deployments.readiness`: the JSON shape,
  each check and its timeout). Readiness only reports: it never refuses a call itself;
- `GET /openapi.json` — the OpenAPI document of all of these (`deployments.api_document`);
- `/console/...` — the operator console's HTML pages, behind a login with the API token
  (`deployments.console`).

The ingress refuses to start without a Twilio auth token and an API token, however it
is started: an empty key would let anyone forge webhooks and streams.

Each replica also sweeps for calls nobody serves any more (`actors.call_sweeper`).

Every open WebSocket holds a `max_ongoing_requests` slot for the whole call, so
serve_config.yaml sizes that to calls per replica plus headroom for webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from actors.call_sweeper import CallSweeper
from actors.registry import CallRegistry
from actors.session_pool import SessionPool
from db.outbox import Outbox
from db.pool import create_pool
from db.queries import call_report
from deployments.analytics_api import AnalyticsApi
from deployments.api_document import serve_api_document
from deployments.api_errors import DATABASE_ERRORS, api_error, records_unavailable
from deployments.auth import TwilioSignatures, bearer_refusal
from deployments.call_draining import keep_calls_through_shutdown
from deployments.call_streams import CallStreams
from deployments.campaign_api import CampaignApi
from deployments.console import Console
from deployments.ingress_capacity import IngressCapacity
from deployments.ingress_metrics import IngressMetrics
from deployments.live_settings import LiveSettings, application_name
from deployments.peer_disconnect import LastMessagesFirst
from deployments.readiness import (
    Readiness,
    deployment_ping,
    orchestrator_check,
    postgresql_check,
    redis_check,
    warm_pool_check,
)
from deployments.stream_tokens import StreamTokens
from deployments.tier_admin import change_tier, parse_tier_change
from deployments.twilio_webhooks import TwilioWebhooks
from deployments.twiml import CONTINUE_PATH
from switchboard.live_config_store import LiveConfigStore
from switchboard.logging_setup import replica_log_format, setup_replica_logging
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.redis_client import connect as connect_redis
from switchboard.settings import SettingsError, VoiceAgentIntegrationConfig, get_settings
from switchboard.tracing import setup_tracing

logger = logging.getLogger("ray.serve")

# How long a new replica waits for its first warm session actor before taking calls.
FIRST_WARM_TIMEOUT_S = 60.0


def required_secrets(settings: VoiceAgentIntegrationConfig) -> tuple[str, str]:
    """The Twilio auth token and the API token; `SettingsError` naming a missing one."""
    missing = [
        f"SWITCHBOARD_{name.upper()}"
        for name in ("twilio_auth_token", "api_token")
        if not settings.secret(name)
    ]
    if missing:
        raise SettingsError(
            f"{' and '.join(missing)} must be set: without them the ingress cannot tell "
            "Twilio and API clients from forgers, so it refuses to start"
        )
    return settings.secret("twilio_auth_token"), settings.secret("api_token")


@serve.deployment
@serve.ingress()
class TwilioIngress:
    """Twilio webhooks and media streams, text mode and the call API."""

    async def __init__(
        self,
        recorder: DeploymentHandle,
        orchestrator: DeploymentHandle | None = None,
        budget: DeploymentHandle | None = None,
        session_num_cpus: float = 0.05,
        dialer: DeploymentHandle | None = None,
    ) -> None:
        settings = get_settings()
        setup_replica_logging(settings.monitoring.log_level)
        setup_tracing("ingress")
        keep_calls_through_shutdown()  # a draining replica's calls end when they end
        auth_token, self._api_token = required_secrets(settings)
        # Held so the recorder is part of the application; it drains the outbox.
        self._recorder = recorder
        # Held for the same reason: it places campaigns' calls (`deployments.dialer`).
        self._dialer = dialer
        self._orchestrator = orchestrator
        self._budget = budget
        self._redis = connect_redis(settings.redis_url)
        prefix, ttl = settings.redis_prefix, settings.performance.session_ttl_s
        self._registry = CallRegistry(self._redis, prefix, ttl)
        app = application_name()
        self._live = LiveSettings(
            settings, app=app, store=LiveConfigStore(self._redis, prefix, app), publish=True
        )
        self._metrics = IngressMetrics()
        # Every count of the integration on the endpoint from start-up, at zero (the
        # sweeper counts failed calls here; the session actors count the rest).
        VoiceAgentIntegrationMetrics.get()
        self._db: asyncpg.Pool | None = None
        self._db_lock = asyncio.Lock()
        signatures = TwilioSignatures(auth_token, settings.public_url)
        tokens = StreamTokens(self._redis, prefix)
        self._pool = SessionPool(
            performance=lambda: self._settings.performance,
            namespace=settings.ray_namespace,
            num_cpus=session_num_cpus,
            orchestrator=orchestrator,
            budget=budget,
            # Session actors are plain Ray actors: Serve's logging_config does not
            # reach them, so they log as this deployment's config says.
            log_format=replica_log_format(),
            settings=settings,
        )
        self._pool.start()
        self._metrics.warm_actors.follow(lambda: self._pool.ready_count)
        # Serve routes calls to a replica once its constructor returns: with no warm
        # actor yet, each would be answered busy (a new replica of an upgrade or a
        # scale-up). Until the first is warm the proxy holds them instead, a few seconds.
        if not await self._pool.first_warm(FIRST_WARM_TIMEOUT_S):
            logger.warning("no session actor warm yet: taking calls anyway (see /readyz)")
        self._capacity = IngressCapacity(self._redis, prefix, live_ttl_s=ttl)
        self._replica = serve.get_replica_context().replica_id.unique_id
        self._announce_task = asyncio.create_task(self._capacity.announce_forever(self._replica))
        self._sweeper = CallSweeper(self._redis, settings, budget=budget)
        self._sweep_task = asyncio.create_task(self._sweeper.run_forever())
        self._streams = CallStreams(
            live=self._live,
            signatures=signatures,
            api_token=self._api_token,
            tokens=tokens,
            registry=self._registry,
            pool=self._pool,
            sweeper=self._sweeper,
            metrics=self._metrics,
        )
        self._keep_alive_task = asyncio.create_task(self._streams.keep_alive_forever())
        self._webhooks = TwilioWebhooks(
            live=self._live,
            signatures=signatures,
            tokens=tokens,
            registry=self._registry,
            outbox=Outbox(self._redis, prefix),
            sweeper=self._sweeper,
            metrics=self._metrics,
            at_capacity=self._at_capacity,
            pool=self._pool,
            database=self._database,
        )
        self._campaigns = CampaignApi(
            api_token=self._api_token,
            database=self._database,
            settings=lambda: self._settings.campaigns,
        )
        self._analytics = AnalyticsApi(api_token=self._api_token, database=self._database)
        self._console = Console(
            api_token=self._api_token,
            public_url=settings.public_url,
            database=self._database,
            registry=self._registry,
        )
        self._readiness = Readiness(
            [
                redis_check(settings.redis_url),
                postgresql_check(self._database),
                orchestrator_check(deployment_ping(orchestrator), lambda: self._live.current),
                warm_pool_check(self._pool),
            ],
            api_token=self._api_token,
        )

    @property
    def _settings(self) -> VoiceAgentIntegrationConfig:
        return self._live.settings

    async def reconfigure(self, user_config: dict) -> None:
        """Serve hands over the deployment's `user_config` (never raises)."""
        await self._live.reconfigure(user_config)

    def __serve_build_asgi_app__(self) -> Starlette:
        webhooks, streams, campaigns = self._webhooks, self._streams, self._campaigns
        analytics = self._analytics
        return Starlette(
            routes=[
                Route("/twilio/voice", webhooks.voice, methods=["POST"]),
                Route(CONTINUE_PATH, webhooks.continue_call, methods=["POST"]),
                Route("/twilio/status", webhooks.status, methods=["POST"]),
                WebSocketRoute("/twilio/stream", streams.media_stream),
                WebSocketRoute("/v1/text/stream", streams.text_stream),
                Route("/v1/calls", analytics.calls, methods=["GET"]),
                Route("/v1/calls/{call_sid}", self.get_call, methods=["GET"]),
                Route("/v1/calls/{call_sid}/tier", self.set_tier, methods=["POST"]),
                Route("/v1/config", self.get_config, methods=["GET"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/readyz", self.readyz, methods=["GET"]),
                Route("/openapi.json", serve_api_document, methods=["GET"]),
                Route("/v1/campaigns", campaigns.create, methods=["POST"]),
                Route("/v1/campaigns/{campaign_id}", campaigns.status, methods=["GET"]),
                Route("/v1/campaigns/{campaign_id}/start", campaigns.start, methods=["POST"]),
                Route("/v1/campaigns/{campaign_id}/pause", campaigns.pause, methods=["POST"]),
                Route("/v1/campaigns/{campaign_id}/resume", campaigns.resume, methods=["POST"]),
                Route("/v1/campaigns/{campaign_id}/cancel", campaigns.cancel, methods=["POST"]),
                Route("/v1/leads/{number}", campaigns.lead, methods=["GET"]),
                Route(
                    "/v1/leads/{number}/do-not-call",
                    campaigns.put_do_not_call,
                    methods=["PUT"],
                ),
                Route(
                    "/v1/leads/{number}/do-not-call",
                    campaigns.delete_do_not_call,
                    methods=["DELETE"],
                ),
                Route("/v1/analytics/funnel", analytics.funnel, methods=["GET"]),
                Route("/v1/analytics/outcomes", analytics.outcomes, methods=["GET"]),
                Route("/v1/analytics/costs", analytics.costs, methods=["GET"]),
                Route("/v1/analytics/latency", analytics.latency, methods=["GET"]),
                Route("/v1/analytics/drop-off", analytics.drop_off, methods=["GET"]),
                Route("/v1/analytics/trends", analytics.trends, methods=["GET"]),
                Route("/v1/analytics/experiments/{name}", analytics.experiment, methods=["GET"]),
                # HTML for people, not part of the API document.
                Mount("/console", app=self._console),
            ],
            middleware=[Middleware(LastMessagesFirst)],
        )

    async def check_health(self) -> None:
        # Depends on nothing outside this process: a Redis outage must not get the
        # replica, and every call it relays, restarted.
        for task, what in ((self._sweep_task, "call sweeper"),
                           (self._keep_alive_task, "keep-alive of held calls"),
                           (self._announce_task, "announcement of this replica's capacity")):
            if task.done():
                raise RuntimeError(f"the {what} stopped")
        if not self._pool.refilling:
            raise RuntimeError("the warm pool's refill stopped")

    async def _at_capacity(self) -> bool:
        """Whether a new inbound call finds the ingress full, across its replicas, calls
        the dialer has ringing included; this replica's own calls if Redis cannot say."""
        per_replica = self._settings.performance.max_calls_per_replica
        try:
            return not await self._capacity.has_room(per_replica)
        except Exception as exc:
            logger.warning(f"could not count calls across replicas: {exc!r}")
            return self._streams.active_calls >= per_replica

    async def _database(self) -> asyncpg.Pool:
        async with self._db_lock:
            if self._db is None:
                self._db = await create_pool(self._settings.database_url, min_size=0)
            return self._db

    # API

    async def get_call(self, request: Request) -> Response:
        if refused := bearer_refusal(request.headers, self._api_token):
            return refused
        try:
            report = await call_report(await self._database(), request.path_params["call_sid"])
        except DATABASE_ERRORS as exc:
            return records_unavailable("call records", exc)
        if report is None:
            return api_error("no such call", 404)
        return JSONResponse(report)

    async def get_config(self, request: Request) -> Response:
        if refused := bearer_refusal(request.headers, self._api_token):
            return refused
        return JSONResponse(self._live.describe())

    async def set_tier(self, request: Request) -> Response:
        if refused := bearer_refusal(request.headers, self._api_token):
            return refused
        if self._budget is None:
            return api_error("this application runs without a budget", 501)
        change = parse_tier_change(await request.body())
        if isinstance(change, str):
            return api_error(change, 400)
        return await change_tier(
            call_sid=request.path_params["call_sid"],
            change=change,
            registry=self._registry,
            budget=self._budget,
            namespace=self._settings.ray_namespace,
        )

    # Health

    async def healthz(self, request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "active_calls": self._streams.active_calls,
                **self._pool.stats(),
            }
        )

    async def readyz(self, request: Request) -> Response:
        return await self._readiness.endpoint(request)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._sweep_task.cancel()
            self._keep_alive_task.cancel()
            self._announce_task.cancel()
            self._live.close()
