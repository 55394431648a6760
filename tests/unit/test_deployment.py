"""docker-compose.yml cannot run here, so its structure is checked instead."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from service.cli import build_parser
from service.config import api_pool_share

ROOT = Path(__file__).parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_the_whole_stack_is_there() -> None:
    assert set(SERVICES) >= {"postgres", "rabbitmq", "migrate", "api", "audit", "notification"}
    assert "management" in SERVICES["rabbitmq"]["image"]


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name


def test_the_application_image_is_built_once_and_run_everywhere() -> None:
    built = [name for name, service in SERVICES.items() if "build" in service]
    assert built == ["migrate"]
    image = SERVICES["migrate"]["image"]
    for name in ("api", "audit", "notification"):
        assert SERVICES[name]["image"] == image, name
        assert SERVICES[name]["pull_policy"] == "never", name


def test_the_image_installs_the_locked_dependencies_and_checks_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile
    locked = {
        line.split("==")[0].lower()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line
    }
    assert {"aiohttp", "aio-pika", "sqlalchemy", "asyncpg", "alembic"} <= locked
    assert all(
        "==" in line
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_commands_are_the_cli_the_tests_run() -> None:
    parser = build_parser()
    for name, service in SERVICES.items():
        if service["image"] == SERVICES["migrate"]["image"]:
            command = service["command"]
            assert command[0] == "oauth-apps", name
            parser.parse_args(command[1:])  # exits (fails the test) on an unknown command


def test_health_checks_and_start_order() -> None:
    for name in ("postgres", "rabbitmq", "api", "audit", "notification"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "audit", "notification"):
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["rabbitmq"]["condition"] == "service_healthy", name
        assert SERVICES[name]["restart"] == "unless-stopped", name


def test_services_reach_each_other_by_compose_name() -> None:
    env = SERVICES["api"]["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert "@rabbitmq:5672/" in env["AMQP_URL"]
    assert "--host" in SERVICES["api"]["command"] and "0.0.0.0" in SERVICES["api"]["command"]


K8S = ROOT / "deploy" / "k8s"


def k8s_documents() -> dict[str, dict[str, Any]]:
    documents = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            documents[f"{document['kind']}/{document['metadata']['name']}"] = document
    return documents


def test_the_kubernetes_manifests_are_valid_for_1_30_in_strict_mode() -> None:
    manifests = [
        str(path) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
    ]
    tool = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [str(tool), "--kubernetes-version", "1.30.0", "--strict", "--quiet", *manifests],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert {f"{name}" for name in kustomization["resources"]} == {
        path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml"
    }


def test_the_kubernetes_stack_is_complete() -> None:
    documents = k8s_documents()
    api = documents["Deployment/oauth-apps-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "preStop" in api["lifecycle"]
    assert documents["Deployment/oauth-apps-relay"]["spec"]["replicas"] == 2
    for name in (
        "PodDisruptionBudget/oauth-apps-api",
        "HorizontalPodAutoscaler/oauth-apps-api",
        "Service/oauth-apps-api",
        "Job/oauth-apps-migrate",
        "Deployment/oauth-apps-audit",
        "Deployment/oauth-apps-notification",
    ):
        assert name in documents, name
    parser = build_parser()
    for name, document in documents.items():
        spec = document.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            parser.parse_args(container["command"][1:])  # the CLI the tests run


def test_the_kubernetes_stack_at_its_largest_fits_postgresql_default_connections() -> None:
    documents = k8s_documents()
    api = documents["Deployment/oauth-apps-api"]["spec"]["template"]["spec"]["containers"][0]
    env = {variable["name"]: variable["value"] for variable in api["env"]}
    workers, budget = int(env["WEB_CONCURRENCY"]), int(env["DATABASE_CONNECTIONS"])
    per_pod = workers * (api_pool_share(budget, workers, with_relay=False) + 1)
    pods = documents["HorizontalPodAutoscaler/oauth-apps-api"]["spec"]["maxReplicas"]
    relays = documents["Deployment/oauth-apps-relay"]["spec"]["replicas"]
    consumers = sum(
        documents[f"Deployment/oauth-apps-{name}"]["spec"]["replicas"]
        for name in ("audit", "notification")
    )
    assert pods * per_pod + relays + 2 * consumers <= 100  # PostgreSQL's max_connections


def test_secret_key_reaches_migrate_and_the_api_only() -> None:
    signing = {"migrate", "api"}
    for name, service in SERVICES.items():
        assert ("SECRET_KEY" in service.get("environment", {})) == (name in signing), name
    documents = k8s_documents()
    secret = documents["Secret/oauth-apps-signing"]["stringData"]["SECRET_KEY"]
    assert len(secret) >= 32
    for name, document in documents.items():
        for container in (
            document.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            sources = {
                ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref
            }
            mounted = "oauth-apps-signing" in sources
            assert mounted == (name in {"Deployment/oauth-apps-api", "Job/oauth-apps-migrate"}), (
                name
            )


def test_the_haproxy_example_is_valid() -> None:
    haproxy = shutil.which("haproxy")
    assert haproxy, "haproxy is a test tool (.ci/run installs it)"
    result = subprocess.run(
        [haproxy, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert "option redispatch" in config and "httpchk GET /ready" in config
