"""The cluster's Serve configs stay the local one's: serve_config.yaml (what `serve run`
and `switchboard serve` run), ops/serve_config.cluster.yaml (what `serve deploy` sends
to a `ray start` cluster) and the RayService's embedded `serveConfigV2`
(ops/kuberay/rayservice.yaml) parse to the same configuration, but for the
differences a cluster needs:
- `http_options.host`: 127.0.0.1 locally, 0.0.0.0 on a cluster;
- each application's `runtime_env` (the code and the settings that are not secret),
  which the two cluster configs share;
- the least replicas of an autoscaled deployment (`min_replicas`, `initial_replicas`),
  which a cluster may raise.
Secrets are never in a config: the RayService takes them from a Secret.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from switchboard.ingress_proxy import HAPROXY

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / "serve_config.yaml"
CLUSTER = ROOT / "ops" / "serve_config.cluster.yaml"
RAYSERVICE = ROOT / "ops" / "kuberay" / "rayservice.yaml"

SECRET_SETTINGS = (
    "SWITCHBOARD_TWILIO_AUTH_TOKEN",
    "SWITCHBOARD_TWILIO_ACCOUNT_SID",
    "SWITCHBOARD_API_TOKEN",
    "SWITCHBOARD_LLM_API_KEY",
    "SWITCHBOARD_SPEECH__DEEPGRAM_API_KEY",
    "SWITCHBOARD_SPEECH__OPENAI_API_KEY",
    "SWITCHBOARD_SPEECH__CARTESIA_API_KEY",
    "SWITCHBOARD_SPEECH__ELEVENLABS_API_KEY",
    "SWITCHBOARD_WEBHOOKS",  # holds the receivers' HMAC secrets
    "REDIS_URL",
    "DATABASE_URL",
)


def _rayservice() -> dict:
    return yaml.safe_load(RAYSERVICE.read_text())


def _configs() -> dict[str, dict]:
    return {
        "ops/serve_config.cluster.yaml": yaml.safe_load(CLUSTER.read_text()),
        "ops/kuberay/rayservice.yaml serveConfigV2": yaml.safe_load(
            _rayservice()["spec"]["serveConfigV2"]
        ),
    }


def _without_cluster_differences(config: dict) -> dict:
    config = copy.deepcopy(config)
    config.get("http_options", {}).pop("host", None)
    for app in config["applications"]:
        app.pop("runtime_env", None)
        for deployment in app.get("deployments", []):
            for key in ("min_replicas", "initial_replicas"):
                deployment.get("autoscaling_config", {}).pop(key, None)
    return config


def _apps(config: dict) -> dict[str, dict]:
    return {app["name"]: app for app in config["applications"]}


@pytest.mark.parametrize("name", list(_configs()))
def test_a_cluster_config_is_the_local_one_but_for_host_runtime_env_and_least_replicas(
    name: str,
) -> None:
    local = _without_cluster_differences(yaml.safe_load(LOCAL.read_text()))
    cluster = _without_cluster_differences(_configs()[name])
    # Application by application first, so a drift names where it is.
    assert _apps(cluster).keys() == _apps(local).keys(), name
    for app_name, app in _apps(local).items():
        assert _apps(cluster)[app_name] == app, f"{name}: application {app_name} drifted"
    assert cluster == local, f"{name} drifted from serve_config.yaml"


@pytest.mark.parametrize("name", list(_configs()))
def test_a_cluster_config_listens_everywhere_and_ships_code_and_plain_settings(
    name: str,
) -> None:
    config = _configs()[name]
    ServeDeploySchema.model_validate(config)  # what `serve deploy` checks first
    assert config["http_options"]["host"] == "0.0.0.0"
    for app in config["applications"]:
        runtime_env = app["runtime_env"]
        assert runtime_env["working_dir"], app["name"]
        leaked = set(runtime_env.get("env_vars", {})) & set(SECRET_SETTINGS)
        assert not leaked, f"{name}: secrets in runtime_env: {sorted(leaked)}"


def test_the_two_cluster_configs_ship_the_same_runtime_env() -> None:
    cluster, embedded = _configs().values()
    assert {n: a["runtime_env"] for n, a in _apps(embedded).items()} == {
        n: a["runtime_env"] for n, a in _apps(cluster).items()
    }


def test_the_local_config_stays_on_loopback() -> None:
    local = yaml.safe_load(LOCAL.read_text())
    assert local["http_options"]["host"] == "127.0.0.1"
    assert all("runtime_env" not in app for app in local["applications"])


def test_the_rayservice_takes_every_secret_from_a_kubernetes_secret() -> None:
    spec = _rayservice()["spec"]["rayClusterConfig"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    containers = [c for g in groups for c in g["template"]["spec"]["containers"]]
    assert containers
    for container in containers:
        env = {item["name"]: item for item in container.get("env", [])}
        for name in ("SWITCHBOARD_TWILIO_AUTH_TOKEN", "SWITCHBOARD_API_TOKEN",
                     "REDIS_URL", "DATABASE_URL"):  # fmt: skip
            assert name in env, f"{container['name']} lacks {name}"
        for name, item in env.items():
            if name in SECRET_SETTINGS:
                assert "value" not in item, f"{container['name']}: {name} is inline"
                assert "secretKeyRef" in item["valueFrom"], f"{container['name']}: {name}"
        assert not container.get("envFrom"), "secrets are named one by one (secretKeyRef)"
    # Ray's own token: made and handed out by KubeRay, never written here.
    assert spec["authOptions"] == {"mode": "token"}


def test_every_rayservice_node_runs_serve_behind_haproxy_as_switchboard_serve_does() -> None:
    spec = _rayservice()["spec"]["rayClusterConfig"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for container in (c for g in groups for c in g["template"]["spec"]["containers"]):
        env = {item["name"]: item.get("value") for item in container.get("env", [])}
        assert {name: env.get(name) for name in HAPROXY} == HAPROXY, container["name"]
