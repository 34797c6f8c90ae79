"""Prometheus configuration and alerts (promtool), dashboards, and the metrics they query.

Every metric a dashboard panel or an alert asks for must be registered by some service: the
check imports every service and the shared libraries, reads the metric families and their
label names from prometheus_client's registry, and compares them with the names and labels
found in each PromQL expression.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
import pytest
import redis.asyncio as aioredis
import yaml
from prometheus_client.metrics import MetricWrapperBase

from huleedu_service_libs.http import create_app
from huleedu_service_libs.outbox.metrics import outbox_metrics
from huleedu_service_libs.settings import ServiceSettings
from tests.ops.conftest import ROOT, read_yaml
from tests.ops.test_compose import compose_name, platform_services

PROMETHEUS = ROOT / "observability" / "prometheus"
DASHBOARDS = sorted((ROOT / "observability" / "grafana" / "dashboards").glob("*.json"))
RUNBOOK = ROOT / "docs" / "operations" / "runbook.md"
# Labels Prometheus attaches to every scraped series, and series it makes itself.
TARGET_LABELS = {"job", "instance", "process", "__name__"}
PROMETHEUS_SERIES = {"up": set[str]()}
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
WORKER_METRICS_PORT = 9100  # METRICS_PORT of every worker container
PROMQL_KEYWORDS |= {"and", "or", "unless", "offset"}
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


@dataclass
class Query:
    metrics: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)


def parse_promql(expr: str) -> Query:
    """The series names and label names a PromQL expression refers to."""
    query = Query()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for match in GROUPING.finditer(text):
        query.labels |= {name.strip() for name in match.group(1).split(",") if name.strip()}
    text = GROUPING.sub(" ", text)
    for match in re.finditer(r"\{([^}]*)\}", text):
        query.labels |= set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", match.group(1)))
    text = re.sub(r"\{[^}]*\}", " ", text)
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, is_call = match.group(1), match.group(2)
        if not is_call and name not in PROMQL_KEYWORDS:
            query.metrics.add(name)
    return query


def exported_series() -> dict[str, set[str]]:
    """Every series name the services can export, with its label names."""
    for spec in platform_services().values():
        package = spec.get("package", spec["name"])
        for module in (f"{package}.service", f"{package}.metrics"):
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name != module:
                    raise
    # Families the libraries create when a process builds them, not at import.
    outbox_metrics()
    create_app(ServiceSettings(service_name="ops_check"), title="ops check")
    gateway = importlib.import_module("api_gateway.rate_limit")
    gateway.RateLimiter(aioredis.Redis(), key_prefix="ops_check")

    series: dict[str, set[str]] = dict(PROMETHEUS_SERIES)
    for collector in list(prometheus_client.REGISTRY._collector_to_names):
        if isinstance(collector, MetricWrapperBase):
            labels = set(collector._labelnames)
            for name in _sample_names(str(collector._type), collector._name):
                series[name] = labels
        else:
            for family in collector.collect():
                for sample in family.samples:
                    series.setdefault(sample.name, set()).update(sample.labels)
    return series


def _sample_names(kind: str, name: str) -> list[str]:
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count"]
    if kind == "summary":
        return [name, f"{name}_sum", f"{name}_count"]
    return [name]


def dashboard_queries() -> Iterator[tuple[str, str]]:
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == "prometheus":
                    yield f"{path.name}: {panel['title']}", target["expr"]


def alert_rules() -> Iterator[dict[str, Any]]:
    for path in sorted((PROMETHEUS / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


QUERIES = [*dashboard_queries(), *((rule["alert"], rule["expr"]) for rule in alert_rules())]


@pytest.fixture(scope="module")
def series() -> dict[str, set[str]]:
    return exported_series()


@pytest.fixture(scope="module")
def promtool(system_tool: Callable[[str], str]) -> str:
    return system_tool("promtool")


def _promtool(promtool: str, *args: str) -> None:
    result = subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_configuration_and_its_rule_files(promtool: str) -> None:
    _promtool(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))


def test_promtool_accepts_the_alert_rules(promtool: str) -> None:
    rules = sorted(str(p) for p in (PROMETHEUS / "rules").glob("*.yml"))
    assert rules
    _promtool(promtool, "check", "rules", *rules)


def test_alerts_fire_on_their_unit_test_series(promtool: str) -> None:
    tests = sorted(str(p) for p in (PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    _promtool(promtool, "test", "rules", *tests)


def test_promql_parser_finds_series_and_labels() -> None:
    query = parse_promql(
        'histogram_quantile(0.95, sum by (le, service) (rate(huleedu_a_bucket{x=~"5.."}[5m])))'
        " / on (service) group_left sum(huleedu_b) > 0 and huleedu_c offset 5m"
    )

    assert query.metrics == {"huleedu_a_bucket", "huleedu_b", "huleedu_c"}
    assert query.labels == {"le", "service", "x"}


@pytest.mark.parametrize(("where", "expr"), QUERIES, ids=[where for where, _ in QUERIES])
def test_every_queried_series_and_label_is_exported(
    series: dict[str, set[str]], where: str, expr: str
) -> None:
    query = parse_promql(expr)

    assert query.metrics, f"{where}: no series found in {expr!r}"
    missing = {name for name in query.metrics if name not in series}
    assert missing == set(), f"{where}: no service exports {sorted(missing)}"
    known = set(TARGET_LABELS)
    for name in query.metrics:
        known |= series[name]
        if name.endswith("_bucket"):
            known.add("le")
    assert query.labels - known == set(), f"{where}: unknown labels in {expr!r}"


def scrape_targets() -> set[tuple[str, str, str, int]]:
    """(job label, process label, DNS name, port) of every service target Prometheus scrapes."""
    config = read_yaml("observability/prometheus/prometheus.yml")
    targets = set()
    for job in config["scrape_configs"]:
        relabelled = {
            rule["target_label"]: rule["replacement"] for rule in job.get("relabel_configs", [])
        }
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                targets.add(
                    (
                        relabelled.get("job", job["job_name"]),
                        relabelled["process"],
                        name,
                        int(sd["port"]),
                    )
                )
    return targets


def test_every_http_app_and_worker_is_scraped_and_nothing_else() -> None:
    ports = {"http": 8000, "worker": WORKER_METRICS_PORT}
    expected = {
        (name, process, compose_name(name, process), ports[process])
        for name, spec in platform_services().items()
        for process in ("http", "worker")
        if spec.get(process)
    }

    assert scrape_targets() == expected
    [missing_rule] = [r for r in alert_rules() if r["alert"] == "HuleEduServiceMissing"]
    watched = set(re.findall(r'absent\(up\{job="(\w+)",process="(\w+)"\}\)', missing_rule["expr"]))
    assert watched == {(job, process) for job, process, _, _ in expected}


def test_workers_serve_metrics_where_prometheus_and_their_health_check_look() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.services.yml").read_text())["services"]
    workers = {name: c for name, c in services.items() if c.get("command") == ["worker"]}

    assert workers
    for name, container in workers.items():
        assert container["environment"]["METRICS_PORT"] == str(WORKER_METRICS_PORT), name
        probe = " ".join(container["healthcheck"]["test"])
        assert f"127.0.0.1:{WORKER_METRICS_PORT}/healthz/live" in probe, name


def test_dashboards_are_provisioned_with_the_data_sources_they_use() -> None:
    sources = read_yaml("observability/grafana/provisioning/datasources/datasources.yml")
    provided = {(source["type"], source["uid"]) for source in sources["datasources"]}
    uids = []
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        uids.append(dashboard["uid"])
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                used = (target["datasource"]["type"], target["datasource"]["uid"])
                assert used in provided, f"{path.name}: {panel['title']} uses {used}"
    assert len(DASHBOARDS) >= 5
    assert len(uids) == len(set(uids))


def test_each_alert_names_a_runbook_section_that_exists() -> None:
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in alert_rules():
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert anchor in headings, f"{rule['alert']}: no runbook section #{anchor}"


def test_logs_are_labelled_only_by_service_and_level() -> None:
    config = read_yaml("observability/promtail/promtail.yml")
    [job] = config["scrape_configs"]
    stages = {name: body for stage in job["pipeline_stages"] for name, body in stage.items()}
    relabelled = {rule["target_label"] for rule in job["relabel_configs"]}

    assert set(stages["labels"]) == {"service", "level"}
    assert set(stages["labelallow"]) == {"service", "level"}
    assert relabelled <= {"service", "level"}


def test_every_log_shipping_label_is_on_the_service_containers() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.services.yml").read_text())["services"]
    wanted = read_yaml("observability/promtail/promtail.yml")["scrape_configs"][0]
    [label_filter] = wanted["docker_sd_configs"][0]["filters"]
    key, value = label_filter["values"][0].split("=", 1)

    for name, container in services.items():
        assert container["labels"][key] == value, name
        assert container["labels"]["huleedu.service"] == container["build"]["args"]["SERVICE"]
