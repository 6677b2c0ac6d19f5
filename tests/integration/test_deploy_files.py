"""The deployment files in deploy/ (issue 6): they validate, wire what the app expects, and ask only for what it exports.

`docker-compose config` (Debian's docker-compose package; no engine needed) is skipped
only when the command is absent and CI is not true; `nginx -t` runs when nginx is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from fcfs.bootstrap.observability.metrics import Metrics
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.cli import app
from fcfs.entrypoints.http.app import create_app
from tests.support.services import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "fcfs.json"
TOKEN = "test-admin-token"
TARGET_LABELS = {"instance", "job", "le", "role"}  # added by Prometheus or the scrape config
DASHBOARD_MUST_SHOW = {  # issue 6: throughput, p95, outcomes, consumer lag, DB pool, bulkhead, dead letters
    "fcfs_issue_outcomes_total",
    "fcfs_issue_latency_seconds_bucket",
    "fcfs_consumer_lag",
    "fcfs_db_pool_in_use",
    "fcfs_bulkhead_in_flight",
    "fcfs_bulkhead_rejected_total",
    "fcfs_dead_letters_total",
}


# --- docker-compose ------------------------------------------------------------------------------------------------


def _compose_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any FCFS_*/GRAFANA_* value that would change the interpolation."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FCFS_", "GRAFANA_"))}
    env.update(extra)
    return env


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = shutil.which("docker-compose")
    if command is None:
        message = "docker-compose is not installed (Debian: apt-get install docker-compose)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return subprocess.run(
        [command, "-f", str(COMPOSE), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    result = _compose("config", env=_compose_env(FCFS_ADMIN_TOKEN=TOKEN))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _services_running(compose: dict[str, Any], subcommand: str) -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in compose["services"].items()
        if spec.get("image", "").startswith("fcfs:") and (spec.get("command") or ["serve"])[0] == subcommand
    }


def test_compose_file_validates_with_docker_compose_config(compose: dict[str, Any]) -> None:
    assert {"kafka", "mysql", "redis", "nginx", "prometheus", "grafana"} <= set(compose["services"])


def test_compose_config_passes_without_any_variable_and_the_api_then_refuses_to_start() -> None:
    """`docker-compose config` validates as is; the empty admin token is caught by the app at start-up."""
    result = _compose("config", env=_compose_env())
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ("api-1", "api-2"):
        env = services[name]["environment"]
        assert env["FCFS_REQUIRE_ADMIN_TOKEN"] == "true"
        settings = Settings.from_env({k: str(v) for k, v in env.items() if k.startswith("FCFS_")})
        with pytest.raises(RuntimeError, match="FCFS_ADMIN_TOKEN"):
            create_app(settings)


def test_two_api_instances_one_consumer_and_a_one_shot_migration(compose: dict[str, Any]) -> None:
    apis = _services_running(compose, "serve")
    assert len(apis) == 2
    assert len(_services_running(compose, "consume")) == 1
    migrate = _services_running(compose, "migrate")
    assert len(migrate) == 1
    assert next(iter(migrate.values()))["restart"] == "no"
    for name, spec in apis.items():
        assert spec["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert "--no-embedded" in spec["command"], name
        assert "PROMETHEUS_MULTIPROC_DIR" in spec["environment"], name


def test_every_fcfs_service_talks_to_the_real_services_with_the_admin_token(compose: dict[str, Any]) -> None:
    fcfs = {name: spec for name, spec in compose["services"].items() if spec.get("image", "").startswith("fcfs:")}
    assert len(fcfs) == 4
    for name, spec in fcfs.items():
        env = spec["environment"]
        assert env["FCFS_DATABASE_URL"].startswith("mysql+aiomysql://"), name
        assert env["FCFS_REDIS_URL"].startswith("redis://redis:"), name
        assert env["FCFS_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        assert env["FCFS_ADMIN_TOKEN"] == TOKEN, name
        Settings.from_env({k: str(v) for k, v in env.items()})  # every FCFS_* value parses


def test_every_fcfs_command_in_compose_is_one_the_cli_accepts(compose: dict[str, Any]) -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name, spec in compose["services"].items():
        if not spec.get("image", "").startswith("fcfs:"):
            continue
        subcommand, *args = spec["command"]
        command = commands.get(subcommand)
        assert command is not None, f"{name}: fcfs has no command {subcommand!r}"
        command.make_context(subcommand, list(args))  # raises on an unknown option or a bad value


def test_redis_persists_its_keys_and_never_evicts_them(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(str(volume).split(":")[1] == "/data" for volume in compose["services"]["redis"]["volumes"])


def test_kafka_runs_in_kraft_mode_and_topics_exist_with_three_partitions_before_the_app(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert set(kafka["environment"]["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert str(kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    script = " ".join(compose["services"]["kafka-topics"]["command"])
    settings = Settings()
    for topic in (settings.topic, settings.dead_letter_topic):
        assert topic in script
    assert "--partitions 3" in script
    for name in [*_services_running(compose, "serve"), *_services_running(compose, "consume")]:
        condition = compose["services"][name]["depends_on"]["kafka-topics"]["condition"]
        assert condition == "service_completed_successfully", name


def test_mysql_8_is_health_checked_before_the_migration_runs(compose: dict[str, Any]) -> None:
    mysql = compose["services"]["mysql"]
    assert mysql["image"].startswith("mysql:8")
    assert "mysqladmin ping" in " ".join(mysql["healthcheck"]["test"])
    migrate = next(iter(_services_running(compose, "migrate").values()))
    assert migrate["depends_on"]["mysql"]["condition"] == "service_healthy"


def test_the_consumer_healthcheck_reads_the_heartbeat_the_consumer_writes(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    test = next(iter(_services_running(compose, "consume").values()))["healthcheck"]["test"]
    assert test == ["CMD", "fcfs", "consume", "--check"]  # the image's console script, no inline python
    env = _compose_env(FCFS_DATA_DIR=str(tmp_path))
    fcfs = str(Path(sys.executable).with_name("fcfs"))

    def healthy() -> bool:
        return subprocess.run([fcfs, *test[2:]], env=env, timeout=60, check=False).returncode == 0

    assert not healthy()
    (tmp_path / "consumer.alive").touch()
    assert healthy()


def test_nginx_balances_over_every_api_instance_and_prometheus_scrapes_each(compose: dict[str, Any]) -> None:
    apis = set(_services_running(compose, "serve"))
    upstream = set(re.findall(r"^\s*server\s+([\w.-]+):8000\b", (DEPLOY / "nginx.conf").read_text(), re.MULTILINE))
    assert upstream == apis
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {
        target for job in prometheus["scrape_configs"] for group in job["static_configs"] for target in group["targets"]
    }
    assert {f"{name}:8000" for name in apis} <= targets
    assert set(compose["services"]["nginx"]["depends_on"]) == apis


def test_grafana_is_provisioned_with_the_prometheus_datasource_and_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("/"))
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/fcfs.yml").read_text())["providers"][0]
    assert mounts[str(DEPLOY / "grafana/dashboards")] == provider["options"]["path"]
    assert mounts[str(DEPLOY / "grafana/provisioning")] == "/etc/grafana/provisioning"
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {source["uid"] for source in datasource["datasources"] if source["type"] == "prometheus"}
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = {panel["datasource"]["uid"] for panel in panels if "datasource" in panel}
    assert used and used <= uids


# --- the dashboard asks only for what the app exports --------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def exported_metrics() -> dict[str, set[str]]:
    """Every series name the app exports (suffixes included), with its label names."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    metrics = Metrics(CollectorRegistry())
    labels = {
        wrapper._name: set(wrapper._labelnames)
        for wrapper in vars(metrics).values()
        if isinstance(wrapper, MetricWrapperBase)
    }
    names: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for suffix in _SUFFIXES[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            names[family.name + suffix] = labels.get(family.name, set()) | extra
    return names


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    assert queries, "the dashboard has no query"
    return queries


def test_every_metric_the_dashboard_queries_is_one_the_app_exports() -> None:
    exported = exported_metrics()
    for query in dashboard_queries():
        named = set(re.findall(r"\bfcfs_[a-z0-9_]+\b", query))
        assert named, f"query names no fcfs metric: {query}"
        assert named <= set(exported), f"not exported: {sorted(named - set(exported))} in {query}"


def test_every_label_the_dashboard_groups_or_filters_by_exists_on_its_metric() -> None:
    exported = exported_metrics()
    for query in dashboard_queries():
        named = set(re.findall(r"\bfcfs_[a-z0-9_]+\b", query))
        known = set().union(*(exported[name] for name in named)) | TARGET_LABELS
        grouped = {label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", query) for label in group.split(",")}
        filtered = set(re.findall(r"[{,]\s*([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", query))
        assert grouped | filtered <= known, f"unknown labels {sorted((grouped | filtered) - known)} in {query}"


def test_the_dashboard_shows_throughput_p95_outcomes_lag_pool_bulkhead_and_dead_letters() -> None:
    named = {name for query in dashboard_queries() for name in re.findall(r"\bfcfs_[a-z0-9_]+\b", query)}
    assert named >= DASHBOARD_MUST_SHOW
    assert any(
        "histogram_quantile(0.95" in query and "fcfs_issue_latency_seconds_bucket" in query
        for query in dashboard_queries()
    )


# --- the image -------------------------------------------------------------------------------------------------


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into build stages."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in (line.strip() for line in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_the_image_builds_the_package_the_readme_installs_and_installs_that_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]
    builder, runtime = _stages()[0], _stages()[-1]
    assert any(re.match(r"COPY\s+pyproject\.toml\b", line) for line in builder)
    assert any(re.match(r"RUN\s+pip wheel\b.*\s\.(\s|$)", line) for line in builder)
    install = [line for line in runtime if re.search(r"\bpip install\b", line)]
    assert len(install) == 1
    assert "--no-index" in install[0]
    assert re.search(rf"\s{project}(\s|$)", install[0])
    assert "python:3.12-slim" in (DEPLOY / "Dockerfile").read_text()


def test_the_image_runs_fcfs_as_a_non_root_user() -> None:
    runtime = _stages()[-1]
    users = [line.split()[1] for line in runtime if line.upper().startswith("USER ")]
    assert users, "the runtime stage has no USER line"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert 'ENTRYPOINT ["fcfs"]' in runtime
    command = json.loads(next(line for line in runtime if line.startswith("CMD "))[4:])
    assert command[0] == "serve"
    typer.main.get_command(app).commands["serve"].make_context("serve", command[1:])


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("pyproject.toml", "README.md", "src/"):
        assert f"!{needed}" in ignore


# --- nginx ----------------------------------------------------------------------------------------------------


def test_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if nginx is None:
        pytest.skip("nginx is not installed")
    # The upstream hosts only resolve inside the compose network: point them at loopback, test the rest as written.
    conf = re.sub(r"server\s+api-(\d+):8000", r"server 127.0.0.1:1800\1", (DEPLOY / "nginx.conf").read_text())
    (tmp_path / "nginx.conf").write_text(conf)
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 and os.geteuid() != 0 and "Permission denied" in result.stderr:
        pytest.skip(f"nginx -t needs root here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr


def test_nginx_keeps_connections_to_the_instances_and_passes_the_client_address() -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream\s+\w+\s*\{(.*?)\}", conf, re.DOTALL)
    assert upstream is not None
    assert re.search(r"^\s*keepalive\s+\d+;", upstream.group(1), re.MULTILINE)
    assert "proxy_http_version 1.1;" in conf
    assert 'proxy_set_header Connection "";' in conf
    assert re.search(r"proxy_set_header X-Forwarded-For \$\w+;", conf)
    limit = re.search(r"client_max_body_size\s+(\d+)k;", conf)
    assert limit is not None
    assert int(limit.group(1)) * 1024 <= Settings().max_body_bytes
    assert "non_idempotent" not in conf  # nginx must never resend an issue attempt to a second instance
