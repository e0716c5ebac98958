"""`/v1/campaigns` and `/v1/leads`: outbound campaigns and a lead's history (bearer token).

- `POST /v1/campaigns?name=N` — a campaign from a CSV lead list (`text/csv` body);
  pacing from the query (`max_concurrent`, `calls_per_minute`, `max_attempts`,
  `retry_after_s`, `window`), else the `campaigns` settings. 201 with the accepted
  count and the rejected rows;
- `POST /v1/campaigns/{id}/start|pause|resume|cancel` — 200 with its status, 409 when
  its state does not allow it;
- `GET /v1/campaigns/{id}` — state, leads, attempts by status and outcome;
- `GET /v1/leads/{number}` — every attempt to call it, and whether it is on the
  do-not-call list;
- `PUT` / `DELETE /v1/leads/{number}/do-not-call` — an admin adds or removes a number
  (optional JSON body `{"reason"}`); each change is audited, a removal also logged.

The handlers only translate HTTP: the rules live in `switchboard.lead_import` (the
CSV) and `db.campaigns` / `db.leads` (states, counts, the list).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from db.campaigns import (
    Action,
    StateConflict,
    campaign_status,
    change_state,
    create_campaign,
)
from db.leads import lead_history, put_do_not_call, remove_do_not_call
from db.phone import normalize_number
from deployments.api_errors import (
    DATABASE_ERRORS,
    api_error,
    records_unavailable,
    validation_problems,
)
from deployments.auth import bearer_refusal
from switchboard.lead_import import LeadFileError, e164, parse_leads
from switchboard.settings import CampaignSettings

logger = logging.getLogger("ray.serve")

# The query parameters a campaign's pacing may be given by (CampaignSettings fields).
PACING_PARAMS = ("max_concurrent", "calls_per_minute", "max_attempts", "retry_after_s", "window")
MAX_NAME_LENGTH = 200
MAX_REASON_LENGTH = 500



class CampaignApi:
    """The handlers; `database` gives the shared pool, `settings` the live campaign
    settings (the pacing defaults)."""

    def __init__(
        self,
        *,
        api_token: str,
        database: Callable[[], Awaitable[asyncpg.Pool]],
        settings: Callable[[], CampaignSettings],
    ) -> None:
        self._api_token = api_token
        self._database = database
        self._settings = settings

    def _refused(self, request: Request) -> Response | None:
        return bearer_refusal(request.headers, self._api_token)

    # Campaigns

    async def create(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        query = request.query_params
        unknown = sorted(set(query) - {"name", *PACING_PARAMS})
        if unknown:
            return api_error(
                f"unknown query parameter {', '.join(unknown)} "
                f"(known: name, {', '.join(PACING_PARAMS)})",
                400,
            )
        name = query.get("name", "").strip()
        if not name or len(name) > MAX_NAME_LENGTH:
            return api_error(f"`name` is required, at most {MAX_NAME_LENGTH} characters", 400)
        defaults = self._settings()
        try:
            pacing = CampaignSettings.model_validate(
                {**defaults.model_dump(), **{k: query[k] for k in PACING_PARAMS if k in query}}
            )
        except ValidationError as exc:
            return api_error(validation_problems(exc, "query"), 400)
        content_type = request.headers.get("content-type", "").partition(";")[0].strip()
        if content_type != "text/csv":
            return api_error("the body must be the lead list as text/csv", 415)
        try:
            leads = parse_leads(await request.body(), max_leads=defaults.max_leads)
        except LeadFileError as exc:
            return api_error(f"bad lead list: {exc}", 400)
        try:
            created = await create_campaign(await self._database(), name, pacing, leads)
        except DATABASE_ERRORS as exc:
            return records_unavailable("campaign records", exc)
        logger.info(
            f"campaign {created.id} ({name!r}) created: {created.accepted} leads, "
            f"{len(created.rejected)} rows rejected"
        )
        return JSONResponse(created.as_json(), status_code=201)

    async def status(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        campaign_id = _campaign_id(request)
        if campaign_id is None:
            return api_error("no such campaign", 404)
        try:
            body = await campaign_status(await self._database(), campaign_id)
        except DATABASE_ERRORS as exc:
            return records_unavailable("campaign records", exc)
        return JSONResponse(body) if body else api_error("no such campaign", 404)

    async def start(self, request: Request) -> Response:
        return await self._change(request, "start")

    async def pause(self, request: Request) -> Response:
        return await self._change(request, "pause")

    async def resume(self, request: Request) -> Response:
        return await self._change(request, "resume")

    async def cancel(self, request: Request) -> Response:
        return await self._change(request, "cancel")

    async def _change(self, request: Request, action: Action) -> Response:
        if refused := self._refused(request):
            return refused
        campaign_id = _campaign_id(request)
        if campaign_id is None:
            return api_error("no such campaign", 404)
        try:
            body = await change_state(await self._database(), campaign_id, action)
        except StateConflict as exc:
            return api_error(str(exc), 409)
        except DATABASE_ERRORS as exc:
            return records_unavailable("campaign records", exc)
        if body is None:
            return api_error("no such campaign", 404)
        logger.info(f"campaign {campaign_id}: {action} -> {body['state']}")
        return JSONResponse(body)

    # Leads and the do-not-call list

    async def lead(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        number = _stored_number(request.path_params["number"])
        if number is None:
            return api_error("not a phone number", 400)
        try:
            return JSONResponse(await lead_history(await self._database(), number))
        except DATABASE_ERRORS as exc:
            return records_unavailable("campaign records", exc)

    async def put_do_not_call(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        number = e164(request.path_params["number"])
        if number is None:
            return api_error("not an E.164 phone number (e.g. +12125550100)", 400)
        reason = _reason(await request.body())
        if isinstance(reason, JSONResponse):
            return reason
        try:
            entry, added = await put_do_not_call(await self._database(), number, reason)
        except DATABASE_ERRORS as exc:
            return records_unavailable("campaign records", exc)
        if added:
            logger.info(f"do-not-call: {number} added through the API ({reason or 'no reason'})")
        return JSONResponse(entry, status_code=201 if added else 200)

    async def delete_do_not_call(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        number = _stored_number(request.path_params["number"])
        if number is None:
            return api_error("not a phone number", 400)
        reason = _reason(await request.body())
        if isinstance(reason, JSONResponse):
            return reason
        try:
            removed = await remove_do_not_call(await self._database(), number, reason)
        except DATABASE_ERRORS as exc:
            return records_unavailable("campaign records", exc)
        if removed is None:
            return api_error(f"{number} is not on the do-not-call list", 404)
        # An admin made a number callable again: the audit event (also in the table).
        logger.warning(
            f"audit: do-not-call entry of {number} removed through the API "
            f"(added {removed['added_at']} by {removed['source']}; "
            f"reason: {reason or 'none given'})"
        )
        return JSONResponse({**removed, "do_not_call": False})


def _campaign_id(request: Request) -> int | None:
    raw = request.path_params["campaign_id"]
    # Ids are positive bigints; anything else names no campaign.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _stored_number(raw: str) -> str | None:
    """The number as the tables store it: E.164 when it is one, else without formatting
    (how the do-not-call list keeps a caller ID that is not)."""
    try:
        return e164(raw) or normalize_number(raw)
    except ValueError:
        return None


def _reason(body: bytes) -> str | None | JSONResponse:
    """The optional `{"reason"}` body's reason, or the 400 saying what is wrong with it."""
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return api_error('the body must be JSON: {"reason": "..."} (or empty)', 400)
    if not isinstance(data, dict) or set(data) - {"reason"}:
        return api_error('the body may only be {"reason": "..."}', 400)
    reason = data.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_LENGTH):
        return api_error(f"`reason` must be text of at most {MAX_REASON_LENGTH} characters", 400)
    return reason or None

