"""Scenario files: every public example loads; a bad file says what is wrong and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.caller.demo import DEMO_SCENARIO
from switchboard.models import Outcome
from switchboard.scenario import Dtmf, Hangup, ScenarioError, Silence, load_scenario
from tests.e2e import SCENARIOS

GOOD = """\
name: sample
from: "+15551230001"
to: "+15557650000"
lines:
  - "Hello?"
  - {dtmf: "1"}
  - {silence_s: 6}
  - {hangup: true}
expect:
  outcome: qualified
  budget_usd: 50000
  premium: true
"""


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_public_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.lines
    assert scenario.expect is not None and isinstance(scenario.expect.outcome, Outcome)


def test_public_scenarios_exist() -> None:
    assert len(list(SCENARIOS.glob("*.yaml"))) >= 8


def test_lines_become_sentences_key_presses_silences_and_hang_ups(tmp_path: Path) -> None:
    path = tmp_path / "sample.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.direction == "inbound"  # the default
    assert scenario.lines == ["Hello?", Dtmf(dtmf="1"), Silence(silence_s=6), Hangup(hangup=True)]
    assert scenario.expect is not None
    assert scenario.expect.outcome is Outcome.QUALIFIED and scenario.expect.premium is True


def test_outbound_direction_is_read() -> None:
    assert load_scenario(SCENARIOS / "opt-out.yaml").direction == "outbound"


def test_the_built_in_demo_is_a_valid_scenario() -> None:
    assert DEMO_SCENARIO.lines and isinstance(DEMO_SCENARIO.lines[-1], Hangup)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('- {dtmf: "1"}', '- {dtmf: "x"}'), "lines: entry 1 (dtmf: 'x')"),
        (('- {dtmf: "1"}', '- {press: "1"}'), "lines: entry 1 is {'press': '1'}"),
        (("- {silence_s: 6}", "- {silence_s: -2}"), "entry 2 (silence_s: -2)"),
        (("- {hangup: true}", "- {hangup: false}"), "hangup can only be true"),
        (('"+15551230001"', "+15551230001"), "from: write the phone number in quotes"),
        (('to: "+15557650000"', 'to: "555-0100"'), "to: String should match pattern"),
        (("name: sample", "name: sample\ndirecton: outbound"), "directon: unknown key"),
        (("outcome: qualified", "outcome: great"), "expect.outcome: Input should be"),
        (('  - "Hello?"', '  - ""'), "entry 0 is an empty sentence"),
    ],
)
def test_a_bad_scenario_names_the_problem(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_missing_lines_and_numbers_are_named(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("name: nothing\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    for field in ("from: Field required", "to: Field required", "lines: Field required"):
        assert field in str(caught.value)


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text('name: x\nlines:\n  - "unterminated\n')
    with pytest.raises(ScenarioError, match=r"not valid YAML at line \d+"):
        load_scenario(path)


def test_a_file_that_is_not_a_mapping_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "absent.yaml")
