"""The Grafana dashboard (ops/grafana/switchboard.json), the Prometheus alerts
(ops/prometheus/switchboard_alerts.yml, with their promtool unit tests) and the runbooks
(docs/runbooks/) stay true to the code.

- promtool checks the rules and the dashboard's queries and runs the rules' unit tests:
  each alert fires on its symptom and stays quiet on a healthy series. Without promtool
  these tests are skipped, except under `CI=true`, where they fail (scripts/setup.sh
  installs it).
- Every metric the dashboard and the rules name is one the code declares, under the name
  Ray exports it with, and they filter and group only on labels it carries. The declared
  metrics are read from the sources with `ast`: the name and `tag_keys` of every
  `Counter`, `Gauge` and `Histogram` of `ray.serve.metrics` or `ray.util.metrics`. Ray
  2.60 exports `switchboard_x` as `ray_switchboard_x_total` (a Counter: its agent's
  OpenTelemetry exporter hands the monotonic sum to prometheus_client, which adds
  `_total`), `ray_switchboard_x` (a Gauge) and `ray_switchboard_x_bucket|_sum|_count` (a
  Histogram); seen on a scrape of a live Ray's metrics port, and checked here by running
  Ray's own exporter code on every declared metric. Every declared metric has a panel.
- Every alert has a summary, a severity and a runbook that exists, and every runbook an
  alert.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "ops" / "grafana" / "switchboard.json"
RULES = ROOT / "ops" / "prometheus" / "switchboard_alerts.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "switchboard_alerts_test.yml"
RUNBOOKS = ROOT / "docs" / "runbooks"

RAY_METRIC_MODULES = ("ray.serve.metrics", "ray.util.metrics")
METRIC_KINDS = ("Counter", "Gauge", "Histogram")
EXPORTED_SUFFIXES = {
    "Counter": ("_total",),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count"),
}
# What Ray adds to every sample (Serve's three in a replica; `ray_io_cluster` where
# KubeRay's PodMonitor sets it), and what a scrape adds.
RAY_LABELS = {
    "Component", "NodeAddress", "SessionName", "Version", "WorkerId",
    "deployment", "replica", "application", "ray_io_cluster", "instance", "job",
}  # fmt: skip
BUCKET_LABELS = {"_bucket": ("le",)}
SEVERITIES = ("critical", "warning", "info")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


# --- What the code declares ---------------------------------------------------------------


class Declared(NamedTuple):
    kind: str  # Counter, Gauge or Histogram
    tag_keys: tuple[str, ...]


def declared_metrics(source: str) -> tuple[dict[str, Declared], list[str]]:
    """The Ray metrics `source` creates, by name, and the creations whose name or tag keys
    are not literals (which no scan can read)."""
    tree = ast.parse(source)
    kinds: dict[str, str] = {}  # `from ray.serve.metrics import Counter as C`: C -> Counter
    modules = set(RAY_METRIC_MODULES)  # `from ray.util import metrics`: metrics
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in RAY_METRIC_MODULES:
            kinds |= {a.asname or a.name: a.name for a in node.names if a.name in METRIC_KINDS}
        elif isinstance(node, ast.ImportFrom) and node.module in ("ray.serve", "ray.util"):
            modules |= {a.asname or a.name for a in node.names if a.name == "metrics"}
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.name in RAY_METRIC_MODULES and a.asname}
    found: dict[str, Declared] = {}
    unreadable: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            kind = kinds.get(func.id)
        elif isinstance(func, ast.Attribute) and ast.unparse(func.value) in modules:
            kind = func.attr if func.attr in METRIC_KINDS else None
        else:
            kind = None
        if kind is None:
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        name = node.args[0] if node.args else keywords.get("name")
        at = 3 if kind == "Histogram" else 2  # (name, description, [boundaries,] tag_keys)
        tags = node.args[at] if len(node.args) > at else keywords.get("tag_keys")
        try:
            tag_keys = tuple(ast.literal_eval(tags)) if tags is not None else ()
            assert isinstance(name, ast.Constant) and isinstance(name.value, str)
            assert all(isinstance(key, str) for key in tag_keys)
        except (ValueError, TypeError, AssertionError):
            unreadable.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
            continue
        found[name.value] = Declared(kind, tag_keys)
    return found, unreadable


def _sources() -> Iterator[Path]:
    """The project's Python files, but for the tests (and hidden folders: .venv, .git)."""
    yield from ROOT.glob("*.py")
    for folder in sorted(ROOT.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and folder.name != "tests":
            yield from sorted(folder.rglob("*.py"))


def _code_metrics() -> dict[str, Declared]:
    metrics: dict[str, Declared] = {}
    unreadable: list[str] = []
    for path in _sources():
        found, opaque = declared_metrics(path.read_text())
        metrics |= found
        unreadable += [f"{path.relative_to(ROOT)} {line}" for line in opaque]
    assert not unreadable, f"Ray metrics this scan cannot read: {unreadable}"
    return metrics


def exported_labels(metrics: dict[str, Declared]) -> dict[str, set[str]]:
    """The names Ray's Prometheus endpoint serves the samples of `metrics` under, and the
    labels each sample may carry."""
    return {
        f"ray_{name}{suffix}": {*metric.tag_keys, *RAY_LABELS, *BUCKET_LABELS.get(suffix, ())}
        for name, metric in metrics.items()
        for suffix in EXPORTED_SUFFIXES[metric.kind]
    }


def exported_names(metrics: dict[str, Declared]) -> set[str]:
    return set(exported_labels(metrics))


# --- What the dashboard and the rules use ---------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GRAFANA_VARIABLES = re.compile(r"\$\{?\w+\}?")  # `offset $__range`
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "group_left", "group_right", "inf", "nan"}
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(.*),)?\s*\w+\s*\)\s*$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: what is left of it without strings,
    label matchers, ranges, Grafana's variables, grouping clauses, functions, keywords and
    numbers."""
    for pattern in (_STRINGS, _MATCHERS, _RANGES, _GRAFANA_VARIABLES, _GROUPING):
        expr = pattern.sub(" ", expr)
    return {
        m.group()
        for m in _IDENTIFIER.finditer(expr)
        if m.group().lower() not in _KEYWORDS and not expr[m.end() :].lstrip().startswith("(")
    }


_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHED_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_BY = re.compile(r"\bby\s*\(([^()]*)\)")


def matched_labels(expr: str) -> dict[str, set[str]]:
    """Metric name -> the labels its selectors in `expr` match on."""
    expr = _STRINGS.sub('""', expr)
    labels: dict[str, set[str]] = {}
    for selector in _SELECTOR.finditer(expr):
        labels.setdefault(selector.group(1), set()).update(
            _MATCHED_LABEL.findall(selector.group(2))
        )
    return labels


def grouped_labels(expr: str) -> set[str]:
    """The labels of the `by (...)` clauses of `expr`."""
    return {label.strip() for by in _BY.findall(expr) for label in by.split(",") if label.strip()}


def _rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _recorded_labels() -> dict[str, set[str]]:
    """Recorded metric -> its labels: its rule's grouping (a quantile's without `le`)."""
    recorded = [rule for rule in _rules() if "record" in rule]
    return {rule["record"]: grouped_labels(rule["expr"]) - {"le"} for rule in recorded}


def _rule_queries() -> dict[str, str]:
    return {rule.get("alert") or rule["record"]: rule["expr"] for rule in _rules()}


def _alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def _panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row holds its panels


def _dashboard_queries() -> dict[str, str]:
    """Where -> PromQL, for every panel target and template variable of the dashboard."""
    dashboard = _dashboard()
    queries = {
        f"panel {panel['title']!r} {target['refId']}": target["expr"]
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    }
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            selector = _LABEL_VALUES.match(variable["query"]["query"])
            assert selector, f"variable {variable['name']}: not a label_values() query"
            queries[f"variable {variable['name']}"] = selector.group(1) or ""
    return queries


# --- promtool -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is missing, and CI must check the alert rules: "
                        "scripts/setup.sh installs it (the Debian package prometheus)")
        pytest.skip("promtool is not installed (scripts/setup.sh installs it: the Debian "
                    "package prometheus)")
    return path


def _run(*command: str | Path) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{output}"
    return output


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    output = _run(promtool, "check", "rules", RULES)
    assert f"SUCCESS: {len(_rules())} rules found" in output, output


def test_every_alert_fires_on_its_symptom_and_stays_quiet_when_healthy(promtool: str) -> None:
    _run(promtool, "test", "rules", RULE_TESTS)
    # ... and the unit tests hold a case of each kind for every alert.
    fired, quiet = set(), set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fired == set(_alerts()), f"alerts never shown firing: {set(_alerts()) - fired}"
    assert quiet == set(_alerts()), f"alerts never shown quiet: {set(_alerts()) - quiet}"


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    # As recording rules, with Grafana's interval variables replaced, for promtool to parse.
    rules = [
        {"record": f"dashboard:query_{i}", "expr": re.sub(r"\$__\w+", "5m", expr)}
        for i, expr in enumerate(_dashboard_queries().values())
        if expr
    ]
    checked = tmp_path / "dashboard_queries.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _run(promtool, "check", "rules", checked)


# --- Metric names ---------------------------------------------------------------------------


def test_the_metric_scan_reads_ray_metrics_and_ignores_other_counters() -> None:
    source = """
import collections
from ray.serve.metrics import Counter as ServeCounter, Histogram
from ray.util import metrics
collections.Counter("not a metric")
ServeCounter("switchboard_a", "a", tag_keys=("reason",))
Histogram("switchboard_b_ms", "b", [1, 5], ("agent",))
metrics.Gauge(name="switchboard_c")
"""
    assert declared_metrics(source) == (
        {
            "switchboard_a": Declared("Counter", ("reason",)),
            "switchboard_b_ms": Declared("Histogram", ("agent",)),
            "switchboard_c": Declared("Gauge", ()),
        },
        [],
    )
    assert declared_metrics("from ray.util.metrics import Gauge\nGauge(f'x_{n}')")[1]


def test_the_promql_scan_finds_the_metrics_of_an_expression() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{reason=~"b|c"}[$__rate_interval])))'
        " / on (ray_io_cluster) group_left () (b_total offset $__range and c:recorded) > 1e3"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:recorded"}


def test_ray_exports_the_declared_metrics_under_the_names_the_dashboard_uses() -> None:
    # Ray's dashboard agent registers what a worker's Counter, Gauge and Histogram send it
    # as below (dashboard/modules/reporter/reporter_agent.py); its exporter names them.
    probe = """
import json, os, sys
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from ray._private.telemetry.open_telemetry_metric_recorder import OpenTelemetryMetricRecorder

recorder = OpenTelemetryMetricRecorder(gauge_metric_ttl_seconds=60)
for name, kind in json.load(sys.stdin).items():
    if kind == "Counter":  # a monotonic sum
        recorder.register_counter_metric(name, kind)
    elif kind == "Gauge":
        recorder.register_gauge_metric(name, kind)
    else:
        recorder.register_histogram_metric(name, kind, [1.0, 5.0])
    recorder.set_metric_value(name, {"reason": "x"}, 1.0)
families = text_string_to_metric_families(generate_latest(REGISTRY).decode())
print(json.dumps(sorted({s.name for f in families for s in f.samples})), flush=True)
# Out at once: once in a CI run (2026-12-06, load ~20) the interpreter's teardown, with
# OpenTelemetry's meter provider still up, died of SIGSEGV after the answer was printed.
os._exit(0)
"""
    metrics = _code_metrics()
    kinds = {name: metric.kind for name, metric in metrics.items()}
    done = subprocess.run(
        [sys.executable, "-c", probe], input=json.dumps(kinds), capture_output=True,
        text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    served = {name for name in json.loads(done.stdout) if name.startswith("ray_")}
    assert served == exported_names(metrics)


def test_the_dashboard_uses_only_metrics_the_code_exports() -> None:
    exported = exported_names(_code_metrics())
    used = {where: metric_names(expr) for where, expr in _dashboard_queries().items()}
    assert set().union(*used.values()), "the scan found no metric in the dashboard"
    unknown = {where: sorted(names - exported) for where, names in used.items() if names - exported}
    assert not unknown, f"metrics the code does not export: {unknown}"


def test_the_alert_rules_use_only_metrics_the_code_exports_or_the_rules_record() -> None:
    known = exported_names(_code_metrics()) | set(_recorded_labels())
    used = {name: metric_names(expr) for name, expr in _rule_queries().items()}
    assert all(used.values()), f"rules the scan found no metric in: {used}"
    unknown = {name: sorted(names - known) for name, names in used.items() if names - known}
    assert not unknown, f"metrics neither exported nor recorded: {unknown}"
    series = {
        case["series"].partition("{")[0]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("input_series", [])
    }
    assert series <= exported_names(_code_metrics()), "unit tests feed series Ray never serves"


def test_the_dashboard_and_the_rules_use_only_labels_their_metrics_carry() -> None:
    labels = exported_labels(_code_metrics()) | _recorded_labels()
    wrong = {}
    for where, expr in {**_dashboard_queries(), **_rule_queries()}.items():
        for metric, matched in matched_labels(expr).items():
            if matched - labels.get(metric, set()):
                wrong[f"{where}: {metric}{{}}"] = sorted(matched - labels.get(metric, set()))
        carried = set().union(*(labels.get(metric, set()) for metric in metric_names(expr)))
        if grouped_labels(expr) - carried:
            wrong[f"{where}: by ()"] = sorted(grouped_labels(expr) - carried)
    assert not wrong, f"labels no metric of the query carries: {wrong}"


def test_every_metric_the_code_declares_has_a_panel() -> None:
    used = set().union(*(metric_names(expr) for expr in _dashboard_queries().values()))
    missing = {
        name for name, metric in _code_metrics().items()
        if not exported_names({name: metric}) & used
    }
    assert not missing, f"metrics with no panel on the dashboard: {sorted(missing)}"


# --- The dashboard --------------------------------------------------------------------------


def test_the_dashboard_takes_its_prometheus_datasource_as_a_variable() -> None:
    dashboard = _dashboard()
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    for other in dashboard["templating"]["list"]:
        if other is not variable:
            assert other["datasource"] == DATASOURCE, other["name"]
    panels = list(_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        x, width = panel["gridPos"]["x"], panel["gridPos"]["w"]
        assert x >= 0 and x + width <= 24, panel["title"]
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]


# --- Alerts and runbooks ----------------------------------------------------------------------


@pytest.mark.parametrize("alert", sorted(_alerts()))
def test_every_alert_has_a_summary_a_severity_and_a_runbook(alert: str) -> None:
    rule = _alerts()[alert]
    assert rule["annotations"]["summary"].strip()
    assert rule["labels"]["severity"] in SEVERITIES
    runbook = rule["annotations"]["runbook_url"]
    assert runbook == f"docs/runbooks/{alert}.md"
    assert (ROOT / runbook).is_file(), f"{alert}: no runbook at {runbook}"
    text = (ROOT / runbook).read_text()
    assert text.startswith(f"# {alert}\n")
    for section in ("## What it means", "## Confirm", "## What to do"):
        assert section in text, f"{runbook} lacks {section!r}"


def test_every_runbook_belongs_to_an_alert() -> None:
    assert {path.stem for path in RUNBOOKS.glob("*.md")} == set(_alerts())
