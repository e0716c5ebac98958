"""`switchboard serve`: the whole application on this machine.

Fills in what a laptop lacks, says so, then runs `serve run serve_config.yaml`:
- development tokens (loopback public URL only; a public URL needs real ones);
- the Twilio sandbox, when no Twilio account is configured;
- private Redis and PostgreSQL servers, when `REDIS_URL` / `DATABASE_URL` are unset;
- the schema, migrated up;
- HAProxy in front of the ingress replicas (`switchboard.ingress_proxy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

from switchboard import dev_secrets
from switchboard.ingress_proxy import use_haproxy
from switchboard.local_services import (
    LocalPostgres,
    LocalRedis,
    private_directory,
    server_port,
)
from switchboard.settings import SettingsError, load_settings
from switchboard.twilio_sandbox.process import SandboxProcess

READY_TIMEOUT_S = 240.0
# `serve run` is started again if it exits before it is ready: Ray gives a starting node
# 30 s to register, which a loaded 2-core machine missed twice in a row in CI.
SERVE_RUN_ATTEMPTS = 3


def _say(message: str) -> None:
    print(f"switchboard: {message}", flush=True)


def _provide_secrets(env: dict[str, str]) -> None:
    settings = load_settings()
    if settings.twilio_auth_token and settings.api_token:
        return
    if not settings.is_loopback:
        raise SettingsError(
            "SWITCHBOARD_TWILIO_AUTH_TOKEN and SWITCHBOARD_API_TOKEN must be set when "
            f"SWITCHBOARD_PUBLIC_URL ({settings.public_url}) is not a loopback address"
        )
    secrets = dev_secrets.load_or_create()
    env.setdefault("SWITCHBOARD_TWILIO_AUTH_TOKEN", secrets["twilio_auth_token"])
    env.setdefault("SWITCHBOARD_API_TOKEN", secrets["api_token"])
    _say(f"using development tokens from {dev_secrets.DEV_SECRETS_PATH}")


def _start_sandbox(env: dict[str, str], stoppers: list[Callable[[], None]]) -> None:
    settings = load_settings()
    if settings.twilio_account_sid:
        return
    if not settings.is_loopback:
        raise SettingsError(
            "SWITCHBOARD_TWILIO_ACCOUNT_SID must be set when SWITCHBOARD_PUBLIC_URL is public"
        )
    account_sid = dev_secrets.load_or_create()["twilio_account_sid"]
    sandbox = SandboxProcess.start(account_sid, env["SWITCHBOARD_TWILIO_AUTH_TOKEN"])
    stoppers.append(sandbox.stop)
    env["SWITCHBOARD_TWILIO_ACCOUNT_SID"] = account_sid
    env["SWITCHBOARD_TWILIO_API_BASE_URL"] = sandbox.url
    _say(f"no Twilio account configured: Twilio sandbox on {sandbox.url}")


def _start_stores(env: dict[str, str], stoppers: list[Callable[[], None]]) -> None:
    if "REDIS_URL" not in os.environ:
        redis = LocalRedis(private_directory("switchboard-redis-")).start()
        stoppers.append(redis.stop)
        env["REDIS_URL"] = redis.url
        _say(
            f"REDIS_URL unset: started a private Redis (AOF on) at {redis.url} in {redis.directory}"
        )
    if "DATABASE_URL" not in os.environ:
        postgres = LocalPostgres(private_directory("switchboard-postgres-")).start()
        stoppers.append(postgres.cleanup)
        env["DATABASE_URL"] = postgres.url
        _say(f"DATABASE_URL unset: started a private PostgreSQL at {postgres.url}")


def _effective_config(config_path: str) -> str:
    """The Serve config with the host and port from settings."""
    settings = load_settings()
    config = yaml.safe_load(Path(config_path).read_text())
    http = config.setdefault("http_options", {})
    if http.get("port") == settings.port and http.get("host") == settings.host:
        return config_path
    http.update(port=settings.port, host=settings.host)
    path = Path(".switchboard") / f"serve_config.{settings.port}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return str(path)


def _write_runtime(**values: str | None) -> None:
    """Where this server's parts listen, for `switchboard call` and the tests."""
    path = Path(".switchboard") / "serve-runtime.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(values, indent=2))


def healthy(base_url: str) -> bool:
    """True when the server at `base_url` is ready for calls (`/readyz` answers 200)."""
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def _wait_ready(base_url: str, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        if healthy(base_url):
            return True
        time.sleep(1.0)
    return False


def _stop_on_signals() -> None:
    # A background job of a script starts with SIGINT ignored; we want Ctrl-C and
    # SIGTERM alike to stop everything we started.
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _restore_sigint() -> None:
    """In the `serve run` child: take SIGINT again, so it shuts Ray down cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop_serve(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(config_path: str) -> int:
    load_settings()  # a bad setting stops here, named
    _stop_on_signals()
    env = dict(os.environ)
    stoppers: list[Callable[[], None]] = []
    try:
        _provide_secrets(env)
        os.environ.update(env)
        _start_sandbox(env, stoppers)
        _start_stores(env, stoppers)
        os.environ.update(env)
        settings = load_settings()
        if "SWITCHBOARD_PUBLIC_URL" not in env:
            env["SWITCHBOARD_PUBLIC_URL"] = f"http://{settings.host}:{settings.port}"
        from db.migrate import ensure_database, migrate

        asyncio.run(ensure_database(settings.database_url))
        ran = asyncio.run(migrate(settings.database_url, "up"))
        if ran:
            _say(f"migrated the schema up: {', '.join(m.name for m in ran)}")
        serve_bin = str(Path(sys.executable).with_name("serve"))
        # A Ray of its own: without `--address local`, Ray would join whatever cluster
        # /tmp/ray/ray_current_cluster last named, even one long dead.
        address = os.environ.get("RAY_ADDRESS") or "local"
        if address == "local":
            use_haproxy(env, free_port=server_port, local=True)
        base_url = f"http://{settings.host}:{settings.port}"
        _write_runtime(
            base_url=base_url,
            public_url=env["SWITCHBOARD_PUBLIC_URL"],
            sandbox_url=env.get("SWITCHBOARD_TWILIO_API_BASE_URL"),
            redis_url=settings.redis_url,
            database_url=settings.database_url,
        )
        for attempt in range(SERVE_RUN_ATTEMPTS):
            process = subprocess.Popen(
                [serve_bin, "run", "--address", address, _effective_config(config_path)],
                env=env,
                preexec_fn=_restore_sigint,
            )
            stoppers.insert(0, lambda process=process: _stop_serve(process))
            if _wait_ready(base_url, process):
                _say(f"ready: Twilio webhooks at {env['SWITCHBOARD_PUBLIC_URL']}/twilio/voice")
                break
            if process.poll() is None or attempt + 1 == SERVE_RUN_ATTEMPTS:
                break
            _say(f"serve run exited (code {process.returncode}) before it was ready; "
                 "starting it once more")
        return process.wait()
    finally:
        for stop in stoppers:
            with contextlib.suppress(Exception):
                stop()
