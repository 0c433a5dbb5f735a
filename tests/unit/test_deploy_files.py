"""Dockerfile and compose.yaml name real settings, files, commands and health checks."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings
from server.cli import _parser

REPO = Path(__file__).resolve().parents[2]
SERVICES = {"app", "sandbox", "postgres", "redis", "mosquitto"}
# Read by the entry point or by libraries, not by Settings.
OTHER_VARIABLES = {"MIGRATE_ON_START", "PROMETHEUS_MULTIPROC_DIR"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", re.sub(r"(?m)^\s*#.*\n", "", text))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _setting_names() -> set[str]:
    names = {f"PARKING_{name.upper()}" for name in Settings.model_fields}
    return names | {"DATABASE_URL", "REDIS_URL", "MQTT_URL"}


def _commands() -> set[str]:
    parser = _parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    return set(commands.choices)  # type: ignore[arg-type]


def _known(variable: str) -> bool:
    name = variable.removesuffix("_FILE")  # the entry point reads NAME_FILE into NAME
    return name in _setting_names() or name in OTHER_VARIABLES


def test_compose_has_the_services_each_with_a_health_check() -> None:
    services = _compose()["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test"), f"{name} has no health check"
    app = services["app"]
    assert set(app["depends_on"]) == SERVICES - {"app"}
    assert all(d["condition"] == "service_healthy" for d in app["depends_on"].values())


def test_every_variable_compose_and_the_dockerfile_set_is_a_real_setting() -> None:
    for name in ("app", "sandbox"):
        for variable in _compose()["services"][name]["environment"]:
            assert _known(variable), f"{name}: {variable} is no setting"
    for instruction, arguments in _dockerfile():
        if instruction == "ENV":
            names = [pair.split("=", 1)[0] for pair in shlex.split(arguments)]
            for variable in names:
                if not variable.startswith(("PYTHON", "PIP_")):  # Python's and pip's own
                    assert _known(variable), variable


def test_the_app_runs_two_workers_on_postgresql_redis_and_the_broker() -> None:
    services = _compose()["services"]
    env = services["app"]["environment"]
    assert env["PARKING_WORKERS"] == "2" and env["PARKING_ENV"] == "production"
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["MQTT_URL"].startswith("mqtt://mosquitto:")
    assert env["PARKING_SANDBOX_URL"].startswith("http://sandbox:")
    assert env["DATABASE_URL_FILE"].startswith("/run/secrets/")
    assert services["sandbox"]["command"] == ["sandbox"]
    assert services["app"]["command"][0] in _commands()
    secrets = _compose()["secrets"]
    for name, service in services.items():
        for secret in service.get("secrets", []):
            assert secret in secrets, f"{name} uses an undeclared secret {secret}"


def test_the_broker_persists_as_the_shipped_configuration_does() -> None:
    mosquitto = _compose()["services"]["mosquitto"]
    mounted = [v.split(":") for v in mosquitto["volumes"]]
    config = [REPO / source for source, target, *_ in mounted if target.endswith(".conf")]
    assert len(config) == 1 and config[0].is_file()
    assert any(target == "/mosquitto/data" for _, target, *_ in mounted)

    def directives(path: Path) -> dict[str, str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        pairs = [line.split(None, 1) for line in lines if line.strip() and line[0] != "#"]
        return {key: value for key, value in pairs}

    compose, shipped = directives(config[0]), directives(REPO / "deploy" / "mosquitto.conf")
    for key in ("persistence", "autosave_interval", "max_queued_messages"):
        assert compose[key] == shipped[key], key
    assert compose["persistence_location"] == "/mosquitto/data/"


def test_the_dockerfile_builds_a_non_root_two_worker_image_that_migrates_on_start() -> None:
    instructions = _dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    env = " ".join(arguments for instruction, arguments in instructions if instruction == "ENV")
    assert "PARKING_WORKERS=2" in env
    (entrypoint,) = [a for i, a in instructions if i == "ENTRYPOINT"]
    (script,) = [Path(p) for p in yaml.safe_load(entrypoint)]
    local = REPO / script.relative_to("/app")
    assert local.is_file() and local.stat().st_mode & 0o111
    assert "parking migrate" in local.read_text(encoding="utf-8")
    (command,) = [yaml.safe_load(a) for i, a in instructions if i == "CMD"]
    assert command[0] in _commands()
    installs = [a for i, a in instructions if i == "RUN" and "pip install" in a]
    assert installs, "the image installs the project with pip"


@pytest.mark.parametrize("name", ["Dockerfile", "compose.yaml", "deploy/entrypoint.sh"])
def test_deploy_files_are_tracked_where_the_docs_say(name: str) -> None:
    assert name in (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
