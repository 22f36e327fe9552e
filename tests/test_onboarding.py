"""Joining with an invitation code; strangers are told how to join and leave no trace."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from bot.app import App
from bot.clock import FrozenClock
from storage.members import create_invitation
from storage.models import Conversation, Identity, Invitation, Member, OutboxMessage
from storage.territories import by_code
from tests.chat import Chat, FakeTransport


async def _invite(app: App, *, uses: int = 1, days: int = 14, role: str = "referent") -> str:
    async with app.sessions() as session, session.begin():
        territory = await by_code(session, "35-fougeres")
        assert territory is not None
        new = await create_invitation(session, role=role, territory_id=territory.id, now=app.clock.now(),
                                      uses=uses, valid_for=timedelta(days=days))
        return new.code


async def _count(app: App, model: type) -> int:
    async with app.sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_stranger_is_told_how_to_join_and_nothing_is_written(app: App, transport: FakeTransport) -> None:
    stranger = Chat(app, transport, "u-stranger")
    before = {m: await _count(app, m) for m in (Member, Identity, Conversation, OutboxMessage)}
    for message in ("/moi", "/aide", "/nom", "bonjour", "/start", "/start FAUX-CODE1", "/inconnue"):
        replies = await stranger.say(message)
        assert len(replies) == 1, message
        assert "code d'invitation" in replies[0].text or "pas valable" in replies[0].text, message
    assert {m: await _count(app, m) for m in before} == before
    async with app.sessions() as session:
        inbound = (await session.execute(text("select count(*) from inbound_event"))).scalar_one()
    assert inbound == 0


async def test_joining_with_a_code_makes_a_member_of_the_territory(app: App, transport: FakeTransport) -> None:
    code = await _invite(app)
    chat = Chat(app, transport, "u-new", name="Nadia")
    welcome = await chat.say(f"/start {code.lower()}")
    assert "Bienvenue Nadia" in welcome[0].text and "Pays de Fougères" in welcome[0].text
    profile = (await chat.say("/moi"))[0].text
    assert "Nadia" in profile and "référent" in profile and "Réseau du Pays de Fougères" in profile


async def test_codes_are_single_use_by_default(app: App, transport: FakeTransport) -> None:
    code = await _invite(app)
    await Chat(app, transport, "u-first").say(f"/start {code}")
    second = await Chat(app, transport, "u-second").say(f"/start {code}")
    assert "pas valable" in second[0].text
    assert "code d'invitation" in (await Chat(app, transport, "u-second").say("/moi"))[0].text


async def test_codes_with_several_uses_and_expiry(app: App, transport: FakeTransport, clock: FrozenClock) -> None:
    code = await _invite(app, uses=2, days=1)
    assert "Bienvenue" in (await Chat(app, transport, "u-a").say(f"/start {code}"))[0].text
    clock.advance(timedelta(days=2))
    assert "pas valable" in (await Chat(app, transport, "u-b").say(f"/start {code}"))[0].text


async def test_codes_are_stored_hashed(app: App) -> None:
    code = await _invite(app)
    async with app.sessions() as session:
        hashes = (await session.execute(select(Invitation.code_hash))).scalars().all()
        dump = " ".join(str(v) for row in (await session.execute(select(Invitation))).scalars()
                        for v in vars(row).values())
    assert hashes and all(len(h) == 64 for h in hashes)
    for form in (code, code.replace("-", ""), code.lower()):
        assert form not in dump


async def test_help_lists_what_the_role_may_do(app: App, transport: FakeTransport, member_chat: Chat) -> None:
    help_text = (await member_chat.say("/aide"))[0].text
    assert "/moi" in help_text and "/nom" in help_text and "/annuler" in help_text
    assert "Exemple" not in help_text and "/aide signaler" in help_text  # examples: /aide COMMANDE


async def test_a_member_is_not_welcomed_twice(app: App, transport: FakeTransport, member_chat: Chat) -> None:
    code = await _invite(app)
    again = (await member_chat.say(f"/start {code}"))[0].text
    assert "déjà membre" in again
    assert "Bienvenue" in (await Chat(app, transport, "u-other").say(f"/start {code}"))[0].text


async def test_guessing_codes_is_slowed_down_and_logged(app: App, transport: FakeTransport, clock: FrozenClock,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    code = await _invite(app)
    guesser = Chat(app, transport, "u-guess-5521", name="Devin")
    caplog.set_level(logging.WARNING)
    for i in range(5):
        assert "pas valable" in (await guesser.say(f"/start ABCDE-FGH{i:02d}"))[0].text
    refused = (await guesser.say(f"/start {code}"))[0].text  # even the right code: no more tries for a while
    assert "Trop de codes erronés" in refused and "Réessayez dans 10 min" in refused
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "wrong invitation code (5 in 10 min" in logged and "refused without checking" in logged
    assert "ABCDE" not in logged and code not in logged and "u-guess-5521" not in logged and "Devin" not in logged
    assert "code d'invitation" in (await guesser.say("/moi"))[0].text  # not joined
    clock.advance(timedelta(minutes=10, seconds=1))
    assert "Bienvenue Devin" in (await guesser.say(f"/start {code}"))[0].text
