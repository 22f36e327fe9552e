"""`make run` shows the coordinator's week at once: an urgent report waiting for its alert, a closed meeting whose
actions come back in the next reminder, and a Coop export with a row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.config import Settings
from storage.models import OutboxMessage


async def test_the_demo_has_an_urgent_report_waiting_and_a_closed_meeting_with_actions(
    settings: Settings, clock: FrozenClock
) -> None:
    app = App(settings.model_copy(update={"demo_content": True}), clock=clock)
    await app.prepare()
    try:
        await app.scheduler.tick()  # 09:00 in Paris: not quiet
        clock.set(datetime(2026, 3, 15, 13, 0, 30, tzinfo=UTC))  # J-1 of the Pays de Fougères meeting
        await app.scheduler.tick()
        async with app.sessions() as session:
            rows = {r.key: r.payload["text"] for r in (await session.execute(select(OutboxMessage))).scalars()}
    finally:
        await app.close()
    alerted = [text for key, text in rows.items() if key.startswith("alert:")]
    assert len(alerted) == 1 and "France Services" in alerted[0]  # Claire, coordinator of the Pays de Fougères
    recalled = [text for key, text in rows.items() if key.startswith("reminder:1:")]
    assert recalled and all("Actions décidées la dernière fois" in text for text in recalled)
