"""Without its tokens the ingress never starts, however it is started.

`serve run serve_config.yaml` with no Twilio auth token and no API token: the
application fails to deploy with a message naming the settings, and a webhook signed
with an empty key — which the twilio library's validator would accept — is never
answered with TwiML. (`switchboard serve` makes development tokens on a loopback URL
and refuses a public one without them: tests/test_settings.py.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from switchboard.caller.signing import webhook_signature
from switchboard.caller.twilio_protocol import CallParties, new_sid, voice_webhook_params
from switchboard.local_services import server_port
from tests.e2e import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.parallel_safe]

REFUSAL = "SWITCHBOARD_TWILIO_AUTH_TOKEN and SWITCHBOARD_API_TOKEN must be set"


@pytest.mark.timeout(300)
def test_serve_run_without_tokens_refuses_to_deploy_and_answers_no_forged_webhook(
    tmp_path: Path,
) -> None:
    port = server_port()
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    config["http_options"]["port"] = port
    (tmp_path / "serve_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SWITCHBOARD_TWILIO_AUTH_TOKEN", "SWITCHBOARD_API_TOKEN")
    }
    env.update(
        SWITCHBOARD_PORT=str(port),
        SWITCHBOARD_REDIS_PREFIX=f"sbtest-notoken-{port}",
        SWITCHBOARD_RAY_NAMESPACE=f"sbtest-notoken-{port}",
    )
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("serve")), "run", "serve_config.yaml"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/twilio/voice"
    params = voice_webhook_params(CallParties(new_sid("CA"), "AC1", "inbound", "+1555", "+1556"))
    forged = {"X-Twilio-Signature": webhook_signature("", url, params)}
    try:
        deadline = time.monotonic() + 240
        while "failed with exception" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the application neither failed nor started"
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.post(url, data=params, headers=forged, timeout=5)
                assert "<Response" not in answer.text, answer.text
            time.sleep(2)
        output = log_path.read_text(errors="replace")
        assert REFUSAL in output
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.post(url, data=params, headers=forged, timeout=5)
            assert answer.status_code != 200 and "<Response" not in answer.text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
