"""docker-compose.yml, the Dockerfile, Prometheus and Grafana provisioning, read as a user's
`docker compose up` would use them (no Docker engine here): healthchecks, volumes,
scrapeable workers, a provisioned datasource, panels as the LLD (rate over 5m, p95)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from promptopt.commands.worker import ROLES

ROOT = Path(__file__).parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
GRAFANA = ROOT / "infra" / "grafana"
WORKERS = [name for name, s in SERVICES.items()
           if s.get("command", [])[:2] == ["promptopt", "worker"]]


def test_every_long_running_service_has_a_healthcheck():
    for name, service in SERVICES.items():
        if "tools" in service.get("profiles", []):
            continue  # one-off commands
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_stateful_services_keep_their_data_in_named_volumes():
    for name in ("kafka", "postgres", "mongo", "prometheus", "grafana"):
        mounts = SERVICES[name]["volumes"]
        named = [m.split(":")[0] for m in mounts if not m.startswith(".")]
        assert named and all(v in COMPOSE["volumes"] for v in named), name


def test_workers_run_every_agent_once_scrapeable_and_with_the_shared_cache():
    roles = [SERVICES[w]["command"][3] for w in WORKERS]
    assert SERVICES[WORKERS[0]]["command"][2] == "--role"
    assert sorted(roles) == sorted(ROLES) == sorted(WORKERS)
    for w in WORKERS:
        env = SERVICES[w]["environment"]
        assert env["PROMPTOPT_FAUST_WEB_HOST"] == "0.0.0.0", w
        assert env["PROMPTOPT_LLM_CACHE"] == "redis", w
        assert env["PROMPTOPT_FAUST_APP_ID"] == f"promptopt-{w}", w
    scrape = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    (dns,) = jobs["promptopt-workers"]["dns_sd_configs"]
    assert sorted(dns["names"]) == sorted(WORKERS) and dns["port"] == 6066
    port = SERVICES["api"]["environment"]["PROMPTOPT_API_METRICS_PORT"]
    assert jobs["promptopt-api"]["static_configs"][0]["targets"] == [f"api:{port}"]


def test_the_dockerfile_runs_as_a_non_root_user_with_healthcheck_and_ports():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    exposed = {int(p) for line in lines if line.startswith("EXPOSE ") for p in line.split()[1:]}
    assert {8000, 9464, 6066, 8765} <= exposed


def test_grafana_has_its_datasource_provisioned_and_every_panel_uses_it():
    (source,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "promptopt.yaml").read_text())["providers"][0]
    mounts = SERVICES["grafana"]["volumes"]
    assert f"./infra/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./infra/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    dashboard = json.loads((GRAFANA / "dashboards" / "promptopt.json").read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]


def test_panels_are_rates_over_five_minutes_and_quantiles_are_p95():
    dashboard = json.loads((GRAFANA / "dashboards" / "promptopt.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    windows = {w for e in exprs for w in re.findall(r"\[(\w+)\]", e)}
    assert windows == {"5m"}
    assert not any("increase(" in e for e in exprs)
    quantiles = [float(q) for e in exprs for q in re.findall(r"histogram_quantile\(([\d.]+)", e)]
    assert quantiles and set(quantiles) == {0.95}
    # Every metric a panel reads is one the product exports.
    from prometheus_client import REGISTRY

    import agents.runtime.metrics  # noqa: F401
    import api.request_metrics  # noqa: F401
    import promptopt.redis_cache  # noqa: F401

    suffix = {"counter": "_total", "histogram": "_bucket"}
    exported = {m.name + suffix.get(m.type, "") for m in REGISTRY.collect()}
    for e in exprs:
        for name in re.findall(r"\b([a-z_]+_(?:total|bucket|seconds|streams))\b", e):
            assert name in exported, (name, e)
