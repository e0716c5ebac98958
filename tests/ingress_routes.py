"""The ingress's own route table, around only the parts a test builds for real.

`ingress_app(_analytics=api)` is the ASGI app Serve would build for `TwilioIngress`,
whose `_analytics` is the real object given; every other handler it routes to is a
stand-in that fails the test if it is ever called. A request therefore goes through the
same routes, mounts and middleware as in production, without a Ray cluster.
"""

from __future__ import annotations

from typing import Any

from deployments.ingress import TwilioIngress


class _StandIn:
    """Any part of the ingress the test did not build: never called."""

    def __getattr__(self, name: str) -> _StandIn:
        return _StandIn()

    async def __call__(self, *args: Any) -> None:
        raise AssertionError("not under test")


def ingress_app(**parts: Any) -> Any:
    """The ingress's ASGI app with `parts` (attribute name: object) real."""
    ingress = _StandIn()
    ingress.__dict__.update(parts)
    return TwilioIngress.func_or_class.__serve_build_asgi_app__(ingress)
