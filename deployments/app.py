"""The Switchboard application graph: what `serve run` / `serve deploy` start.

`serve_config.yaml` points at `build_app`, passing its `args`. It checks the secrets the
ingress needs before anything is deployed: `serve run` (and `switchboard serve`) stop at
once with the missing setting named, and `serve deploy` marks the application failed
with that message instead of deploying an ingress that could be fooled.
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from deployments.budget_deployment import BudgetDeployment
from deployments.dialer_deployment import DialerDeployment
from deployments.ingress import TwilioIngress, required_secrets
from deployments.orchestrator_deployment import OrchestratorDeployment
from deployments.recorder_deployment import RecorderDeployment
from switchboard.settings import get_settings


def build_app(args: dict[str, Any]) -> Application:
    """Ingress in front; the agents' orchestrator, the budget, the recorder and the
    campaigns' dialer behind it."""
    required_secrets(get_settings())
    return TwilioIngress.bind(
        RecorderDeployment.bind(),
        OrchestratorDeployment.bind(),
        BudgetDeployment.bind(),
        session_num_cpus=float(args.get("session_num_cpus", 0.05)),
        dialer=DialerDeployment.bind(),
    )
