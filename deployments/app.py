"""The Switchboard application graph: what `serve run` / `serve deploy` start.

`serve_config.yaml` points at `build_app`, passing its `args`.
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from deployments.budget import BudgetDeployment
from deployments.ingress import TwilioIngress
from deployments.orchestrator import OrchestratorDeployment
from deployments.recorder import RecorderDeployment


def build_app(args: dict[str, Any]) -> Application:
    """Ingress in front; the agents' orchestrator, the budget and the recorder behind it."""
    return TwilioIngress.bind(
        RecorderDeployment.bind(),
        OrchestratorDeployment.bind(),
        BudgetDeployment.bind(),
        warm_pool_size=args.get("warm_pool_size"),
        session_num_cpus=float(args.get("session_num_cpus", 0.05)),
    )
