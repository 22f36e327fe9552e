"""The console adapter and the `relais` command line, run as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RELAIS = [sys.executable, "-m", "bot"]


def _env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATABASE_URL=database_url, RELAIS_DATA_DIR=str(tmp_path / "data"), RELAIS_DEMO_CONTENT="false")
    return env


def relais(database_url: str, tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RELAIS, *args], input=stdin, capture_output=True, text=True, timeout=120,
                          env=_env(database_url, tmp_path), cwd=tmp_path)


def test_piped_help_prints_the_commands_in_french(database_url: str, tmp_path: Path) -> None:
    result = relais(database_url, tmp_path, "console", stdin="/aide\n")
    assert result.returncode == 0, result.stderr
    assert "Ce que vous pouvez faire" in result.stdout
    for command in ("/aide", "/moi", "/nom", "/annuler"):
        assert command in result.stdout
    assert "Traceback" not in result.stderr


def test_console_roles_and_numbered_choices(database_url: str, tmp_path: Path) -> None:
    result = relais(database_url, tmp_path, "console", "--as", "referent",
                    stdin="/moi\n/nom\nKarim B.\n1\n/moi\n")
    assert "référent" in result.stdout and "Pays de Fougères" in result.stdout
    assert "1. Confirmer" in result.stdout and "2. Modifier" in result.stdout
    assert "B.." not in result.stdout  # the name ends with a full stop: the sentence does not add a second one
    assert "Nom : Karim B." in result.stdout


def test_kill_9_mid_flow_then_the_restarted_bot_resumes_at_the_same_step(database_url: str, tmp_path: Path) -> None:
    bot = subprocess.Popen([*RELAIS, "console", "--as", "referent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=_env(database_url, tmp_path), cwd=tmp_path)
    assert bot.stdin and bot.stdout
    bot.stdin.write("/nom\n")
    bot.stdin.flush()
    deadline = time.monotonic() + 60
    line = ""
    while "Quel nom" not in line and time.monotonic() < deadline:
        line = bot.stdout.readline()
    assert "Quel nom" in line
    os.kill(bot.pid, signal.SIGKILL)
    bot.wait(timeout=10)

    resumed = relais(database_url, tmp_path, "console", "--as", "referent", stdin="Karim Après-Crash\n1\n/moi\n")
    assert "Votre nom sera : Karim Après-Crash" in resumed.stdout
    assert "Nom : Karim Après-Crash" in resumed.stdout


def test_help_lists_every_subcommand(tmp_path: Path) -> None:
    result = subprocess.run([*RELAIS, "--help"], capture_output=True, text=True, timeout=60)
    for sub in ("run", "console", "territory", "invite", "when", "migrate"):
        assert sub in result.stdout


@pytest.mark.parametrize("bad", [["invite", "--role", "referent", "--territory", "nulle-part"],
                                 ["territory", "add", "--code", "x", "--name", "X", "--timezone", "Mars/Olympus"]])
def test_cli_errors_are_clear_and_without_traceback(database_url: str, tmp_path: Path, bad: list[str]) -> None:
    result = relais(database_url, tmp_path, *bad)
    assert result.returncode == 1
    assert "Erreur" in result.stderr and "Traceback" not in result.stderr


def test_territory_and_invitation_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    added = relais(database_url, tmp_path, "territory", "add", "--code", "974-sud", "--name", "Réseau Sud",
                   "--timezone", "Indian/Reunion", "--communes", "97411,97416")
    assert added.returncode == 0, added.stderr
    listing = relais(database_url, tmp_path, "territory", "list").stdout
    assert "974-sud\tRéseau Sud\tIndian/Reunion\t97411,97416" in listing
    invite = relais(database_url, tmp_path, "invite", "--role", "referent", "--territory", "974-sud")
    code = invite.stdout.strip()
    assert invite.returncode == 0 and len(code) == 11
    joined = relais(database_url, tmp_path, "console", "--as", "nouveau-974", stdin=f"/start {code}\n/moi\n")
    assert "Bienvenue" in joined.stdout and "Réseau Sud" in joined.stdout
