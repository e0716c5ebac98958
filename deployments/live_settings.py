"""A replica's live settings: the `user_config` block its `reconfigure()` was given.

`reconfigure()` never raises (in Ray 2.60 a raising `reconfigure` sends the deployment
into a restart loop). A block that fails validation is refused here: the last good
version keeps serving, and the refusal (version, field, message) is kept for
`GET /v1/config`. A replica whose very first block is refused serves the application's
last good block from Redis, or the environment's settings when there is none.

The ingress publishes each accepted block (`publish=True`): the last good block for
later replicas, and the kill switch for live calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from ray import serve
from ray.serve.exceptions import RayServeException

from switchboard.app_version import app_version
from switchboard.flags import Lead
from switchboard.live_config import (
    ENV_VERSION,
    CallConfig,
    LiveConfig,
    LiveConfigError,
    call_settings,
    parse_live_config,
)
from switchboard.live_config_store import LiveConfigStore
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray.serve")

REDIS_TIMEOUT_S = 2.0
REPUBLISH_EVERY_S = 2.0
# Versions a replica keeps a workflow or ledger for: calls started on a few recent deploys.
KEPT_VERSIONS = 8

T = TypeVar("T")


def application_name() -> str:
    """The Serve application this replica belongs to ('' outside Serve)."""
    try:
        return serve.get_replica_context().app_name
    except RayServeException:
        return ""


class LiveSettings:
    """The live settings one replica serves with."""

    def __init__(
        self,
        base: VoiceAgentIntegrationConfig,
        *,
        app: str,
        store: LiveConfigStore | None = None,
        publish: bool = False,
    ) -> None:
        self.base = base
        self.app = app
        self.current: LiveConfig = parse_live_config(None, base)
        self.rejected: dict[str, str] | None = None
        self._store = store
        self._publish = publish and store is not None
        self._publishing: asyncio.Task | None = None

    @property
    def settings(self) -> VoiceAgentIntegrationConfig:
        return self.current.settings

    async def reconfigure(self, user_config: Any) -> None:
        """Apply `user_config`, or refuse it and keep what serves now. Never raises."""
        try:
            live = parse_live_config(user_config, self.base)
        except LiveConfigError as exc:
            await self._refuse(user_config, exc.field, exc.message)
            return
        except Exception as exc:  # never let a surprise reach Serve
            await self._refuse(user_config, "user_config", repr(exc))
            return
        self._accept(live)

    def _accept(self, live: LiveConfig) -> None:
        previous = self.current.version
        self.current = live
        self.rejected = None
        killed = "; kill switch on: direct path only" if live.kill_switch else ""
        logger.info("live settings: version %s (was %s)%s", live.version, previous, killed)
        if self._publish:
            if self._publishing is not None:
                self._publishing.cancel()
            self._publishing = asyncio.get_running_loop().create_task(
                self._publish_until_done(live)
            )

    async def _refuse(self, user_config: Any, field: str, message: str) -> None:
        version = user_config.get("version") if isinstance(user_config, Mapping) else None
        self.rejected = {"version": str(version), "field": field, "message": message}
        logger.error(
            "refused user_config version %s: %s: %s; version %s keeps serving",
            version, field, message, self.current.version,
        )
        if self.current.version == ENV_VERSION and self._store is not None:
            await self._take_last_good()

    async def _take_last_good(self) -> None:
        try:
            block = await asyncio.wait_for(self._store.last_good(), REDIS_TIMEOUT_S)  # type: ignore[union-attr]
            if block is not None:
                self.current = parse_live_config(block, self.base)
                logger.warning("live settings: serving the last good version %s",
                               self.current.version)
        except Exception as exc:
            logger.warning("live settings: no last good version to serve: %r", exc)

    async def _publish_until_done(self, live: LiveConfig) -> None:
        """Redis may be away when a deploy lands: keep trying until it takes it."""
        while True:
            try:
                await asyncio.wait_for(self._store.publish(live), REDIS_TIMEOUT_S)  # type: ignore[union-attr]
                return
            except Exception as exc:
                logger.warning("live settings: could not publish version %s, will retry: %r",
                               live.version, exc)
            await asyncio.sleep(REPUBLISH_EVERY_S)

    def for_call(self, lead: Lead) -> CallConfig:
        """What a new call with `lead` runs on."""
        return CallConfig.for_call(self.current, lead, app=self.app, app_version=app_version())

    def describe(self) -> dict[str, Any]:
        """`GET /v1/config`: what serves, and the last block refused."""
        return {
            "app": self.app,
            "app_version": app_version(),
            "version": self.current.version,
            "user_config": self.current.block,
            "kill_switch": self.current.kill_switch,
            "rejected": self.rejected,
        }

    def close(self) -> None:
        if self._publishing is not None:
            with contextlib.suppress(RuntimeError):
                self._publishing.cancel()


class PerVersion(Generic[T]):
    """One `T` (a workflow, a ledger) per live settings version calls started on (and
    per experiment variant of it), the most recent few: a call is served by its own
    version (`config`: the version, block and variant it carries,
    `CallSession.live_settings_ref`), whatever this replica serves now."""

    def __init__(
        self,
        live: LiveSettings,
        build: Callable[[VoiceAgentIntegrationConfig], T],
        *,
        env: T,
        keep: int = KEPT_VERSIONS,
    ) -> None:
        self._live = live
        self._build = build
        self._env = env  # for the environment's settings, made by the caller
        self._keep = keep
        self._made: OrderedDict[str, T] = OrderedDict()

    def current(self) -> T:
        """For what this replica serves now."""
        return self.for_call(None)

    def for_call(self, config: Mapping[str, Any] | None) -> T:
        if not config:
            config = {"version": self._live.current.version, "block": self._live.current.block}
        version = str(config.get("version") or ENV_VERSION)
        if version == ENV_VERSION:
            return self._env
        key = version
        if config.get("experiment") and config.get("variant"):
            key = f"{version}/{config['experiment']}/{config['variant']}"
        if key in self._made:
            self._made.move_to_end(key)
            return self._made[key]
        try:
            settings = call_settings(config, self._live.base)
        except LiveConfigError as exc:  # a block this code version cannot read
            logger.warning("live settings %s unreadable here (%s): the environment's serve",
                           version, exc)
            return self._env
        made = self._made[key] = self._build(settings)
        while len(self._made) > self._keep:
            self._made.popitem(last=False)
        return made
