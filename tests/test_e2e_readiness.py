"""Against a real `serve run`: `/readyz` checks Redis, PostgreSQL, the orchestrator (through
the ingress's real deployment handle) and the warm pool, in the JSON shape operators
read (`deployments.readiness`); `/healthz` stays the cheap liveness answer.

The failure paths, with servers stopped and started again, are in
`tests/test_readiness.py`.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.e2e import RunningSwitchboard

CHECKS = ["redis", "postgresql", "orchestrator", "pool"]
# Calls of earlier tests may have taken every warm actor; the pool refills within this.
REFILL_WITHIN_S = 60.0


async def test_readyz_names_every_dependency_it_checked_and_answers_200_when_all_pass(
    switchboard: RunningSwitchboard,
) -> None:
    headers = {"Authorization": f"Bearer {switchboard.api_token}"}
    deadline = time.monotonic() + REFILL_WITHIN_S
    async with httpx.AsyncClient(base_url=switchboard.base_url, timeout=10) as client:
        while True:
            response = await client.get("/readyz", headers=headers)
            body = response.json()
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            assert body["failed"] == ["pool"], body  # nothing else may be down here
            await asyncio.sleep(1.0)
        assert response.status_code == 200, body
        assert body["ready"] is True and body["failed"] == []
        assert list(body["checks"]) == CHECKS
        for name, check in body["checks"].items():
            assert check["ok"] is True, (name, check)
            assert 0 <= check["ms"] < 2000, (name, check)
            assert "error" not in check
        # The default settings send calls to the agents: the orchestrator is needed.
        assert "required" not in body["checks"]["orchestrator"]
        assert body["checks"]["pool"]["warm"] >= 1

        health = await client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
