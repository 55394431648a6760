"""docker-compose.yml cannot run here, so its structure is checked instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.cli import build_parser

ROOT = Path(__file__).parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_the_whole_stack_is_there() -> None:
    assert set(SERVICES) >= {"postgres", "rabbitmq", "migrate", "api", "audit", "notification"}
    assert "management" in SERVICES["rabbitmq"]["image"]


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if "image" in service:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest"), name
        else:
            assert service["build"] == ".", name


def test_commands_are_the_cli_the_tests_run() -> None:
    parser = build_parser()
    for name, service in SERVICES.items():
        if "build" in service:
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
