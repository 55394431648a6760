"""docker-compose.yml cannot run here, so its structure is checked instead."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
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


README = (ROOT / "README.md").read_text()


def test_compose_commands_need_nothing_from_the_shell() -> None:
    # Compose reads the whole file for every command, `exec` too: a variable it requires
    # must come from .env (the README puts it there), or a new shell could not run `exec`.
    required = set(re.findall(r"\$\{(\w+):?\?", (ROOT / "docker-compose.yml").read_text()))
    assert required == {"SECRET_KEY"}
    docker = README.split("## Docker", 1)[1].split("\n## ", 1)[0]
    for name in required:
        assert f'print("{name}=' in docker and ">> .env" in docker, name


def test_the_readme_compose_commands_run_as_written() -> None:
    commands = re.findall(r"docker compose exec api (oauth-apps .+)", README)
    assert len(commands) >= 3
    parser = build_parser()
    for command in commands:
        words = shlex.split(command.split(" #")[0].split(" <")[0])
        parser.parse_args(words[1:])  # exits (fails the test) on an unknown command
    env = SERVICES["api"]["environment"]
    # What the commands read (keys also SECRET_KEY), carried by the container itself.
    assert {"DATABASE_URL", "AMQP_URL", "SECRET_KEY"} <= set(env)


def test_the_compose_stack_fits_postgresql_default_connections() -> None:
    env = SERVICES["api"]["environment"]
    workers, budget = int(env["WEB_CONCURRENCY"]), int(env["DATABASE_CONNECTIONS"])
    api = workers * (api_pool_share(budget, workers, with_relay=True) + 1) + 1  # + its relay
    assert api <= budget
    consumers = sum(
        1 for service in SERVICES.values() if service.get("command", [])[1:2] == ["consume"]
    )
    # Fixed, not one worker per core: the same on any laptop. Beside it, the migration and
    # a few `docker compose exec` commands (one connection each), with room for psql.
    assert budget + 2 * consumers + 1 + 5 <= 50  # half of PostgreSQL's max_connections


K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATION: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
Manifests = dict[str, dict[str, Any]]


def kustomize(directory: Path, tag: str | None = None) -> str:
    """``kubectl kustomize`` of a copy of deploy/k8s, its Secrets from the committed examples."""
    shutil.copytree(K8S, directory)
    for generator in KUSTOMIZATION["secretGenerator"]:
        for name in generator["envs"]:
            shutil.copy(directory / f"{name}.example", directory / name)
    if tag is not None:
        kustomization = directory / "kustomization.yaml"
        kustomization.write_text(
            kustomization.read_text().replace("newTag: 0.1.0", f"newTag: {tag}")
        )
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (for its kustomize) is a test tool"
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def by_name(built: str) -> Manifests:
    """Each document of a build by ``Kind/name``."""
    return {
        f"{document['kind']}/{document['metadata']['name']}": document
        for document in yaml.safe_load_all(built)
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What ``kubectl apply -k deploy/k8s`` applies."""
    return kustomize(tmp_path_factory.mktemp("k8s") / "k8s")


@pytest.fixture(scope="module")
def documents(built: str) -> Manifests:
    """The applied objects by ``Kind/name``."""
    return by_name(built)


def pods(documents: Manifests) -> dict[str, dict[str, Any]]:
    """The pod template of every Deployment and Job."""
    return {
        name: document["spec"]["template"]["spec"]
        for name, document in documents.items()
        if document["kind"] in ("Deployment", "Job")
    }


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_the_kubernetes_manifests_are_valid_for_1_30_in_strict_mode(
    built: str, tmp_path: Path
) -> None:
    (tmp_path / "built.yaml").write_text(built)
    tool = Path(sys.executable).parent / "kubernetes-validate"
    result = subprocess.run(
        [
            str(tool),
            "--kubernetes-version",
            "1.30.0",
            "--strict",
            "--quiet",
            str(tmp_path / "built.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(KUSTOMIZATION["resources"]) == {
        path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml"
    }


def test_the_kubernetes_stack_is_complete(documents: Manifests) -> None:
    api = documents["Deployment/oauth-apps-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert "preStop" in api["lifecycle"]
    assert documents["Deployment/oauth-apps-relay"]["spec"]["replicas"] == 2
    for name in (
        "PodDisruptionBudget/oauth-apps-api",
        "HorizontalPodAutoscaler/oauth-apps-api",
        "Service/oauth-apps-api",
        "Job/oauth-apps-migrate-0.1.0",
        "Deployment/oauth-apps-audit",
        "Deployment/oauth-apps-notification",
        "Ingress/oauth-apps",
        "NetworkPolicy/oauth-apps-default-deny",
    ):
        assert name in documents, name
    parser = build_parser()
    for name, pod in pods(documents).items():
        for container in containers(pod):
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            parser.parse_args(container["command"][1:])  # the CLI the tests run


def test_the_image_is_set_in_one_place(documents: Manifests) -> None:
    (image,) = KUSTOMIZATION["images"]
    for path in K8S.glob("*.yaml"):
        for line in path.read_text().splitlines():
            if line.strip().startswith("image:"):
                assert line.split(":", 1)[1].strip() == image["name"], path.name
    for name, pod in pods(documents).items():
        for container in containers(pod):
            assert container["image"] == f"{image['newName']}:{image['newTag']}", name


def test_no_secret_value_is_committed(documents: Manifests) -> None:
    for path in K8S.glob("*.yaml"):
        kinds = {document["kind"] for document in yaml.safe_load_all(path.read_text())}
        assert "Secret" not in kinds, path.name
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for generator in KUSTOMIZATION["secretGenerator"]:
        assert generator["options"]["disableNameSuffixHash"] is True  # see test_apply_twice
        for name in generator["envs"]:
            assert f"deploy/k8s/{name}" in ignored, name
            assert (K8S / f"{name}.example").is_file(), name
    # An example copied unchanged stops migrate and serve rather than sealing the
    # signing keys under a value anyone can read here.
    assert documents["Secret/oauth-apps-signing"]["data"] == {"SECRET_KEY": ""}


def test_each_image_gets_its_migration_and_applying_twice_changes_nothing(
    built: str, tmp_path: Path
) -> None:
    assert kustomize(tmp_path / "again") == built
    jobs = [
        name for name in by_name(kustomize(tmp_path / "next", "0.2.0")) if name.startswith("Job/")
    ]
    assert jobs == ["Job/oauth-apps-migrate-0.2.0"]
    assert "generateName" not in built


def test_the_autoscaled_deployment_leaves_its_replicas_to_the_autoscaler(
    documents: Manifests,
) -> None:
    target = documents["HorizontalPodAutoscaler/oauth-apps-api"]["spec"]["scaleTargetRef"]
    assert "replicas" not in documents[f"Deployment/{target['name']}"]["spec"]


def test_every_pod_is_admissible_under_the_restricted_pod_security_standard(
    documents: Manifests,
) -> None:
    labels = documents["Namespace/oauth-apps"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    dockerfile = (ROOT / "Dockerfile").read_text()
    (user,) = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0  # numeric: runAsNonRoot can check it
    for name, pod in pods(documents).items():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert str(context["runAsUser"]) == uid, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not pod.get("hostNetwork") and not pod.get("volumes"), name
        for container in containers(pod):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert not security.get("privileged"), name


def test_metrics_stay_inside_the_cluster(documents: Manifests) -> None:
    (port,) = documents["Service/oauth-apps-api"]["spec"]["ports"]
    assert port["targetPort"] == "http"
    api = documents["Deployment/oauth-apps-api"]["spec"]["template"]["spec"]["containers"][0]
    assert [p["name"] for p in api["ports"]] == ["http"]
    services = [d for d in documents.values() if d["kind"] == "Service"]
    assert len(services) == 1  # the relay's and consumers' METRICS_PORT has none
    ingress = documents["Ingress/oauth-apps"]["spec"]
    public_url = documents["ConfigMap/oauth-apps-config"]["data"]["PUBLIC_URL"]
    (rule,) = ingress["rules"]
    assert f"https://{rule['host']}" == public_url
    for path in rule["http"]["paths"]:
        assert path["pathType"] == "Prefix" and path["path"] not in ("", "/"), path
        assert path["backend"]["service"] == {"name": "oauth-apps-api", "port": {"name": "http"}}
        for private in ("/metrics", "/health", "/ready"):
            assert not private.startswith(path["path"]), path
    deny = documents["NetworkPolicy/oauth-apps-default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (metrics,) = documents["NetworkPolicy/oauth-apps-metrics"]["spec"]["ingress"]
    assert metrics["ports"] == [{"port": "metrics", "protocol": "TCP"}] and metrics["from"]


def test_the_kubernetes_stack_at_its_largest_fits_postgresql_default_connections(
    documents: Manifests,
) -> None:
    api = documents["Deployment/oauth-apps-api"]["spec"]["template"]["spec"]["containers"][0]
    env = {variable["name"]: variable["value"] for variable in api["env"]}
    workers, budget = int(env["WEB_CONCURRENCY"]), int(env["DATABASE_CONNECTIONS"])
    per_pod = workers * (api_pool_share(budget, workers, with_relay=False) + 1)
    most_pods = documents["HorizontalPodAutoscaler/oauth-apps-api"]["spec"]["maxReplicas"]
    relays = documents["Deployment/oauth-apps-relay"]["spec"]["replicas"]
    consumers = sum(
        documents[f"Deployment/oauth-apps-{name}"]["spec"]["replicas"]
        for name in ("audit", "notification")
    )
    assert most_pods * per_pod + relays + 2 * consumers <= 100  # PostgreSQL's max_connections


def test_secret_key_reaches_migrate_and_the_api_only(documents: Manifests) -> None:
    signing = {"migrate", "api"}
    for name, service in SERVICES.items():
        assert ("SECRET_KEY" in service.get("environment", {})) == (name in signing), name
    for name, pod in pods(documents).items():
        for container in containers(pod):
            sources = {
                ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref
            }
            assert "oauth-apps-secrets" in sources, name
            mounted = "oauth-apps-signing" in sources
            assert mounted == (
                name in {"Deployment/oauth-apps-api", "Job/oauth-apps-migrate-0.1.0"}
            ), name


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
