"""An answer that quotes what someone typed never carries the personal data of the people helped: the quote is
masked before the answer is queued (a queued answer is kept while a platform is down, and in backups)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.models import OutboxMessage
from tests.chat import FakeTransport
from tests.conftest import joined

PHONE, NAME, EMAIL = "06 12 34 56 78", "Dupont", "jean.dupont@gmail.com"


async def _everything_queued(app: App) -> str:
    async with app.sessions() as session:
        rows = (await session.execute(select(OutboxMessage.payload))).scalars().all()
    return repr(rows)


async def test_quoted_answers_are_masked(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "coordinator", "u-echo", territory="35-fougeres")
    await chat.say("/signaler")
    await chat.pick("Démarche en ligne")
    commune = await chat.text(f"Mme {NAME} {PHONE} bloquée")
    assert "Je ne trouve pas la commune" in commune and "téléphone masqué" in commune
    await chat.say("/annuler")
    partners = await chat.text(f"/partenaires {EMAIL}")
    await chat.say("/reunion")
    await chat.pick("Réunion trimestrielle du réseau")
    date = await chat.text(f"chez Mme {NAME} au {PHONE}")
    shown = "\n".join(d.reply.text for d in transport.sent)
    for secret in (PHONE, NAME, EMAIL):
        assert secret not in shown, secret
        assert secret not in await _everything_queued(app), secret
    assert partners and "pas compris la date" in date
