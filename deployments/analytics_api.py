"""`GET /v1/calls` and `/v1/analytics/...`: the calls list and the analytics (bearer token).

- `GET /v1/calls` — calls newest first, `{"calls", "next_cursor"}`; pass `next_cursor`
  back as `cursor` for the next page (keyset on (started_at, call_sid): inserts never
  make a page skip or repeat a call). `limit` 1..1000, default 50. With `format=csv`:
  every matching call from `cursor` on, or one page with `limit` (the next cursor in
  the `X-Next-Cursor` header);
- `GET /v1/analytics/{funnel,outcomes,costs,latency,drop-off,trends}` and
  `GET /v1/analytics/experiments/{name}` — one question each (`db.analytics` defines
  every number); `format=csv` gives the answer's list as CSV.

All take the filters `since`, `until` (ISO 8601; a time without an offset is UTC),
`outcome`, `direction`, `campaign_id`, `experiment`, `variant` and `agent` (calls the
agent answered a turn of). A bad or unknown parameter is a 400 naming it.

The handlers only translate HTTP; the SQL and the definitions live in `db.analytics`,
the statistics in `switchboard.conversion_stats`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from db import analytics
from db.analytics import CALL_COLUMNS, CallFilters, CallKey
from deployments.api_errors import DATABASE_ERRORS, api_error, records_unavailable
from deployments.auth import bearer_refusal
from switchboard.experiments import name_error
from switchboard.models import Direction, Outcome

FILTER_PARAMS = (
    "since", "until", "outcome", "direction", "campaign_id", "experiment", "variant", "agent",
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# Pages the CSV export of every matching call reads at a time.
EXPORT_BATCH = 1000
MAX_NAME_LENGTH = 200
_OUTCOMES = tuple(outcome.value for outcome in Outcome)
_DIRECTIONS = get_args(Direction)

Question = Callable[[asyncpg.Pool, CallFilters], Awaitable[dict[str, Any]]]


class BadParameter(ValueError):
    """A query parameter the API cannot take; the message names it."""


@dataclass(frozen=True)
class CallsQuery:
    filters: CallFilters
    after: CallKey | None
    limit: int | None
    csv: bool


class AnalyticsApi:
    """The handlers; `database` gives the shared pool."""

    def __init__(
        self, *, api_token: str, database: Callable[[], Awaitable[asyncpg.Pool]]
    ) -> None:
        self._api_token = api_token
        self._database = database

    # The calls list

    async def calls(self, request: Request) -> Response:
        if refused := bearer_refusal(request.headers, self._api_token):
            return refused
        try:
            query = parse_calls_query(request.query_params)
        except BadParameter as exc:
            return api_error(str(exc), 400)
        try:
            pool = await self._database()
            if query.csv and query.limit is None:
                # Read the first batch before answering, so an outage is still a 503.
                first = await analytics.list_calls(
                    pool, query.filters, after=query.after, limit=EXPORT_BATCH
                )
                return StreamingResponse(
                    _export(pool, query.filters, first),
                    media_type="text/csv; charset=utf-8",
                    headers=_attachment("calls"),
                )
            page = await analytics.list_calls(
                pool, query.filters, after=query.after, limit=query.limit or DEFAULT_LIMIT
            )
        except DATABASE_ERRORS as exc:
            return records_unavailable("call records", exc)
        cursor = encode_cursor(page.next_key) if page.next_key else None
        if query.csv:
            headers = _attachment("calls") | ({"X-Next-Cursor": cursor} if cursor else {})
            return Response(
                to_csv(page.calls, CALL_COLUMNS),
                media_type="text/csv; charset=utf-8",
                headers=headers,
            )
        return JSONResponse({"calls": page.calls, "next_cursor": cursor})

    # The questions

    async def funnel(self, request: Request) -> Response:
        return await self._answer(request, "funnel", analytics.funnel, lambda a: a["stages"])

    async def outcomes(self, request: Request) -> Response:
        return await self._answer(request, "outcomes", analytics.outcomes, lambda a: a["rows"])

    async def costs(self, request: Request) -> Response:
        return await self._answer(
            request, "costs", analytics.costs, lambda a: [*a["tiers"], a["total"]]
        )

    async def latency(self, request: Request) -> Response:
        return await self._answer(
            request, "latency", analytics.latency, lambda a: [a["turn_latency"]]
        )

    async def drop_off(self, request: Request) -> Response:
        return await self._answer(request, "drop-off", analytics.drop_off, lambda a: a["rows"])

    async def trends(self, request: Request) -> Response:
        return await self._answer(request, "trends", analytics.trends, lambda a: a["days"])

    async def experiment(self, request: Request) -> Response:
        name = request.path_params["name"]
        if (problem := name_error(name)) is not None:
            return api_error(f"the experiment in the path: {problem}", 400)
        given = request.query_params.get("experiment")
        if given is not None and given != name:
            return api_error(
                f"`experiment`: {given!r} differs from the experiment in the path ({name!r})",
                400,
            )

        async def question(pool: asyncpg.Pool, filters: CallFilters) -> dict[str, Any]:
            return await analytics.experiment(pool, name, filters)

        return await self._answer(
            request, f"experiment-{name}", question, lambda a: a["variants"]
        )

    async def _answer(
        self,
        request: Request,
        name: str,
        question: Question,
        listed: Callable[[dict[str, Any]], list[dict[str, Any]]],
    ) -> Response:
        if refused := bearer_refusal(request.headers, self._api_token):
            return refused
        params = request.query_params
        try:
            _refuse_unknown(params, {*FILTER_PARAMS, "format"})
            filters = parse_filters(params)
            as_csv = _format(params)
        except BadParameter as exc:
            return api_error(str(exc), 400)
        try:
            answer = await question(await self._database(), filters)
        except DATABASE_ERRORS as exc:
            return records_unavailable("call records", exc)
        if as_csv:
            rows = [flatten(row) for row in listed(answer)]
            return Response(
                to_csv(rows, _columns(rows)),
                media_type="text/csv; charset=utf-8",
                headers=_attachment(name),
            )
        return JSONResponse(answer)


# --- parameters --------------------------------------------------------------------------

def parse_calls_query(params: Any) -> CallsQuery:
    """The calls list's parameters; `BadParameter` naming the first bad one."""
    _refuse_unknown(params, {*FILTER_PARAMS, "cursor", "limit", "format"})
    filters = parse_filters(params)
    cursor = params.get("cursor")
    after = decode_cursor(cursor) if cursor else None
    limit = None
    if "limit" in params:
        limit = _integer(params["limit"], "limit")
        if not 1 <= limit <= MAX_LIMIT:
            raise BadParameter(f"`limit`: must be between 1 and {MAX_LIMIT}, not {limit}")
    return CallsQuery(filters=filters, after=after, limit=limit, csv=_format(params))


def parse_filters(params: Any) -> CallFilters:
    """The filters every route takes; `BadParameter` naming the first bad one."""
    since = _time(params.get("since"), "since")
    until = _time(params.get("until"), "until")
    if since is not None and until is not None and until <= since:
        raise BadParameter("`until`: must be after `since`")
    outcome = _choice(params.get("outcome"), "outcome", _OUTCOMES)
    direction = _choice(params.get("direction"), "direction", _DIRECTIONS)
    campaign_id = params.get("campaign_id")
    if campaign_id is not None:
        campaign_id = _integer(campaign_id, "campaign_id")
        if campaign_id < 1:
            raise BadParameter("`campaign_id`: must be a campaign's id (1 or more)")
    return CallFilters(
        since=since,
        until=until,
        outcome=outcome,
        direction=direction,
        campaign_id=campaign_id,
        experiment=_experiment_name(params.get("experiment"), "experiment"),
        variant=_experiment_name(params.get("variant"), "variant"),
        agent=_name(params.get("agent"), "agent"),
    )


def _refuse_unknown(params: Any, known: set[str]) -> None:
    unknown = sorted(set(params.keys()) - known)
    if unknown:
        raise BadParameter(
            f"unknown query parameter {', '.join(f'`{u}`' for u in unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    text = value.strip()
    if "T" in text and text.count(" ") == 1:
        # The "+" of an offset sent unencoded arrives as a space.
        text = text.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter(
            f"`{name}`: {value!r} is not an ISO 8601 time (e.g. 2026-05-01T00:00:00Z)"
        ) from None
    # No offset: UTC, as the records are.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise BadParameter(f"`{name}`: {value!r} is not one of {', '.join(allowed)}")
    return value


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadParameter(f"`{name}`: {value!r} is not an integer") from None


def _name(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not value or len(value) > MAX_NAME_LENGTH:
        raise BadParameter(f"`{name}`: must be 1 to {MAX_NAME_LENGTH} characters")
    return value


def _experiment_name(value: str | None, name: str) -> str | None:
    """An experiment's or a variant's name, by the rule the settings hold them to."""
    if value is not None and (problem := name_error(value)) is not None:
        raise BadParameter(f"`{name}`: {problem}")
    return value


def _format(params: Any) -> bool:
    """True for CSV."""
    return _choice(params.get("format"), "format", ("json", "csv")) == "csv"


def encode_cursor(key: CallKey) -> str:
    """An opaque cursor for the page after `key`."""
    raw = json.dumps([key.started_at.isoformat(), key.call_sid], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> CallKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, call_sid = json.loads(raw)
        key = CallKey(datetime.fromisoformat(started_at), str(call_sid))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadParameter("`cursor`: not a cursor this API gave (use `next_cursor`)") from None
    if key.started_at.tzinfo is None:
        raise BadParameter("`cursor`: not a cursor this API gave (use `next_cursor`)")
    return key


# --- CSV ---------------------------------------------------------------------------------

def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One CSV row: nested objects become `outer_inner` columns."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}_")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns |= dict.fromkeys(row)
    return list(columns)


def to_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str], *, header: bool = True) -> str:
    """`rows` as CSV text; None is an empty field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def _export(
    pool: asyncpg.Pool, filters: CallFilters, page: analytics.CallsPage
) -> AsyncIterator[str]:
    yield to_csv(page.calls, CALL_COLUMNS)
    while page.next_key is not None:
        page = await analytics.list_calls(pool, filters, after=page.next_key, limit=EXPORT_BATCH)
        yield to_csv(page.calls, CALL_COLUMNS, header=False)


def _attachment(name: str) -> dict[str, str]:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return {"Content-Disposition": f'attachment; filename="{safe}.csv"'}

