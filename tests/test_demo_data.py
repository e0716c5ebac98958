"""`switchboard demo-data` without a server: the generated callers (deterministic from a
seed, and varied), the campaign files the Twilio sandbox and the lead import read back,
the demo's live settings, and the command's argument handling.

The calls themselves are placed against a real Switchboard in
tests/test_e2e_experiments.py (slow tier)."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from switchboard.caller.generated import (
    CALLER_BOOK,
    KINDS,
    CallerBook,
    CallerBookError,
    CallerGenerator,
    load_caller_book,
)
from switchboard.cli import _parser
from switchboard.cli import main as cli_main
from switchboard.config_command import check as check_config
from switchboard.demo_data_command import (
    DEMO_EXPERIMENT_NAME,
    campaign_files,
    check_arguments,
    demo_serve_config,
    run,
)
from switchboard.lead_import import parse_leads
from switchboard.live_config import parse_live_config
from switchboard.local_services import server_port
from switchboard.scenario import Dtmf, Hangup, Silence
from switchboard.settings import load_settings
from switchboard.twilio_sandbox.lead_book import answer_for

ROOT = Path(__file__).resolve().parents[1]


def _dump(calls: list) -> list[dict]:
    return [{"sid": c.call_sid, "kind": c.kind, "repeat": c.repeat,
             "scenario": c.scenario.model_dump(mode="json", by_alias=True)} for c in calls]


def test_the_same_seed_gives_the_same_callers_and_call_sids() -> None:
    first = CallerGenerator(5)
    again = CallerGenerator(5)
    assert _dump(first.inbound_calls(80)) == _dump(again.inbound_calls(80))
    assert [lead.persona for lead in first.campaign_leads(20)] == [
        lead.persona for lead in again.campaign_leads(20)
    ]
    other = _dump(CallerGenerator(6).inbound_calls(80))
    assert other != _dump(CallerGenerator(5).inbound_calls(80))
    # Another prefix never shares a call SID with the same seed's calls.
    prefixed = {c.call_sid for c in CallerGenerator(5, prefix="other").inbound_calls(80)}
    assert prefixed.isdisjoint({c.call_sid for c in CallerGenerator(5).inbound_calls(80)})


def test_generated_callers_vary() -> None:
    book = load_caller_book()
    calls = CallerGenerator(1).inbound_calls(300)
    assert len(calls) == 300
    kinds = Counter(call.kind for call in calls)
    assert set(kinds) == {k for k, w in book.kinds.inbound.items() if w > 0}
    assert len({call.persona.name for call in calls}) >= 30
    assert len({call.persona.company for call in calls}) >= 15
    assert len({call.persona.number[:5] for call in calls}) >= 10  # area codes
    # What they say differs: opening lines, and the order of the qualifying answers.
    assert len({call.scenario.lines[0] for call in calls}) >= 100
    budgets = {c.scenario.expect.budget_usd for c in calls
               if c.scenario.expect and c.scenario.expect.budget_usd}
    assert min(budgets) < 10_000 <= max(budgets) and len(budgets) >= 10
    assert {type(line) for call in calls for line in call.scenario.lines} == {
        str, Dtmf, Silence, Hangup
    }
    # The qualifying answers come in more than one order (of the 24 there are).
    topics = _topics(book)
    orders = {tuple(topic for line in call.scenario.lines for topic, pattern in topics
                    if isinstance(line, str) and pattern.fullmatch(line))
              for call in calls if call.kind == "qualified"}
    assert all(sorted(order) == sorted(topic for topic, _ in topics) for order in orders)
    assert len(orders) >= 12


def _topics(book: CallerBook) -> list[tuple[str, re.Pattern[str]]]:
    """(topic, a pattern of the book's sentences on it) for the four BANT answers."""
    topics = []
    for topic in ("need", "budget", "decides", "timeline"):
        templates = [re.sub(r"\\\{\w+\\\}", ".+", re.escape(t)) for t in book.lines[topic]]
        topics.append((topic, re.compile("|".join(f"(?:{t})" for t in templates))))
    return topics


def test_repeat_callers_call_again_from_the_same_number_after_every_first_call() -> None:
    calls = CallerGenerator(2).inbound_calls(200)
    firsts = [c for c in calls if not c.repeat]
    repeats = [c for c in calls if c.repeat]
    assert len(repeats) == round(200 * load_caller_book().repeat_share)
    assert calls == firsts + repeats
    first_numbers = [c.persona.number for c in firsts]
    assert len(set(first_numbers)) == len(first_numbers)  # one person per first call
    for repeat in repeats:
        earlier = next(c for c in firsts if c.persona.number == repeat.persona.number)
        assert earlier.persona == repeat.persona
        assert repeat.scenario.from_number == earlier.scenario.from_number
    assert len({c.call_sid for c in calls}) == len(calls)


def test_expectations_follow_what_the_caller_says() -> None:
    calls = CallerGenerator(3).inbound_calls(300)
    for call in calls:
        expect = call.scenario.expect
        if call.kind == "qualified":
            assert expect is not None and expect.outcome == "qualified"
            assert expect.budget_usd >= 10_000 and expect.decision_maker is True
            assert expect.timeline_months <= 6
            assert isinstance(call.scenario.lines[-1], Hangup)
        elif call.kind == "small_budget":
            assert expect.outcome == "disqualified" and expect.budget_usd < 10_000
        elif call.kind == "long_timeline":
            assert expect.outcome == "nurture" and expect.timeline_months > 6
        elif call.kind == "not_the_decider":
            assert expect.outcome == "nurture" and expect.decision_maker is False
        elif call.kind in ("hangs_up", "callback_later", "keypad_and_silence"):
            assert expect is None


def test_numbers_are_fictional_valid_and_run_out_with_a_clear_error() -> None:
    generator = CallerGenerator(4, area_codes=("212",))
    calls = generator.inbound_calls(80)
    for call in calls:
        number = call.persona.number
        assert number.startswith("+1212555") and 100 <= int(number[-4:]) <= 199
    with pytest.raises(ValueError, match="no numbers left"):
        generator.inbound_calls(60)
    with pytest.raises(ValueError):
        generator.inbound_calls(-1)
    assert CallerGenerator(4).inbound_calls(0) == []


def test_campaign_files_load_as_leads_and_play_in_the_sandbox(tmp_path: Path) -> None:
    leads = CallerGenerator(9).campaign_leads(60)
    answers = Counter(type(a).__name__ if not isinstance(a, str) else a
                      for lead in leads for a in lead.attempts)
    assert {"GeneratedCall", "no-answer", "voicemail", "busy"} <= set(answers)
    lead_list, book = campaign_files(leads, tmp_path)
    book_path = tmp_path / "leads.yaml"
    book_path.write_text(yaml.safe_dump(book))

    loaded = parse_leads(lead_list.encode(), max_leads=1000)
    assert loaded.rejected == []
    assert [lead.number for lead in loaded.leads] == [lead.persona.number for lead in leads]
    assert all(lead.timezone for lead in loaded.leads)  # the dialer's calling hours

    for lead in leads:
        for attempt, planned in enumerate(lead.attempts, start=1):
            answer = answer_for(book_path, lead.persona.number, attempt)
            if isinstance(planned, str):
                assert answer.behaviour == planned
            else:
                assert answer.behaviour == "human"
                assert answer.scenario == planned.scenario
                assert answer.scenario.direction == "outbound"


def test_a_caller_book_with_a_hole_is_refused_by_name(tmp_path: Path) -> None:
    data = yaml.safe_load(CALLER_BOOK.read_text())
    del data["lines"]["goodbye"]
    broken = tmp_path / "callers.yaml"
    broken.write_text(yaml.safe_dump(data))
    with pytest.raises(CallerBookError, match="goodbye"):
        load_caller_book(broken)
    data = yaml.safe_load(CALLER_BOOK.read_text())
    data["kinds"]["inbound"]["sings_a_song"] = 3
    broken.write_text(yaml.safe_dump(data))
    load_caller_book.cache_clear()
    with pytest.raises(CallerBookError, match="sings_a_song"):
        load_caller_book(broken)
    assert set(load_caller_book().kinds.inbound) <= set(KINDS)


def test_the_demo_serve_config_holds_a_valid_experiment(tmp_path: Path) -> None:
    config = demo_serve_config(yaml.safe_load((ROOT / "serve_config.yaml").read_text()))
    blocks = [d["user_config"] for d in config["applications"][0]["deployments"]
              if "user_config" in d]
    assert blocks and all(block == blocks[0] for block in blocks)
    assert blocks[0]["version"].endswith("+demo")
    live = parse_live_config(blocks[0], load_settings())
    assert DEMO_EXPERIMENT_NAME in live.block["experiments"]
    path = tmp_path / "serve_config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert check_config(path, io.StringIO()) == 0


def _args(*argv: str):
    return _parser().parse_args(["demo-data", *argv])


def test_arguments() -> None:
    args = _args()
    assert (args.calls, args.leads, args.seed, args.concurrency) == (240, 24, 1, 6)
    assert args.url is None and not args.stop and check_arguments(args) is None
    for bad in (["--calls", "-1"], ["--concurrency", "0"], ["--leads", "x"]):
        with pytest.raises(SystemExit):
            _args(*bad)
    assert "--url" in check_arguments(_args("--sandbox-leads", "leads.yaml"))
    assert "--stop" in check_arguments(_args("--url", "http://127.0.0.1:1", "--stop"))
    assert "nothing to do" in check_arguments(_args("--calls", "0", "--leads", "0"))
    assert check_arguments(_args("--url", "http://x", "--sandbox-leads", "l.yaml")) is None


def test_an_unreachable_server_is_named(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SWITCHBOARD_API_TOKEN", "a-token")
    url = f"http://127.0.0.1:{server_port()}"  # nothing listens there
    assert cli_main(["demo-data", "--url", url, "--calls", "3"]) == 2
    error = capsys.readouterr().err
    assert f"cannot reach a Switchboard at {url}" in error
    assert "switchboard serve" in error
    assert run(_args("--sandbox-leads", "x.yaml"), io.StringIO()) == 2
