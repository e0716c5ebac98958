"""Recognition benchmark: what PocketSphinx hears of caller answers at 8 kHz, and
whether the deterministic understanding in `graph/understanding/` still reads the right fact.

Each sentence is spoken by eSpeak NG through the caller simulator's voice
(`switchboard.caller.speech.synthesize_ulaw`: 8 kHz μ-law, as Twilio carries it),
decoded to 16-bit PCM and transcribed as the pipeline does it: one VAD segment
(0.3 s of pre-roll, the speech, 0.5 s of trailing silence) through
`PocketSphinxDecoder.decode` at 8 kHz — upsampling, our features, the product's
language model built from the script's prompts.

Two sets:
- `tuning` — answers written for this benchmark (timelines, budgets, roles and
  who decides, opt-outs, yes/no, asking for a person, meeting times), each with
  the question it answers. Everything in `actors/speech` may be tuned on these.
- `heldout` — the caller lines of the public scenarios in `scenarios/`.
  Nothing in the product is built from them (DESIGN.md); they are only checked.

The facts expected of a sentence are what `graph.understanding.caller_line.understand` reads
from the sentence as written (with the same question pending), so the benchmark
measures recognition, not the understanding rules. Reported: word error rate,
the share of sentences whose facts survive ("fact rate"), and facts heard that
were never said ("false facts": an opt-out or a "yes" that was not said is
worse than a miss).

    .venv/bin/python -m load_tests.bench_recognition [--set tuning|heldout|all]
        [--group timeline ...] [--option lw=8 ...] [--cache-dir DIR] [--verbose]
        [--json FILE]

`--option` overrides a PocketSphinx setting (also `lm=` and `dict=`, to measure
a model built by an older version). Measured 2026-11 on 2 busy cores, ~1.5 min:

| model                                        | tuning WER | facts | false | held-out WER | facts |
|----------------------------------------------|------------|-------|-------|--------------|-------|
| before (LM v1, no phone-band forms)          | 38.0 %     | 51/94 | 9     | 30.5 %       | 23/27 |
| after (phone-band forms, generated grammar)  | 22.6 %     | 68/94 | 4     | 30.5 %       | 24/27 |

Measured 2026-12-04 (2 cores), with the `greeting` group added and the caller's name
scored (so the sets are larger and the held-out facts include names):

| model                               | tuning WER | facts  | false | held-out WER | facts | false |
|-------------------------------------|------------|--------|-------|--------------|-------|-------|
| rewritten grammar (no scenario line) | 26.0 %    | 73/110 | 5     | 31.7 %       | 20/27 | 4     |
| (tried, not kept) names weigh more | 25.4 %     | 76/110 | 3     | 33.2 %       | 20/27 | 3     |
| + the agents' re-ask wordings       | 26.2 %     | 73/110 | 5     | 32.0 %       | 20/27 | 4     |

Weighting names more in introductions read 6/12 greeting names instead of 4/12, but
shifted the sampled corpus enough that "our budget is fifty thousand dollars" was
heard as "sixty" (tests/test_speech_server.py), a false fact, so the grammar was kept
as it was. "this is" is often heard as "it's" or "i think"; "it's dana" is now read
as a name when we asked who is calling.

Single answers flip with small changes to the model; compare whole sets.

Each set also reports the recogniser's confidence (`Recognition.confidence`, the mean
word posterior) against the facts read: for each threshold, how many answers read
wrong a gate below it would stop and how many read right it would lose. The agents'
threshold (`agent_integration.min_stt_confidence`) is chosen on the tuning set only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pipecat.audio.utils import create_file_resampler, ulaw_to_pcm

from actors.speech.language_model import LanguageModel, language_model
from actors.speech.pocketsphinx_stt import PocketSphinxDecoder, Recognition
from actors.speech.spoken import spoken_words
from graph.understanding.caller_line import Understanding, understand
from graph.workflow.script import all_prompts
from switchboard.caller.speech import synthesize_ulaw
from switchboard.settings import load_settings
from tests.e2e import SCENARIO_FILES

RATE = 8000  # Twilio
TODAY = date(2026, 3, 2)  # timelines are relative; any fixed day will do

#: The facts and acts the agents act on; the rest of `Understanding` is not scored.
FACTS = (
    "budget_usd",
    "no_budget",
    "decision_maker",
    "timeline_months",
    "opt_out",
    "affirmative",
    "wants_human",
    "not_interested",
    "callback_later",
    "meeting_time",
    "caller_name",
)

#: (question pending or None, sentence) — written for this benchmark, not taken
#: from the scenarios. Grouped by what the caller states.
TUNING: dict[str, list[tuple[str | None, str]]] = {
    "timeline": [
        ("timeline", "We need it within two months."),
        ("timeline", "Probably in about six weeks."),
        ("timeline", "We'd like to go live in four months."),
        ("timeline", "Hopefully within the next three months."),
        ("timeline", "Sometime in the next two months, I'd say."),
        ("timeline", "We're aiming to launch in five weeks."),
        ("timeline", "Within a month if possible."),
        ("timeline", "In about eight weeks."),
        ("timeline", "Ideally within six months."),
        ("timeline", "By the end of the quarter."),
        ("timeline", "We want to have it running in three weeks."),
        ("timeline", "Within two or three months."),
        ("timeline", "We plan to start in about four months."),
        ("timeline", "Maybe in nine months or so."),
        ("timeline", "Next month would be ideal."),
        ("timeline", "As soon as possible, really."),
        ("timeline", "We need a system in place within six weeks."),
        ("timeline", "Our goal is to roll this out within a year."),
        ("timeline", "Three to six months."),
        ("timeline", "We hope to be up and running in two months."),
        ("timeline", "In the next four weeks."),
        ("timeline", "We'd like it working in three months."),
        ("timeline", "Twelve months from now."),
        ("timeline", "Within ten weeks."),
        ("timeline", "We want it done in under three months."),
        ("timeline", "I'd say within five months."),
        ("timeline", "Realistically, in about two months."),
        ("timeline", "Not before next year."),
        (None, "We want to switch over within four months."),
        (None, "We need a new system live in six months."),
    ],
    "budget": [
        ("budget", "We could spend about forty thousand a year."),
        ("budget", "Our budget is roughly eighty thousand dollars."),
        ("budget", "Around twenty five thousand dollars per year."),
        ("budget", "Maybe sixty grand."),
        ("budget", "We have a hundred and twenty thousand set aside."),
        ("budget", "We'd be willing to invest about seventy thousand."),
        ("budget", "About two hundred thousand dollars this year."),
        ("budget", "Less than ten thousand dollars."),
        ("budget", "Half a million dollars."),
        ("budget", "We currently spend ninety thousand a year on it."),
        ("budget", "Somewhere around thirty thousand dollars annually."),
        ("budget", "Our budget for the year is about forty five thousand."),
        ("budget", "We don't have a budget for this."),
        ("budget", "There's no money for it right now."),
        (None, "We can afford around sixty thousand dollars a year."),
    ],
    "authority": [
        ("authority", "I'm the owner, so I make the decisions."),
        ("authority", "It's my decision."),
        ("authority", "I decide."),
        ("authority", "The final decision is mine."),
        ("authority", "I run sales, so it's my call."),
        ("authority", "I manage marketing and the decision is mine to make."),
        ("authority", "I am the general manager and I have the final say."),
        ("authority", "I'm the one who signs off on purchases."),
        ("authority", "Yes, I decide on things like this."),
        ("authority", "My boss makes those decisions."),
        ("authority", "I'd have to check with my business partner."),
        ("authority", "It's not my call, the owner decides."),
        ("authority", "My partner and I decide together."),
        ("authority", "That decision is mine."),
        ("authority", "I head up finance, so I make the call."),
        (None, "I'm the founder, so yes, I decide."),
    ],
    "opt_out": [
        (None, "Don't call me again."),
        (None, "Please do not call this number again."),
        (None, "Stop calling me, please."),
        (None, "Do not call me anymore."),
        (None, "Never call me again."),
        (None, "Take my number off your list."),
        (None, "Remove me from your calling list."),
        (None, "I'm not interested, don't call me again."),
        (None, "Please don't contact me again."),
        (None, "Put me on your do not call list."),
        (None, "Do not call us again, thank you."),
        (None, "Lose my number."),
        (None, "No thanks, and please stop calling."),
    ],
    "yes_no": [
        (None, "Yes, that's right."),
        (None, "Yeah, sure."),
        (None, "No, not really."),
        (None, "Nope."),
        (None, "Yes, I have a minute."),
        (None, "Absolutely."),
        (None, "Sure, go ahead."),
        (None, "No thank you."),
        (None, "Correct."),
        (None, "Yes please."),
        (None, "No, I don't think so."),
        (None, "Okay, sounds good."),
    ],
    "person": [
        (None, "Can I speak to a real person?"),
        (None, "Let me talk to a human, please."),
        (None, "Transfer me to an agent."),
        (None, "I'd like to talk to an actual salesperson."),
        (None, "Can I get a representative, please?"),
        (None, "Put me through to someone real."),
        (None, "Is there a human I can speak with?"),
    ],
    "other": [
        (None, "Can you call me back next week?"),
        ("meeting", "Thursday at two in the afternoon works."),
        ("meeting", "How about Monday at nine?"),
        ("meeting", "Friday at eleven in the morning."),
        (None, "I'm not interested."),
    ],
    # The first thing most callers say: a greeting misheard as a brush-off or a
    # goodbye would turn the call at hello.
    "greeting": [
        ("identity", "Hi, this is Dana."),
        ("identity", "Hi, this is Sam."),
        ("identity", "Hello, this is Jamie."),
        ("identity", "This is Kim."),
        ("identity", "Hey, Chris here."),
        ("identity", "Hi, it's Morgan."),
        ("identity", "Alex speaking."),
        ("identity", "Good morning, this is Taylor."),
        ("identity", "My name is Jordan."),
        ("identity", "Hello, Robin speaking."),
        ("identity", "Hi there, it's Casey."),
        ("identity", "Yeah, this is Pat."),
    ],
}


@dataclass(frozen=True)
class Case:
    group: str
    expecting: str | None
    text: str


@dataclass
class Result:
    case: Case
    heard: str
    words: int
    errors: int
    wanted: dict[str, Any]
    got: dict[str, Any]
    false: dict[str, Any]
    recognition: Recognition

    @property
    def fact_kept(self) -> bool:
        return all(self.got.get(k) == v for k, v in self.wanted.items())

    @property
    def reading(self) -> str:
        """`right`: the facts read are those said; `wrong`: a fact read is not one said
        (another value, or never said); `missed`: some facts lost, none wrong."""
        if self.got == self.wanted:
            return "right"
        if any(k not in self.wanted or self.wanted[k] != v for k, v in self.got.items()):
            return "wrong"
        return "missed"


_UNSAID = Understanding()


def facts(understanding: Understanding) -> dict[str, Any]:
    """The scored facts that were stated: those that differ from an empty reading
    (so "not the decision maker" and "no" count, an absent opt-out does not)."""
    values = {name: getattr(understanding, name) for name in FACTS}
    return {k: v for k, v in values.items() if v != getattr(_UNSAID, k)}


def tuning_cases() -> list[Case]:
    return [Case(group, q, text) for group, lines in TUNING.items() for q, text in lines]


def heldout_cases() -> list[Case]:
    cases = []
    for path in SCENARIO_FILES:
        for line in yaml.safe_load(path.read_text())["lines"]:
            if isinstance(line, str):
                cases.append(Case("scenarios", None, line))
    return cases


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        previous, row = row, [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref != hyp))
    return row[-1]


async def phone_pcm(text: str) -> bytes:
    """`text` as the caller simulator sends it, decoded from μ-law as the transport does."""
    ulaw = await synthesize_ulaw(text)
    return await ulaw_to_pcm(ulaw, RATE, RATE, create_file_resampler())


def segment(speech: bytes) -> bytes:
    """One VAD segment: pre-roll, the speech, trailing silence (16-bit PCM at 8 kHz)."""
    return bytes(int(0.3 * RATE) * 2) + speech + bytes(int(0.5 * RATE) * 2)


def score(case: Case, recognition: Recognition) -> Result:
    reference = spoken_words(case.text)
    hypothesis = spoken_words(recognition.text)
    wanted = facts(understand(case.text, today=TODAY, expecting=case.expecting))
    got = facts(understand(recognition.text, today=TODAY, expecting=case.expecting))
    false = {k: v for k, v in got.items() if k not in wanted}
    return Result(
        case=case,
        heard=recognition.text,
        words=len(reference),
        errors=word_errors(reference, hypothesis),
        wanted=wanted,
        got=got,
        false=false,
        recognition=recognition,
    )


def summary(results: list[Result]) -> dict[str, Any]:
    words = sum(r.words for r in results)
    with_facts = [r for r in results if r.wanted]
    audio = sum(r.recognition.audio_seconds for r in results)
    decode = sum(r.recognition.decode_seconds for r in results)
    return {
        "sentences": len(results),
        "wer": sum(r.errors for r in results) / max(words, 1),
        "facts_kept": sum(r.fact_kept for r in with_facts),
        "facts_total": len(with_facts),
        "false_facts": sum(bool(r.false) for r in results),
        "real_time_factor": decode / max(audio, 1e-9),
    }


# The acts a mishearing must not lose: (group, the act, the half-heard form the script
# asks about).
SAFETY_ACTS = {"opt_out": ("opt_out", "maybe_opt_out"),
               "person": ("wants_human", "maybe_wants_human")}


def act_safety(results: list[Result], act: str, half_heard: str,
               min_confidence: float) -> dict[str, int]:
    """What the script does with each sentence as heard: act on it, ask what the caller
    meant ("Would you like me to stop calling this number?"), or carry on (a miss). A
    line heard below `min_confidence` is never acted on; if it reads as the act at all,
    it is asked about."""
    acted = asked = 0
    for r in results:
        heard = understand(r.heard, today=TODAY, expecting=r.case.expecting)
        sure = r.recognition.confidence >= min_confidence
        acted += sure and getattr(heard, act)
        asked += not (sure and getattr(heard, act)) and (
            getattr(heard, act) or getattr(heard, half_heard))
    return {"acted": acted, "asked": asked, "missed": len(results) - acted - asked}


#: Thresholds the confidence sweep tries.
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def confidence_sweep(results: list[Result]) -> list[dict[str, Any]]:
    """For each threshold, what gating lines heard below it would do: answers read
    wrong that it stops (the point), answers read right that it loses (each costs the
    caller a re-ask), and answers read with facts missing that it re-asks anyway."""
    readings = [(r.recognition.confidence, r.reading) for r in results]
    totals = {kind: sum(reading == kind for _, reading in readings)
              for kind in ("wrong", "right", "missed")}
    rows = []
    for threshold in THRESHOLDS:
        gated = {kind: sum(c < threshold and reading == kind for c, reading in readings)
                 for kind in totals}
        rows.append({"threshold": threshold,
                     **{f"gated_{kind}": gated[kind] for kind in totals},
                     **{f"{kind}_total": totals[kind] for kind in totals}})
    return rows


def print_sweep(rows: list[dict[str, Any]]) -> None:
    first = rows[0]
    print(f"confidence gate: {first['wrong_total']} read wrong, {first['right_total']} right, "
          f"{first['missed_total']} with facts missed")
    print(f"{'below':>7}{'gated wrong':>13}{'lost right':>12}{'gated missed':>14}")
    for row in rows:
        print(f"{row['threshold']:>7.2f}{row['gated_wrong']:>13}{row['gated_right']:>12}"
              f"{row['gated_missed']:>14}")


def print_report(name: str, results: list[Result], verbose: bool) -> dict[str, Any]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        groups[r.case.group].append(r)
    table = {group: summary(rs) for group, rs in groups.items()}
    min_confidence = load_settings().agent_integration.min_stt_confidence
    total = summary(results)
    print(f"\n== {name}")
    print(f"{'group':<12}{'n':>4}{'WER':>8}{'facts':>10}{'false':>7}")
    for group, s in [*table.items(), ("ALL", total)]:
        kept = f"{s['facts_kept']}/{s['facts_total']}"
        print(f"{group:<12}{s['sentences']:>4}{s['wer']:>8.1%}{kept:>10}{s['false_facts']:>7}")
    print(f"real-time factor {total['real_time_factor']:.3f}")
    for group, (act, half_heard) in SAFETY_ACTS.items():
        if groups.get(group):
            table[group]["safety"] = safety = act_safety(groups[group], act, half_heard,
                                                         min_confidence)
            print(f"{group} over the phone: {safety['acted']} acted on, {safety['asked']} "
                  f"asked about, {safety['missed']} missed")
    sweep = confidence_sweep(results)
    print_sweep(sweep)
    for r in results:
        bad = not r.fact_kept or r.false
        if verbose or bad:
            mark = "FACT " if bad else "     "
            detail = f"  want {r.wanted} got {r.got}" if bad else ""
            print(f"  {mark}{r.recognition.confidence:.2f} {r.case.text!r} -> {r.heard!r}{detail}")
    return {"groups": table, "all": total, "confidence_sweep": sweep}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for option in args.option:
        key, _, value = option.partition("=")
        options[key] = type_of(value)
    cache = Path(args.cache_dir) if args.cache_dir else None
    started = time.perf_counter()
    model: LanguageModel = language_model(all_prompts(load_settings()), cache_dir=cache)
    print(
        f"language model {model.key}: {model.vocabulary} words, n-grams {model.ngram_counts}, "
        f"{'built' if model.built else 'cached'} in {time.perf_counter() - started:.1f} s"
    )
    decoder = PocketSphinxDecoder(model, options)

    sets: dict[str, list[Case]] = {}
    if args.set in ("tuning", "all"):
        sets["tuning"] = [c for c in tuning_cases() if not args.group or c.group in args.group]
    if args.set in ("heldout", "all"):
        sets["heldout"] = heldout_cases()
    for cases in sets.values():
        for case in cases:  # a sentence whose text states no fact would score nothing
            if case.group != "scenarios" and not facts(
                understand(case.text, today=TODAY, expecting=case.expecting)
            ):
                print(f"warning: no fact read from the text itself: {case.text!r}")

    report: dict[str, Any] = {"options": options, "model": model.key}
    for name, cases in sets.items():
        audio = await asyncio.gather(*(phone_pcm(c.text) for c in cases))
        results = [
            score(case, decoder.decode(segment(pcm), RATE))
            for case, pcm in zip(cases, audio, strict=True)
        ]
        report[name] = print_report(name, results, args.verbose)
        report[name]["sentences"] = [
            {"text": r.case.text, "heard": r.heard, "wanted": r.wanted, "got": r.got,
             "confidence": round(r.recognition.confidence, 4), "reading": r.reading}
            for r in results
        ]
    return report


def type_of(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"yes": True, "no": False, "true": True, "false": False}.get(value.lower(), value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("tuning", "heldout", "all"), default="all")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        help="PocketSphinx decoder option, e.g. lw=8 (repeatable)",
    )
    parser.add_argument("--cache-dir", help="language model cache (default: the product's)")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        help="only these groups of the tuning set (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every transcript")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    wers = [report[s]["all"]["wer"] for s in ("tuning", "heldout") if s in report]
    print(f"\nmean WER over sets: {statistics.mean(wers):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
