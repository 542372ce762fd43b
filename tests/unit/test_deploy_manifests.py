"""The Dockerfile and the Kubernetes manifests agree with each other and with the code.

scripts/lint-deploy checks each file against its schema; these tests check what a schema
cannot: that the image, port, probes, settings names, roles and secrets line up across files.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
SCHEMAS = K8S / "schemas"
API_PORT = 8000
API_LABELS = {"app.kubernetes.io/name": "voter-eligibility", "app.kubernetes.io/component": "api"}
SETTINGS_VARIABLES = {f"VOTER_{name.upper()}" for name in Settings.model_fields}
# Settings that carry credentials or keys: they may only arrive through a secretKeyRef.
SECRET_VARIABLES = {
    f"VOTER_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
} | {"VOTER_DATABASE_URL", "VOTER_JWT_PUBLIC_KEYS"}
DEVELOPMENT_ONLY_VARIABLES = {"VOTER_JWT_PRIVATE_KEY", "VOTER_JWT_KID", "VOTER_CLOCK_FIXED"}

Manifest = dict[str, Any]


def _manifest_files() -> list[Path]:
    return sorted(
        p
        for p in K8S.rglob("*.yaml")
        if SCHEMAS not in p.parents and p.name != "kustomization.yaml"
    )


def _load(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


MANIFESTS: list[tuple[Path, Manifest]] = [(p, doc) for p in _manifest_files() for doc in _load(p)]


def _one(kind: str, name: str | None = None) -> Manifest:
    found = [
        doc
        for _, doc in MANIFESTS
        if doc["kind"] == kind and name in (None, doc["metadata"]["name"])
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _deployment() -> Manifest:
    return _one("Deployment", "voter-eligibility")


def _job() -> Manifest:
    return _one("Job", "voter-eligibility-migrate")


def _export_pod() -> Manifest:
    return _one("Pod", "voter-audit-export")


def _pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]
    return spec["template"]["spec"] if "template" in spec else spec


def _containers(workload: Manifest) -> list[Manifest]:
    spec = _pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _container(workload: Manifest) -> Manifest:
    """The container that runs voterctl (the export pod's other one only holds the file)."""
    runs_voterctl = [c for c in _containers(workload) if "command" not in c]
    assert len(runs_voterctl) == 1
    return runs_voterctl[0]


def _env(workload: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in _container(workload).get("env", [])}


def _secret_ref(workload: Manifest, variable: str) -> tuple[str, str]:
    ref = _env(workload)[variable]["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


def _path_of(workload: Manifest) -> Path:
    return next(path for path, doc in MANIFESTS if doc is workload)


def _effective_image(path: Path, image: str) -> str:
    """The image after the kustomization's `images:` overrides, as `kubectl apply -k` sees it."""
    kustomization = yaml.safe_load((path.parent / "kustomization.yaml").read_text("utf-8"))
    # The tag follows the last colon after the last slash (a registry may carry a port).
    repository, _, last = image.rpartition("/")
    last_name, _, tag = last.partition(":")
    name = f"{repository}/{last_name}" if repository else last_name
    for override in kustomization.get("images", []):
        if override["name"] == name:
            name = override.get("newName", name)
            if "digest" in override:
                return f"{name}@{override['digest']}"
            tag = override.get("newTag", tag)
    return f"{name}:{tag}"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    logical = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in logical.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _instruction(keyword: str) -> str:
    values = [rest for k, rest in _final_stage() if k == keyword]
    assert len(values) == 1, f"the final stage should have one {keyword}"
    return values[0]


def _effective_security(pod_spec: Manifest, container: Manifest) -> Iterator[tuple[str, Any]]:
    pod = pod_spec.get("securityContext", {})
    container = container.get("securityContext", {})
    for key in ("runAsNonRoot", "runAsUser", "seccompProfile"):
        yield key, container.get(key, pod.get(key))
    for key in ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities"):
        yield key, container.get(key)


WORKLOADS = pytest.mark.parametrize(
    "workload", [_deployment, _job, _export_pod], ids=["deployment", "job", "audit-export"]
)


# --- every manifest ----------------------------------------------------------------------


def test_every_manifest_file_holds_named_resources_in_the_service_namespace() -> None:
    assert len(_manifest_files()) >= 10
    for path, doc in MANIFESTS:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "voter-eligibility", path


def test_no_manifest_carries_a_secret_value() -> None:
    secrets = [
        (path, doc["metadata"]["name"]) for path, doc in MANIFESTS if doc["kind"] == "Secret"
    ]
    assert secrets == [], "Secrets are created per site (docs/production.md), never committed"


def test_secret_settings_arrive_only_through_secret_references() -> None:
    for workload in (_deployment(), _job(), _export_pod()):
        for name, entry in _env(workload).items():
            if name in SECRET_VARIABLES:
                assert "value" not in entry, name
                assert "secretKeyRef" in entry["valueFrom"], name
    configmap = _one("ConfigMap", "voter-eligibility")
    assert not SECRET_VARIABLES & configmap["data"].keys()


# --- one image, one port -----------------------------------------------------------------


def test_the_job_and_the_export_pod_run_the_image_the_deployment_serves() -> None:
    images = {
        _effective_image(_path_of(workload), container["image"])
        for workload in (_deployment(), _job(), _export_pod())
        for container in _containers(workload)
    }
    assert len(images) == 1, images
    assert images.pop().startswith("registry.example.kz/cec/voter-eligibility")


def test_the_image_tag_is_the_version_this_tree_builds() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert _container(_deployment())["image"].endswith(f":{project['version']}")


def test_the_container_port_is_the_one_the_image_exposes_and_serves_on() -> None:
    assert _instruction("EXPOSE") == str(API_PORT)
    cmd = json.loads(_instruction("CMD"))
    assert cmd[cmd.index("--port") + 1] == str(API_PORT)
    assert json.loads(_instruction("ENTRYPOINT")) == ["voterctl"]

    container = _container(_deployment())
    assert container["ports"] == [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}]
    assert container["args"] == cmd
    service = _one("Service", "voter-eligibility")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == API_LABELS


def test_probes_ask_healthz_for_liveness_and_readyz_for_readiness() -> None:
    container = _container(_deployment())
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/healthz", "http"),
        "livenessProbe": ("/healthz", "http"),
        "readinessProbe": ("/readyz", "http"),
    }


def test_the_image_health_check_asks_healthz_on_the_served_port() -> None:
    healthcheck = _instruction("HEALTHCHECK")
    assert f"http://127.0.0.1:{API_PORT}/healthz" in healthcheck
    assert "curl" not in healthcheck


# --- settings ----------------------------------------------------------------------------


def test_every_voter_variable_in_the_manifests_is_a_setting() -> None:
    names = set(_one("ConfigMap", "voter-eligibility")["data"])
    for workload in (_deployment(), _job(), _export_pod()):
        names |= _env(workload).keys()
    voter_names = {name for name in names if name.startswith("VOTER_")}
    assert voter_names == names, "only VOTER_ settings are passed to the service"
    assert voter_names <= SETTINGS_VARIABLES, voter_names - SETTINGS_VARIABLES
    assert not voter_names & DEVELOPMENT_ONLY_VARIABLES


def test_the_configmap_with_the_secrets_is_an_accepted_production_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in _one("ConfigMap", "voter-eligibility")["data"].items():
        monkeypatch.setenv(name, value)
    # Stand-ins for what the secretKeyRefs deliver in the cluster.
    monkeypatch.setenv("VOTER_DATABASE_URL", "postgresql+psycopg://voter_app:pw@voter-db-rw/voter")
    monkeypatch.setenv("VOTER_AUDIT_HMAC_KEY", "h" * 64)
    monkeypatch.setenv("VOTER_AUDIT_SIGNING_KEY", "signing key PEM")
    monkeypatch.setenv("VOTER_JWT_PUBLIC_KEYS", '{"idp-2027": "public key PEM"}')
    settings = Settings()
    assert settings.is_production
    assert settings.log_format == "json"


def test_the_deployment_receives_every_key_production_requires() -> None:
    deployment = _deployment()
    required = {
        "VOTER_DATABASE_URL",
        "VOTER_AUDIT_HMAC_KEY",
        "VOTER_AUDIT_SIGNING_KEY",
        "VOTER_JWT_PUBLIC_KEYS",
    }
    assert required <= _env(deployment).keys()
    secret_names = {variable: _secret_ref(deployment, variable)[0] for variable in required}
    assert len(set(secret_names.values())) == len(required), "each key has a Secret of its own"


# --- database roles ----------------------------------------------------------------------


def test_the_api_connects_as_the_app_role_and_the_job_as_the_schema_owner() -> None:
    cluster = _one("Cluster", "voter-db")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    (app_role,) = cluster["spec"]["managed"]["roles"]
    assert app_role["name"] != initdb["owner"]
    assert not any(app_role.get(p) for p in ("superuser", "createdb", "createrole", "bypassrls"))

    assert _secret_ref(_deployment(), "VOTER_DATABASE_URL")[0] == app_role["passwordSecret"]["name"]
    assert _secret_ref(_job(), "VOTER_DATABASE_URL")[0] == initdb["secret"]["name"]
    args = _container(_job())["args"]
    assert args[:2] == ["db", "upgrade"]
    assert args[args.index("--app-role") + 1] == app_role["name"]
    # Without --database, `db upgrade` loads the full production settings and refuses to run
    # without the audit keys the Job deliberately does not get.
    assert args[args.index("--database") + 1] == "$(VOTER_DATABASE_URL)"
    assert _secret_ref(_export_pod(), "VOTER_DATABASE_URL")[0] == app_role["passwordSecret"]["name"]


def test_the_migration_job_gets_no_audit_or_token_keys() -> None:
    assert set(_env(_job())) == {"VOTER_DATABASE_URL", "VOTER_LOG_FORMAT"}
    assert "envFrom" not in _container(_job())


def test_the_database_is_a_three_instance_cluster_spread_over_nodes() -> None:
    spec = _one("Cluster", "voter-db")["spec"]
    assert spec["instances"] == 3
    assert spec["affinity"]["podAntiAffinityType"] == "required"
    assert spec["postgresql"]["synchronous"]["dataDurability"] == "required"


# --- pod hardening -----------------------------------------------------------------------


@WORKLOADS
def test_pods_run_unprivileged_on_a_read_only_root(workload: Any) -> None:
    manifest = workload()
    pod = _pod_spec(manifest)
    for container in _containers(manifest):
        security = dict(_effective_security(pod, container))
        assert security == {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, container["name"]
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert _instruction("USER").split(":")[0] == "10001"
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["serviceAccountName"] == "voter-eligibility"
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp


def test_the_service_account_mounts_no_token() -> None:
    assert _one("ServiceAccount", "voter-eligibility")["automountServiceAccountToken"] is False


def test_replicas_are_spread_over_nodes_and_never_fewer_than_two() -> None:
    spec = _deployment()["spec"]
    assert spec["replicas"] >= 2
    by_node = [
        c
        for c in spec["template"]["spec"]["topologySpreadConstraints"]
        if c["topologyKey"] == "kubernetes.io/hostname"
    ]
    assert by_node
    assert by_node[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert by_node[0]["labelSelector"]["matchLabels"] == API_LABELS
    assert spec["template"]["metadata"]["labels"].items() >= API_LABELS.items()

    hpa = _one("HorizontalPodAutoscaler", "voter-eligibility")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "voter-eligibility"
    assert hpa["minReplicas"] >= 2
    assert hpa["minReplicas"] <= spec["replicas"] <= hpa["maxReplicas"]
    pdb = _one("PodDisruptionBudget", "voter-eligibility")["spec"]
    assert pdb["selector"]["matchLabels"] == API_LABELS


# --- network -----------------------------------------------------------------------------


def _policies() -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d["spec"] for _, d in MANIFESTS if d["kind"] == "NetworkPolicy"}


def test_every_network_policy_governs_both_directions() -> None:
    for name, spec in _policies().items():
        assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"], name


def test_everything_in_the_namespace_is_denied_unless_allowed() -> None:
    deny = _policies()["default-deny-all"]
    assert deny["podSelector"] == {}
    assert "ingress" not in deny
    assert "egress" not in deny


def test_the_api_is_reachable_only_from_the_gateway_and_prometheus_on_its_port() -> None:
    api = _policies()["voter-eligibility-api"]
    assert api["podSelector"]["matchLabels"] == API_LABELS
    sources = set()
    for rule in api["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": API_PORT}]
        for peer in rule["from"]:
            sources.add(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    assert sources == {"egov-gateway", "monitoring"}


def test_the_api_may_reach_only_postgres_the_upstreams_and_dns() -> None:
    egress = _policies()["voter-eligibility-api"]["egress"]
    cluster_name = _one("Cluster", "voter-db")["metadata"]["name"]
    postgres = [
        r
        for r in egress
        if r["to"][0].get("podSelector", {}).get("matchLabels") == {"cnpg.io/cluster": cluster_name}
    ]
    assert postgres
    assert postgres[0]["ports"] == [{"protocol": "TCP", "port": 5432}]
    upstreams = [r for r in egress if "ipBlock" in r["to"][0]]
    assert len(upstreams) == 2
    dns = [r for r in egress if r["to"][0].get("namespaceSelector")]
    assert {(p["protocol"], p["port"]) for p in dns[0]["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert len(egress) == len(postgres) + len(upstreams) + len(dns)


# --- the image ---------------------------------------------------------------------------


def test_the_image_is_a_pinned_slim_python_without_test_dependencies() -> None:
    bases = [rest.split()[0] for keyword, rest in _dockerfile_instructions() if keyword == "FROM"]
    assert bases
    pinned = r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?"
    assert all(re.fullmatch(pinned, base) for base in bases), bases
    text = (ROOT / "Dockerfile").read_text("utf-8")
    assert "[test]" not in text
    env = " ".join(rest for keyword, rest in _final_stage() if keyword == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "VOTER_ENV=prod"):
        assert setting in env
