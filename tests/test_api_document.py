"""The OpenAPI document (`deployments/data/openapi.yaml`) is the interface the ingress
serves: every route is documented and every documented path routed; its schemas are
valid; and a running Switchboard serves it and answers in its shapes (call reports are
checked against it wherever a scenario's report is, `tests.e2e.assert_documented`)."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from starlette.routing import Route, WebSocketRoute

from deployments.api_document import api_document
from deployments.ingress import TwilioIngress
from tests.e2e import RunningSwitchboard, assert_documented, live_text_call


class _AnyHandler:
    """Stands in for the ingress and its helpers when only the route table is read:
    every attribute is a handler."""

    def __getattr__(self, name: str) -> _AnyHandler:
        return _AnyHandler()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the route table is only read here")


def _routed() -> set[tuple[str, str]]:
    """(path, method) of every route of the ingress's ASGI app; a WebSocket is GET."""
    app = TwilioIngress.func_or_class.__serve_build_asgi_app__(_AnyHandler())
    routed: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            routed.add((route.path, "get"))
        elif isinstance(route, Route):
            routed.update((route.path, m.lower()) for m in route.methods or () if m != "HEAD")
    return routed


def _documented() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, operations in api_document()["paths"].items()
        for method in operations
    }


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routed, documented = _routed(), _documented()
    assert routed - documented == set(), "routes missing from the API document"
    assert documented - routed == set(), "documented routes the ingress does not serve"


def test_every_schema_is_valid_json_schema() -> None:
    invalid = {}
    for name, schema in api_document()["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            invalid[name] = exc.message
    assert invalid == {}


def test_every_reference_resolves() -> None:
    document = api_document()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for item in node for r in refs(item)]
        return []

    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"{ref} resolves to nothing"
            target = target[part]


def test_every_operation_documents_its_answers_and_protected_ones_their_refusal() -> None:
    for path, operations in api_document()["paths"].items():
        for method, operation in operations.items():
            assert operation["summary"] and operation["responses"], (path, method)
            schemes = {name for need in operation.get("security", []) for name in need}
            if "bearer" in schemes:
                assert "401" in operation["responses"], (path, method)
            if "twilioSignature" in schemes and path.startswith("/twilio/voice"):
                assert "403" in operation["responses"], (path, method)


def test_a_report_with_an_undocumented_field_is_refused() -> None:
    # The check the e2e reports go through can fail: an extra field, a wrong type.
    with pytest.raises(AssertionError, match="surprise"):
        assert_documented({"surprise": 1}, "CallReport")
    with pytest.raises(AssertionError, match="ready"):
        assert_documented({"ready": "yes", "failed": [], "checks": {}}, "Readiness")


# --- against a running Switchboard ---------------------------------------------------------

async def test_the_running_application_serves_its_document_and_answers_in_its_shapes(
    switchboard: RunningSwitchboard,
) -> None:
    server = switchboard
    async with live_text_call(server, from_number="+15550170001") as call:
        await call.say("Hi, this is Morgan.")
    report = await server.report(call.call_sid)
    assert_documented(report, "CallReport")
    token = {"Authorization": f"Bearer {server.api_token}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        served = await client.get("/openapi.json")
        assert served.status_code == 200 and served.json() == api_document()
        assert_documented((await client.get("/v1/config", headers=token)).json(), "LiveSettings")
        assert_documented((await client.get("/healthz")).json(), "Liveness")
        ready = await client.get("/readyz", headers=token)
        assert_documented(ready.json(), "Readiness")
        refused = await client.get(f"/v1/calls/{call.call_sid}")
        assert refused.status_code == 401
        assert_documented(refused.json(), "Error")
        missing = await client.get("/v1/calls/CAnothing", headers=token)
        assert missing.status_code == 404
        assert_documented(missing.json(), "Error")
        # The calls list and the analytics, served by the application (streaming CSV too).
        since = {"since": report["started_at"]}
        listed = await client.get("/v1/calls", headers=token, params={**since, "limit": 1000})
        assert listed.status_code == 200
        assert_documented(listed.json(), "CallsPage")
        assert call.call_sid in [c["call_sid"] for c in listed.json()["calls"]]
        exported = await client.get("/v1/calls", headers=token, params={**since, "format": "csv"})
        assert exported.status_code == 200 and call.call_sid in exported.text
        funnel = await client.get("/v1/analytics/funnel", headers=token, params=since)
        assert_documented(funnel.json(), "Funnel")
        assert (await client.get("/v1/analytics/funnel")).status_code == 401
