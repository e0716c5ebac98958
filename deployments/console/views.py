"""The console's pages and the fragments they poll, each built from the project's own
queries: the call registry for which calls are live, `db.queries.call_report` for a
call, `db.analytics` for the calls list, the funnel, the trends and the experiments
(with the analytics API's filter parsing), `db.campaigns.change_state` for pause and
resume (what `POST /v1/campaigns/{id}/pause|resume` runs), and `db.console` for the few
summaries only the console needs.

Handlers here assume the session was checked (`deployments.console.app` guards them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, get_args

import asyncpg
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from actors.registry import CallRegistry
from db import analytics
from db.campaigns import Action, StateConflict, change_state
from db.console import campaign_progress, experiment_names, live_call_summaries
from db.queries import call_report
from deployments.analytics_api import (
    BadParameter,
    encode_cursor,
    parse_calls_query,
    parse_filters,
)
from deployments.api_errors import DATABASE_ERRORS, api_error
from deployments.console.charts import experiment_chart, funnel_chart, trends_chart
from deployments.console.rendering import console_root
from switchboard.models import Direction, Outcome

logger = logging.getLogger("ray.serve")

# Calls a page of the recent calls shows.
CALLS_PER_PAGE = 50
# Live calls the live view lists (the most recently active first).
LIVE_CALLS_SHOWN = 100
OUTCOMES = tuple(outcome.value for outcome in Outcome)
DIRECTIONS = get_args(Direction)
# The filters the recent calls page offers, in the analytics API's names.
CALL_FILTERS = ("outcome", "direction", "campaign_id", "experiment", "variant", "since",
                "until")
# The analytics page's (its charts are about outcomes, so not filtered by one).
ANALYTICS_FILTERS = ("direction", "campaign_id", "experiment", "variant", "since", "until")


class RecordsUnavailable(Exception):
    """PostgreSQL or Redis could not answer; the message says which, for the operator."""


class ConsoleViews:
    """The handlers; `database` gives the shared pool, `registry` the call registry."""

    def __init__(
        self,
        *,
        database: Callable[[], Awaitable[asyncpg.Pool]],
        registry: CallRegistry,
        templates: Jinja2Templates,
    ) -> None:
        self._database = database
        self._registry = registry
        self._templates = templates

    # Logging in

    async def login_page(self, request: Request) -> Response:
        return self.login_form(request)

    def login_form(
        self, request: Request, *, error: str | None = None, status_code: int = 200
    ) -> Response:
        return self._render(request, "login.html", {"error": error}, status_code=status_code)

    # Live calls

    async def live_page(self, request: Request) -> Response:
        return await self._page(request, "live.html", self._live_context)

    async def live_rows(self, request: Request) -> Response:
        return await self._page(request, "live_rows.html", self._live_context)

    async def _live_context(self, request: Request) -> dict[str, Any]:
        call_sids = await self._registry.live_call_sids(LIVE_CALLS_SHOWN)
        recorded = await live_call_summaries(await self._database(), call_sids)
        calls = []
        for call_sid in call_sids:
            call = recorded.get(call_sid)
            if call is None:
                # Claimed in the registry, its first event not recorded yet.
                entry = await self._registry.entry(call_sid)
                if entry is None:
                    continue
                call = {"call_sid": call_sid, "started_at": None, "turns": 0,
                        "direction": entry.identity.direction,
                        "from": entry.identity.from_number, "to": entry.identity.to_number,
                        "current_agent": None, "tier": None, "experiment": None,
                        "variant": None, "last_user_text": None, "last_agent_text": None}
            calls.append(call)
        return {"calls": calls, "nav": "live"}

    # Recent calls

    async def calls_page(self, request: Request) -> Response:
        given = _given(request.query_params, (*CALL_FILTERS, "cursor"))
        try:
            query = parse_calls_query(given)
        except BadParameter as exc:
            error = str(exc)

            async def refused(_: Request) -> dict[str, Any]:
                return await self._calls_context(given, None, error, await self._database())

            return await self._page(request, "calls.html", refused, status_code=400)

        async def context(_: Request) -> dict[str, Any]:
            pool = await self._database()
            page = await analytics.list_calls(
                pool, query.filters, after=query.after, limit=CALLS_PER_PAGE
            )
            return await self._calls_context(given, page, None, pool)

        return await self._page(request, "calls.html", context)

    async def _calls_context(
        self,
        given: dict[str, str],
        page: analytics.CallsPage | None,
        error: str | None,
        pool: asyncpg.Pool | None = None,
    ) -> dict[str, Any]:
        filters = {name: given.get(name, "") for name in CALL_FILTERS}
        next_query = None
        if page is not None and page.next_key is not None:
            next_query = {**{k: v for k, v in filters.items() if v},
                          "cursor": encode_cursor(page.next_key)}
        return {
            "nav": "calls",
            "calls": page.calls if page else [],
            "filters": filters,
            "next_query": next_query,
            "error": error,
            "outcomes": OUTCOMES,
            "directions": DIRECTIONS,
            "experiments": await experiment_names(pool) if pool else [],
        }

    # A call

    async def call_page(self, request: Request) -> Response:
        return await self._call(request, "call.html")

    async def call_detail(self, request: Request) -> Response:
        return await self._call(request, "call_detail.html")

    async def _call(self, request: Request, template: str) -> Response:
        call_sid = request.path_params["call_sid"]
        try:
            report = await call_report(await self._database(), call_sid)
        except DATABASE_ERRORS as exc:
            return self._unavailable(request, RecordsUnavailable(_records_down(exc)))
        if report is None:
            return self._render(request, "not_found.html",
                                {"what": f"No call {call_sid} has been recorded.", "nav": "calls"},
                                status_code=404)
        # Polled while the call goes on, and until its final record is in.
        live = report["status"] == "in_progress" or not report["final"]
        return self._render(request, template, {"call": report, "live": live, "nav": "calls"})

    # Campaigns

    async def campaigns_page(self, request: Request) -> Response:
        return await self._page(request, "campaigns.html", self._campaigns_context)

    async def campaign_rows(self, request: Request) -> Response:
        return await self._page(request, "campaign_rows.html", self._campaigns_context)

    async def _campaigns_context(self, request: Request) -> dict[str, Any]:
        return {"campaigns": await campaign_progress(await self._database()),
                "nav": "campaigns", "notice": {}}

    async def pause_campaign(self, request: Request) -> Response:
        return await self._change_campaign(request, "pause")

    async def resume_campaign(self, request: Request) -> Response:
        return await self._change_campaign(request, "resume")

    async def _change_campaign(self, request: Request, action: Action) -> Response:
        raw = request.path_params["campaign_id"]
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            return api_error("no such campaign", 404)
        campaign_id = int(raw)
        notice: dict[int, str] = {}
        try:
            pool = await self._database()
            try:
                changed = await change_state(pool, campaign_id, action)
            except StateConflict as exc:
                # Someone (or the dialer) changed it first: show the row as it now is.
                changed, notice[campaign_id] = {}, str(exc)
            if changed is None:
                return api_error("no such campaign", 404)
            rows = await campaign_progress(pool, campaign_id=campaign_id)
        except DATABASE_ERRORS as exc:
            return api_error(_records_down(exc), 503)
        if changed:
            logger.info(f"campaign {campaign_id}: {action} -> {changed['state']} (console)")
        return self._render(request, "campaign_row.html",
                            {"campaign": rows[0], "notice": notice})

    # Experiments, the funnel and the trends

    async def experiments_page(self, request: Request) -> Response:
        async def context(_: Request) -> dict[str, Any]:
            pool = await self._database()
            names = await experiment_names(pool)
            chosen = request.query_params.get("name") or (names[0] if names else None)
            answer = (await analytics.experiment(pool, chosen, analytics.CallFilters())
                      if chosen else None)
            return {"nav": "experiments", "names": names, "chosen": chosen,
                    "answer": answer, "chart": experiment_chart(answer) if answer else None}

        return await self._page(request, "experiments.html", context)

    async def analytics_page(self, request: Request) -> Response:
        given = _given(request.query_params, ANALYTICS_FILTERS)
        shown = {name: given.get(name, "") for name in ANALYTICS_FILTERS}
        try:
            filters = parse_filters(given)
        except BadParameter as exc:
            return self._render(request, "analytics.html",
                                {"nav": "analytics", "filters": shown, "error": str(exc),
                                 "directions": DIRECTIONS, "funnel": None, "trends": None},
                                status_code=400)

        async def context(_: Request) -> dict[str, Any]:
            pool = await self._database()
            funnel = await analytics.funnel(pool, filters)
            trends = await analytics.trends(pool, filters)
            return {
                "nav": "analytics",
                "filters": shown,
                "error": None,
                "directions": DIRECTIONS,
                "funnel": funnel,
                "funnel_chart": funnel_chart(funnel),
                "trends": trends,
                "trends_chart": trends_chart(trends),
            }

        return await self._page(request, "analytics.html", context)

    # Rendering

    async def _page(
        self,
        request: Request,
        template: str,
        context: Callable[[Request], Awaitable[dict[str, Any]]],
        *,
        status_code: int = 200,
    ) -> Response:
        """`template` with what `context` reads, or the page saying what is unavailable."""
        try:
            values = await context(request)
        except DATABASE_ERRORS as exc:
            return self._unavailable(request, RecordsUnavailable(_records_down(exc)))
        except RedisError as exc:
            return self._unavailable(request, RecordsUnavailable(
                f"the call registry (Redis) is unavailable ({type(exc).__name__})"))
        return self._render(request, template, values, status_code=status_code)

    def _unavailable(self, request: Request, exc: RecordsUnavailable) -> Response:
        logger.warning(f"console: {exc}")
        return self._render(request, "unavailable.html", {"what": str(exc), "nav": ""},
                            status_code=503)

    def _render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status_code: int = 200,
    ) -> HTMLResponse:
        return self._templates.TemplateResponse(
            request, template, {"base": console_root(request), **context},
            status_code=status_code,
        )


def _given(params: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """The filters a form sent, leaving out those left empty (a form sends every field)."""
    return {name: params[name].strip() for name in names if params.get(name, "").strip()}


def _records_down(exc: Exception) -> str:
    # The kind of failure only: an operator needs to know what is down, and a driver's
    # message may name hosts and users the page has no business showing.
    return f"the call records (PostgreSQL) are unavailable ({type(exc).__name__})"
