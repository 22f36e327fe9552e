"""Holes found by trying the chat as an attacker would: forged button payloads, taking another network's group."""

from __future__ import annotations

from bot.app import App
from bot.events import ChoiceMade
from handlers.meetings.messages import RSVP_PROMPT
from storage.groups import group_of
from storage.territories import by_code
from tests.chat import Chat, FakeTransport
from tests.conftest import joined

FORGED = ("99999999999:202603121300:yes", "²:202603121300:yes", "1:999999999999999:yes", "1:20260312130:yes",
          "1:202613451300:yes", "-1:202603121300:no", "1:202603121300:peut-etre", "", ":::", "1:x:yes",
          "1" * 500 + ":202603121300:yes", "0:000000000000:yes", "١٢:202603121300:yes")


async def test_a_forged_rsvp_payload_is_refused_without_raising_the_error_metric(
    app: App, transport: FakeTransport
) -> None:
    member = await joined(app, transport, "referent", "u-forge", territory="35-fougeres")
    for i, payload in enumerate(FORGED):
        before = len(transport.sent)
        await app.dispatcher.handle(ChoiceMade(member.address, RSVP_PROMPT, payload, f"forge-{i}"))
        answers = [d.reply.text for d in transport.sent[before:]]
        assert answers == ["Ce choix n'est plus d'actualité."], (payload, answers)
    assert app.metrics.errors._value.get() == 0


async def test_another_territorys_coordinator_cannot_take_a_linked_group(app: App, transport: FakeTransport) -> None:
    await joined(app, transport, "coordinator", "u-link-35", territory="35-fougeres")
    await joined(app, transport, "coordinator", "u-link-971", territory="971-nord-gt")
    ours = Chat(app, transport, "u-link-35", chat_id="g-shared", is_group=True)
    theirs = Chat(app, transport, "u-link-971", chat_id="g-shared", is_group=True)
    theirs._message = 1000  # message ids are per chat: two people in one group never share one
    assert "chaque lundi" in await ours.text("/lier_groupe")
    refused = await theirs.text("/lier_groupe")
    assert "reçoit déjà la synthèse d'un autre territoire" in refused and "Fougères" not in refused
    async with app.sessions() as session:
        link = await group_of(session, "test", "g-shared")
        territory = await by_code(session, "35-fougeres")
    assert link is not None and territory is not None and link.territory_id == territory.id
    assert "chaque lundi" in await ours.text("/lier_groupe")  # relinking one's own group still works
