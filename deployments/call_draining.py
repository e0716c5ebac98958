"""A draining ingress replica keeps its live calls until they end.

Behind HAProxy, Serve stops a draining ingress replica from accepting by telling the
replica's own uvicorn server to exit, and uvicorn, as it exits, closes every open
WebSocket at once with 1012 ("service restart"). Serve's drain then waits for the
requests in flight, but a live call's socket is already cut: a text call ends, and an
audio call goes silent until Twilio reconnects it to another replica. That would make
every scale-down and every rolling upgrade cut the calls of the replicas it stops.

`keep_calls_through_shutdown()` exempts an accepted WebSocket from that close. Its
request is still in flight, so Serve's drain waits for it (up to the deployment's
`graceful_shutdown_timeout_s`), and the call ends when the caller or the agent ends it.
The listener still closes, and sockets not yet accepted are still refused, so new
calls go to other replicas.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

_MARK = "_switchboard_keeps_calls"


def _accepted_sansio(protocol: WebSocketsSansIOProtocol) -> bool:
    return protocol.handshake_complete and not protocol.close_sent


def _accepted_legacy(protocol: Any) -> bool:
    return protocol.handshake_completed_event.is_set() and not protocol.closed_event.is_set()


def _protocols() -> list[tuple[type, Callable[[Any], bool]]]:
    found: list[tuple[type, Callable[[Any], bool]]] = [
        (WebSocketsSansIOProtocol, _accepted_sansio),  # uvicorn's choice with `websockets`
    ]
    # The other implementations uvicorn can be configured with: deprecated, or optional.
    with warnings.catch_warnings(), contextlib.suppress(ImportError):
        warnings.simplefilter("ignore")
        from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

        found.append((WebSocketProtocol, _accepted_legacy))
    with contextlib.suppress(ImportError):
        from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

        found.append((WSProtocol, _accepted_sansio))
    return found


def keep_calls_through_shutdown() -> None:
    """In this process, a uvicorn server that shuts down leaves accepted WebSockets
    open (and waits for them to close) instead of closing them. Idempotent."""
    for protocol, accepted in _protocols():
        original = protocol.shutdown
        if getattr(original, _MARK, False):
            continue

        def shutdown(self, _original=original, _accepted=accepted) -> None:  # type: ignore[no-untyped-def]
            if _accepted(self):
                return  # a live call: it ends when its caller or agent ends it
            _original(self)

        setattr(shutdown, _MARK, True)
        protocol.shutdown = shutdown  # type: ignore[method-assign]
