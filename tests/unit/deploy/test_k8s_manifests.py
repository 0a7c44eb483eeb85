"""infra/k8s against the Kubernetes OpenAPI schemas (kubernetes-validate ships them: no
network), and what a deployment of promptopt needs beyond the schema: probes, resources,
non-root pods, one role per agent, selectors that select."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from agents.runtime.assembly import all_agents
from promptopt.commands.worker import ROLES

K8S = Path(__file__).parents[3] / "infra" / "k8s"
# The oldest Kubernetes still commonly run, and the newest the package knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def documents() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def resources() -> list[tuple[str, dict]]:
    return [(name, doc) for name, doc in documents() if doc["kind"] != "Kustomization"]


def of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in resources() if doc["kind"] == kind]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schema(version):
    checked = 0
    for name, doc in resources():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {err.message} "
                        f"at {'/'.join(map(str, err.path))}")
        checked += 1
    assert checked >= 10


def test_the_kustomization_lists_every_manifest():
    (kustomization,) = [doc for _, doc in documents() if doc["kind"] == "Kustomization"]
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def test_every_deployment_has_probes_resources_and_runs_as_non_root():
    deployments = of_kind("Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {
        "promptopt-api", "promptopt-optimizer", "promptopt-trials", "promptopt-scorer",
        "promptopt-patterns", "promptopt-sinks"}
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert d["spec"]["selector"]["matchLabels"].items() <= \
            d["spec"]["template"]["metadata"]["labels"].items()
        for c in containers(d):
            name = f"{d['metadata']['name']}/{c['name']}"
            assert "livenessProbe" in c and "readinessProbe" in c, name
            assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= c["resources"]["limits"].keys(), name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            refs = {next(iter(r.values()))["name"] for r in c["envFrom"]}
            assert refs == {"promptopt-config", "promptopt-secrets"}, name


def test_the_api_probes_health_and_ready_and_exposes_metrics_apart():
    (api,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "promptopt-api"]
    (c,) = containers(api)
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    (config,) = of_kind("ConfigMap")
    assert config["data"]["PROMPTOPT_API_METRICS_PORT"] == "9464"
    assert {p["containerPort"] for p in c["ports"]} == {8000, 9464}


def worker_args(deployment: dict) -> list[str]:
    (c,) = containers(deployment)
    return c["args"]


def test_every_role_runs_in_exactly_one_deployment():
    workers = [d for d in of_kind("Deployment") if d["metadata"]["name"] != "promptopt-api"]
    roles: list[str] = []
    app_ids = set()
    for d in workers:
        args = worker_args(d)
        assert args[:3] == ["promptopt", "worker", "--role"]
        roles += args[3].split(",")
        (c,) = containers(d)
        app_ids |= {e["value"] for e in c["env"] if e["name"] == "PROMPTOPT_FAUST_APP_ID"}
    assert sorted(roles) == sorted(ROLES)
    # Every agent runs somewhere (the roles name them all).
    assert {a.name for a in all_agents()} <= set(roles)
    assert len(app_ids) == len(workers)  # one consumer group per role
    (config,) = of_kind("ConfigMap")
    assert config["data"]["PROMPTOPT_FAUST_SHARED_ID"]  # ...and shared tables in common
    assert config["data"]["PROMPTOPT_FAUST_WEB_HOST"] == "0.0.0.0"  # scrapeable


def test_services_select_pods_that_exist():
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in of_kind("Deployment")]
    for service in of_kind("Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= labels.items() for labels in pod_labels), \
            service["metadata"]["name"]


def test_the_autoscaler_targets_a_deployment_and_stays_within_the_partitions():
    from topics.catalogue import TRIAL_REQUESTED

    (hpa,) = of_kind("HorizontalPodAutoscaler")
    names = {d["metadata"]["name"] for d in of_kind("Deployment")}
    assert hpa["spec"]["scaleTargetRef"]["name"] in names
    assert hpa["spec"]["maxReplicas"] <= TRIAL_REQUESTED.partitions


def test_the_schema_check_catches_a_misspelt_field_and_a_wrong_type():
    (api,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == "promptopt-api"]
    misspelt = yaml.safe_load(yaml.safe_dump(api))
    containers(misspelt)[0]["livenesProbe"] = containers(misspelt)[0].pop("livenessProbe")
    wrong_type = yaml.safe_load(yaml.safe_dump(api))
    wrong_type["spec"]["replicas"] = "two"
    for broken in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[0], strict=True)
