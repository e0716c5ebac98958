"""`switchboard demo-data`: fill a Switchboard's database with realistic calls to look at.

Every call is a real one: generated callers (`switchboard.caller.generated`) ring in
over text mode, `--concurrency` at a time, and an outbound campaign of generated leads
is dialled by the dialer through the Twilio sandbox, whose leads answer, ring out, are
busy or send it to voicemail. The calls take part in an A/B experiment,
`DEMO_EXPERIMENT`, whose variants differ in the minimum budget and the order of the
questions, so the analytics and the console show two variants that convert
differently.

Two ways to run it:
- alone (the default): it starts `switchboard serve` itself, with the experiment added
  to the live settings of `--config` and the sandbox playing the campaign's leads, places
  the calls, and keeps serving until Ctrl-C so the console (`/console`) and the
  analytics can be looked at (`--stop` stops it once the calls are in). Against
  `DATABASE_URL` when set (the calls stay there for a later `switchboard serve`); unset,
  in the private PostgreSQL `switchboard serve` starts, which goes when it stops.
- `--url URL`: against a Switchboard already running there. Its live settings must hold
  the experiment for the calls to get variants (the command prints the block to add when
  they do not), and the campaign is dialled only when `--sandbox-leads FILE` names the
  leads file that server's sandbox reads (`SWITCHBOARD_SANDBOX_LEADS`).

The same `--seed` gives the same callers and call SIDs: a call already recorded is not
placed again, and the campaign of a seed is created once, so an interrupted run is
finished by running it again. A new seed adds new calls.

Exit status: 0 the calls were placed (whatever their outcomes), 1 some could not be,
2 the server could not be started or reached, or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx
import yaml

if TYPE_CHECKING:  # every `switchboard` command imports this module to build its parser
    from switchboard.caller.generated import GeneratedCall, GeneratedLead

DEMO_EXPERIMENT_NAME = "qualification-bar"
# The demo's experiment: `standard` is the default policy; `high-bar` asks for the budget
# first and qualifies only from $25,000 a year, so callers with a budget between $10,000
# and $25,000 are qualified by one variant and disqualified by the other.
DEMO_EXPERIMENT: dict[str, Any] = {
    "variants": {
        "standard": {},
        "high-bar": {
            "qualification": {"min_budget_usd": 25000},
            "script": {"question_order": ["budget", "need", "authority", "timeline"]},
        },
    },
    "split": {"standard": 50, "high-bar": 50},
}
WORK_DIR = Path(".switchboard") / "demo-data"
SERVE_START_TIMEOUT_S = 300.0
CAMPAIGN_POLL_S = 2.0
# The demo campaign: any hour (a demo runs whenever it is tried), a second attempt soon
# after a first that was not answered, and few audio calls at once on a small machine.
CAMPAIGN_PACING = {
    "max_concurrent": 3,
    "calls_per_minute": 60,
    "max_attempts": 2,
    "retry_after_s": 5,
    "window": "00:00-23:59",
}
SANDBOX_RING_S = "3"  # how long an unanswered demo lead rings
# Attempt statuses of a call not over yet.
_UNSETTLED = frozenset({"queued", "dialing", "in_progress"})


class DemoDataError(RuntimeError):
    """The demo data cannot be made; the message says why and what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=_count, default=240,
                        help="inbound text calls to place (default 240)")
    parser.add_argument("--leads", type=_count, default=24,
                        help="leads of the outbound campaign, 0 for none (default 24)")
    parser.add_argument("--seed", type=int, default=1,
                        help="which generated callers (default 1); the same seed resumes")
    parser.add_argument("--concurrency", type=_positive, default=6,
                        help="inbound calls at once (default 6)")
    parser.add_argument("--url", help="fill the Switchboard running at this base URL "
                        "instead of starting one")
    parser.add_argument("--sandbox-leads", type=Path, metavar="FILE",
                        help="with --url: the leads file that server's Twilio sandbox reads "
                        "(SWITCHBOARD_SANDBOX_LEADS); without it the campaign is skipped")
    parser.add_argument("--config", default="serve_config.yaml",
                        help="Serve config to start from (default serve_config.yaml)")
    parser.add_argument("--stop", action="store_true",
                        help="stop the Switchboard it started once the calls are in")
    parser.add_argument("--campaign-timeout", type=float, default=900.0, metavar="SECONDS",
                        help="how long to wait for the campaign to finish (default 900)")


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return number


def check_arguments(args: argparse.Namespace) -> str | None:
    """Why these arguments cannot be run together, or None."""
    if args.sandbox_leads is not None and args.url is None:
        return ("--sandbox-leads goes with --url (a Switchboard it starts plays the campaign's "
                "leads by itself)")
    if args.url is not None and args.stop:
        return "--stop stops a Switchboard demo-data started; with --url it starts none"
    if args.calls == 0 and args.leads == 0:
        return "nothing to do: --calls and --leads are both 0"
    return None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Runs the command `add_arguments` parsed; returns the exit status."""
    out = out or sys.stdout
    problem = check_arguments(args)
    if problem:
        print(f"demo-data: {problem}", file=sys.stderr)
        return 2
    try:
        if args.url is not None:
            target = _Target(args.url.rstrip("/"), _api_token(), args.sandbox_leads)
            return _fill(target, args, out)
        with _own_switchboard(args, out) as target:
            status = _fill(target, args, out)
            if status == 0 and not args.stop:
                print(f"\nSwitchboard keeps serving the demo at {target.base_url} "
                      f"(console: {target.base_url}/console); Ctrl-C stops it.", file=out,
                      flush=True)
                _wait_for_interrupt(target)
            return status
    except DemoDataError as exc:
        print(f"demo-data: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:  # the server went away, or answered what it should not
        print(f"demo-data: the server failed a request: {exc}; run it again with the same "
              "--seed to finish", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndemo-data: interrupted; run it again with the same --seed to finish",
              file=sys.stderr)
        return 130


@dataclass
class _Target:
    base_url: str
    api_token: str
    sandbox_leads: Path | None  # the leads file its sandbox reads, when we know it
    process: subprocess.Popen | None = None  # the `switchboard serve` we started


def _api_token() -> str:
    from switchboard.caller.tokens import CredentialsError, resolve_credentials
    from switchboard.settings import load_settings

    try:
        return resolve_credentials(load_settings(), need_auth_token=False).api_token
    except CredentialsError as exc:
        raise DemoDataError(str(exc)) from None


# --- the Switchboard it starts -----------------------------------------------------------

def demo_serve_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` (a parsed Serve config) with the demo experiment in every deployment's
    live settings, under a version of its own."""
    for app in config.get("applications") or []:
        for deployment in app.get("deployments") or []:
            block = deployment.get("user_config")
            if block is None:
                continue
            block = dict(block)
            block["version"] = f"{block.get('version', '1')}+demo"
            block["experiments"] = {**(block.get("experiments") or {}),
                                    DEMO_EXPERIMENT_NAME: DEMO_EXPERIMENT}
            deployment["user_config"] = block
    return config


@contextmanager
def _own_switchboard(args: argparse.Namespace, out: TextIO) -> Iterator[_Target]:
    from switchboard.serve_command import healthy
    from switchboard.settings import load_settings

    settings = load_settings()
    base_url = f"http://{settings.host}:{settings.port}"
    if healthy(base_url):
        raise DemoDataError(f"a Switchboard already answers at {base_url}: fill it with "
                            f"`switchboard demo-data --url {base_url}`, or stop it first")
    try:
        config = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DemoDataError(f"cannot read the Serve config {args.config}: {exc}") from None
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    config_path = WORK_DIR / "serve_config.yaml"
    config_path.write_text(yaml.safe_dump(demo_serve_config(config), sort_keys=False))
    leads_path = (WORK_DIR / "leads.yaml").resolve()
    if not leads_path.exists():
        leads_path.write_text("{}\n")
    env = {
        **os.environ,
        "SWITCHBOARD_SANDBOX_LEADS": str(leads_path),
        "SWITCHBOARD_SANDBOX_RING_S": os.environ.get("SWITCHBOARD_SANDBOX_RING_S",
                                                     SANDBOX_RING_S),
    }
    # A caller who asks for a person is transferred only where there is a number to send
    # them to; without one the agent offers a callback.
    env.setdefault("SWITCHBOARD_TRANSFER_NUMBER", "+15550009999")
    if "DATABASE_URL" not in os.environ:
        print("demo-data: DATABASE_URL is unset: the calls go to the private PostgreSQL "
              "`switchboard serve` starts, and go with it when it stops", file=out)
    log_path = WORK_DIR / "serve.log"
    print(f"demo-data: starting Switchboard at {base_url} (log: {log_path})", file=out,
          flush=True)
    started = time.monotonic()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("switchboard")), "serve", "--config",
             str(config_path)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVE_START_TIMEOUT_S
        while not healthy(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise DemoDataError(f"Switchboard did not start; the end of {log_path}:\n{tail}")
            time.sleep(1)
        print(f"demo-data: Switchboard is ready ({time.monotonic() - started:.0f} s)",
              file=out, flush=True)
        yield _Target(base_url, _api_token(), leads_path, process)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # `switchboard serve` stops all it started
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _wait_for_interrupt(target: _Target) -> None:
    assert target.process is not None
    with suppress(KeyboardInterrupt):
        target.process.wait()


# --- filling it ----------------------------------------------------------------------------

def _fill(target: _Target, args: argparse.Namespace, out: TextIO) -> int:
    from switchboard.caller.generated import CallerGenerator

    _check_server(target, out)
    generator = CallerGenerator(args.seed, prefix="demo")
    inbound = generator.inbound_calls(args.calls)
    leads = generator.campaign_leads(args.leads)
    failed = 0
    if inbound:
        failed = asyncio.run(_inbound(target, inbound, args.concurrency, out))
    if leads:
        if target.sandbox_leads is None:
            print("demo-data: no campaign: pass --sandbox-leads with the leads file of the "
                  "server's Twilio sandbox to have it dial one", file=out)
        else:
            _campaign(target, leads, args, out)
    _summary(target, out)
    return 1 if failed else 0


def _check_server(target: _Target, out: TextIO) -> None:
    """The server is ready and takes our token; says so when it has no demo experiment."""
    try:
        ready = httpx.get(f"{target.base_url}/readyz", timeout=5)
    except httpx.HTTPError as exc:
        raise DemoDataError(f"cannot reach a Switchboard at {target.base_url} ({exc}); "
                            "start one with `switchboard serve`, or leave out --url to have "
                            "demo-data start its own") from None
    if ready.status_code != 200:
        raise DemoDataError(f"{target.base_url} is not ready for calls: {ready.text.strip()}")
    config = httpx.get(f"{target.base_url}/v1/config", timeout=5,
                       headers={"Authorization": f"Bearer {target.api_token}"})
    if config.status_code in (401, 403):
        raise DemoDataError(f"{target.base_url} refused the API token: set "
                            "SWITCHBOARD_API_TOKEN to the server's")
    config.raise_for_status()
    live = (config.json().get("user_config") or {}).get("experiments") or {}
    if DEMO_EXPERIMENT_NAME in live:
        return
    block = yaml.safe_dump({"experiments": {DEMO_EXPERIMENT_NAME: DEMO_EXPERIMENT}},
                           sort_keys=False)
    print(f"demo-data: the live settings at {target.base_url} have no experiment "
          f"{DEMO_EXPERIMENT_NAME!r}, so the calls get no variant. Add this to every "
          f"deployment's user_config (with a new version) and deploy it:\n{block}", file=out)


async def _inbound(target: _Target, calls: list[GeneratedCall], concurrency: int,
                   out: TextIO) -> int:
    from switchboard.caller.batch import PlacedCall, place_calls

    total = len(calls)
    done = 0
    started = time.monotonic()
    print(f"demo-data: {total} inbound text calls, {concurrency} at a time", file=out,
          flush=True)

    def progress(placed: PlacedCall) -> None:
        nonlocal done
        done += 1
        if placed.skipped:  # placed by an earlier run: counted, not listed
            return
        scenario = placed.call.scenario
        if placed.error:
            what = f"FAILED: {placed.error}"
        else:
            what = (f"{placed.outcome or '?':<12} {placed.variant or '-':<9} "
                    f"{placed.duration_s:4.1f} s")
        print(f"[{done:>{len(str(total))}}/{total}] {scenario.from_number} "
              f"{placed.call.kind:<18} {what}", file=out, flush=True)

    placed = await place_calls(calls, base_url=target.base_url, api_token=target.api_token,
                               concurrency=concurrency, progress=progress)
    failed = sum(1 for p in placed if p.error)
    before = sum(1 for p in placed if p.skipped)
    earlier = f" ({before} of them placed by an earlier run)" if before else ""
    print(f"demo-data: {total - failed} of {total} inbound calls in "
          f"{time.monotonic() - started:.0f} s{earlier}", file=out, flush=True)
    return failed


def campaign_files(leads: list[GeneratedLead], directory: Path) -> tuple[str, dict[str, Any]]:
    """The campaign's lead list (CSV) and the sandbox's leads file (a mapping), writing
    each answering lead's scenario under `directory/scenarios/`."""
    scenarios = directory / "scenarios"
    scenarios.mkdir(parents=True, exist_ok=True)
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["number", "name", "company"])
    book: dict[str, Any] = {}
    for lead in leads:
        persona = lead.persona
        writer.writerow([persona.number, persona.name, persona.company])
        entries = []
        for attempt in lead.attempts:
            if isinstance(attempt, str):
                entries.append(attempt)
                continue
            path = scenarios / f"{attempt.scenario.name}.yaml"
            path.write_text(yaml.safe_dump(
                attempt.scenario.model_dump(mode="json", by_alias=True, exclude_none=True),
                sort_keys=False,
            ))
            entries.append(str(path.relative_to(directory)))
        book[persona.number] = entries
    return rows.getvalue(), book


def _campaign(target: _Target, leads: list[GeneratedLead], args: argparse.Namespace,
              out: TextIO) -> None:
    assert target.sandbox_leads is not None
    directory = target.sandbox_leads.parent
    lead_list, book = campaign_files(leads, directory)
    # The sandbox reads the file on every dial: replace it whole.
    staging = target.sandbox_leads.with_suffix(".tmp")
    staging.write_text(yaml.safe_dump(book, sort_keys=False, default_style=None))
    staging.replace(target.sandbox_leads)
    headers = {"Authorization": f"Bearer {target.api_token}"}
    with httpx.Client(base_url=target.base_url, headers=headers, timeout=60) as api:
        campaign_id = _existing_campaign(api, leads[0].persona.number)
        if campaign_id is not None:
            print(f"demo-data: campaign {campaign_id} was made by an earlier run with this "
                  "seed", file=out, flush=True)
        else:
            created = api.post("/v1/campaigns",
                               params={"name": f"demo-data seed {args.seed}", **CAMPAIGN_PACING},
                               content=lead_list.encode(), headers={"Content-Type": "text/csv"})
            if created.status_code != 201:
                raise DemoDataError(f"the campaign was refused: {created.text.strip()}")
            body = created.json()
            campaign_id = body["id"]
            print(f"demo-data: campaign {campaign_id} created: {body['accepted']} leads, "
                  f"{len(body['rejected'])} rejected", file=out, flush=True)
        state = api.get(f"/v1/campaigns/{campaign_id}").json()["state"]
        action = {"draft": "start", "paused": "resume"}.get(state)
        if action:
            api.post(f"/v1/campaigns/{campaign_id}/{action}").raise_for_status()
        print(f"demo-data: campaign {campaign_id} dialling {len(leads)} leads through the "
              "Twilio sandbox (audio calls; the leads answer, ring out, are busy or go to "
              "voicemail)", file=out, flush=True)
        _follow_campaign(api, campaign_id, args.campaign_timeout, out)


def _existing_campaign(api: httpx.Client, number: str) -> int | None:
    """The campaign an earlier run with this seed made (its first lead was loaded in it)."""
    response = api.get(f"/v1/leads/{number}")
    if response.status_code != 200:
        return None
    campaigns = [a["campaign_id"] for a in response.json().get("attempts", [])]
    return campaigns[0] if campaigns else None


def _follow_campaign(api: httpx.Client, campaign_id: int, timeout_s: float, out: TextIO) -> None:
    started = time.monotonic()
    shown = None
    while True:
        status = api.get(f"/v1/campaigns/{campaign_id}").json()
        attempts = {k: n for k, n in status["attempts"].items() if n}
        # A line each time an attempt settles (not each time one starts ringing).
        settled = {k: n for k, n in attempts.items() if k not in _UNSETTLED}
        if (settled, status["state"]) != shown:
            line = ", ".join(f"{k} {n}" for k, n in sorted(attempts.items())) or "nothing yet"
            print(f"  campaign {campaign_id} [{time.monotonic() - started:4.0f} s] "
                  f"{status['state']}: {line}", file=out, flush=True)
            shown = (settled, status["state"])
        if status["state"] in ("completed", "cancelled"):
            return
        if time.monotonic() - started > timeout_s:
            print(f"demo-data: the campaign is still {status['state']} after {timeout_s:g} s; "
                  "it goes on dialling while Switchboard runs", file=out)
            return
        time.sleep(CAMPAIGN_POLL_S)


def _summary(target: _Target, out: TextIO) -> None:
    headers = {"Authorization": f"Bearer {target.api_token}"}
    with httpx.Client(base_url=target.base_url, headers=headers, timeout=30) as api:
        experiment = api.get(f"/v1/analytics/experiments/{DEMO_EXPERIMENT_NAME}")
        outcomes = api.get("/v1/analytics/outcomes")
    variants = experiment.json()["variants"] if experiment.status_code == 200 else []
    variants = [row for row in variants if row["conversion"] is not None]
    if variants:
        print(f"\nexperiment {DEMO_EXPERIMENT_NAME}:", file=out)
        for row in variants:
            print(f"  {row['variant'] or '(none)':<10} {row['conversions']:>4} qualified of "
                  f"{row['ended']:>4} = {row['conversion']:.0%} "
                  f"(95 % interval {row['ci_low']:.0%}-{row['ci_high']:.0%})"
                  + ("" if row["p_value"] is None else f", p = {row['p_value']:.3g}"),
                  file=out)
    if outcomes.status_code == 200:
        counts = Counter({row["outcome"]: row["calls"] for row in outcomes.json()["outcomes"]})
        print("outcomes: " + ", ".join(f"{o or 'none (not answered)'} {n}"
                                       for o, n in counts.most_common()), file=out)
    print(f"analytics: {target.base_url}/v1/analytics/... ; console: {target.base_url}/console",
          file=out, flush=True)
