"""Every command and the steps after it, driven with arbitrary input: always a French answer, never a crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App, feature_routers
from bot.router import STRANGER
from tests.chat import FakeTransport
from tests.conftest import joined

COMMANDS = sorted({c.name for router in feature_routers() for c in router.commands.values()})
JUNK = st.text(max_size=300) | st.sampled_from(["", "1", "2", "9", "0", "-1", "Oui", "Envoyer", "\x00\x1b[2J",
                                                 "😀" * 200, "‮ltr", "Romagne", "demain 10h", "/annuler",
                                                 "a" * 5000])
APOLOGY = "problème est survenu"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_and_its_steps_take_any_input(app: App, transport: FakeTransport, command: str,
                                                    run_async: Callable[[Any], Any]) -> None:
    admin = run_async(joined(app, transport, "admin", f"u-fuzz-{command}", territory="35"))

    async def attempt(argument: str, answers: list[str]) -> None:
        await admin.say("/annuler")
        for message in [f"/{command} {argument}".strip(), *answers]:
            replies = await admin.say(message)
            assert all(r.text and APOLOGY not in r.text and "Traceback" not in r.text for r in replies), message

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(JUNK, st.lists(JUNK, max_size=3))
    def check(argument: str, answers: list[str]) -> None:
        run_async(attempt(argument, answers))

    check()
    assert app.metrics.errors._value.get() == 0  # no handler raised, even where nothing was shown


def test_strangers_reach_no_command() -> None:
    for router in feature_routers():
        for command in router.commands.values():
            assert STRANGER not in command.roles or command.name == "start", command.name
