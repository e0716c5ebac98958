"""`use_haproxy`: the Ray variables that put HAProxy in front of the ingress replicas."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

from switchboard.ingress_proxy import HAPROXY, LOCAL_DRAINING, NODE_PORTS, use_haproxy
from switchboard.local_services import SERVER_PORTS, server_port


def _ports() -> itertools.count:
    return itertools.count(41000)


def test_a_bare_environment_gets_haproxy_and_a_port_of_its_own_for_each_listener() -> None:
    ports = _ports()
    env = use_haproxy({}, free_port=lambda: next(ports), local=True)
    assert {name: env[name] for name in HAPROXY} == HAPROXY
    assert len({env[name] for name in NODE_PORTS}) == len(NODE_PORTS)


def test_what_the_operator_already_set_wins() -> None:
    ports = _ports()
    env = use_haproxy(
        {"RAY_SERVE_ENABLE_HA_PROXY": "0", "RAY_SERVE_HAPROXY_STATS_PORT": "8404"},
        free_port=lambda: next(ports),
        local=True,
    )
    assert env["RAY_SERVE_ENABLE_HA_PROXY"] == "0"
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] == "8404"


def test_only_a_single_machine_shortens_the_draining_of_an_ingress_replica() -> None:
    ports = _ports()
    local = use_haproxy({}, free_port=lambda: next(ports), local=True)
    cluster = use_haproxy({}, free_port=lambda: next(ports), local=False)
    for name, value in LOCAL_DRAINING.items():
        assert local[name] == value
        assert name not in cluster  # Ray's cluster-wide default stands


def test_a_server_port_is_free_and_outside_the_kernels_ephemeral_range() -> None:
    port = server_port()
    low, _high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert port in SERVER_PORTS and port < low
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", port))  # nobody holds it


def test_a_port_given_for_one_listener_is_never_offered_to_another() -> None:
    # The given stats port is not bound yet, so the port finder may offer it again.
    offered = iter([24001, 24001, 24002, 24003])
    env = use_haproxy(
        {"RAY_SERVE_HAPROXY_STATS_PORT": "24001"}, free_port=lambda: next(offered), local=True
    )
    ports = [env[name] for name in NODE_PORTS]
    assert sorted(ports) == ["24001", "24002", "24003"], env
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] == "24001"
