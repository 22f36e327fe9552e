"""Urgent reports reach their territory's coordinators (privately, and the linked group) once, outside quiet hours."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.events import Address, Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.jobs import JobContext
from bot.notify import notify_members
from bot.outbox import enqueue
from bot.router import COORDINATORS, Router, parse_command
from handlers import places
from handlers.reports.followup import change_status, open_report, visible_report
from storage import audit
from storage.alerts import (
    DEFAULT_QUIET,
    Quiet,
    alerts_on,
    coordinators_to_alert,
    quiet_plan,
    set_quiet_hours,
    switch_alerts,
)
from storage.groups import GroupLink, all_links
from storage.meetings import ancestor_ids
from storage.models import Member, Territory
from storage.normalize import fold
from storage.reports import Report, add_event, unalerted_urgent
from storage.territories import all_territories
from storage.themes import themes

router = Router("report_alerts")
log = logging.getLogger(__name__)

ALERT_PROMPT = "urgent"  # stateless buttons: « Je m'en occupe », « Ouvrir »
RECENT = timedelta(days=3)  # after a longer outage, old urgencies are in the digest, not pinged
_HOUR = re.compile(r"(\d{1,2})\s*h\s*(\d{2})?")


def alert_text(report: Report, author: Member | None, tz: ZoneInfo) -> str:
    theme = themes().problem(report.theme)
    text = t("alerts.alert", reference=report.reference, theme=theme.label if theme else report.theme,
             commune=places.label(report.commune_insee), public=t(f"reports.public_{report.public}"),
             date=report.created_at.astimezone(tz).strftime("%d/%m à %H:%M"), description=report.description)
    if author is not None:  # private messages only: a linked group may hold more than coordinators
        text += "\n" + t("alerts.author", name=author.display_name)
    return text


def alert_reply(report: Report, author: Member | None, tz: ZoneInfo) -> Reply:
    choices = (Choice(f"ack:{report.id}", t("alerts.take")), Choice(f"open:{report.id}", t("alerts.open")))
    return Reply(alert_text(report, author, tz), choices=choices, prompt_id=ALERT_PROMPT, choices_per_row=2,
                 notify=True)


@router.job("reports.urgent_alerts", every_seconds=20)
async def alert_urgent(job: JobContext) -> None:
    """Each urgent report is alerted once: `alerted_at` is set in the transaction that queues the messages."""
    now = job.clock.now()
    pending = await unalerted_urgent(job.session, since=now - RECENT)
    if not pending:
        return
    quiet = await quiet_plan(job.session)
    territories = {x.id: x for x in await all_territories(job.session)}
    links = await all_links(job.session)
    for report in pending:
        territory = territories[report.territory_id]
        local = now.astimezone(ZoneInfo(territory.timezone)).time()
        if quiet.get(territory.id, DEFAULT_QUIET).holds(local):
            continue  # held until the morning: the next run after the quiet hours sends it
        await alert(job.session, report, territory, links, now=now)


async def alert(session: AsyncSession, report: Report, territory: Territory, links: Sequence[GroupLink], *,
                now: datetime) -> None:
    above = await ancestor_ids(session, report.territory_id)
    coordinators = await coordinators_to_alert(session, above)
    author = await session.get(Member, report.author_id) if report.author_id else None
    sent = await notify_members(session, coordinators, lambda m: f"alert:{report.id}:{m.id}",
                                lambda m: alert_reply(report, author, ZoneInfo(m.territory.timezone)), now=now)
    tz = ZoneInfo(territory.timezone)
    for link in (x for x in links if x.territory_id in above):
        address = Address(link.platform, link.chat_id, "", True)
        if await enqueue(session, f"alert:{report.id}:group:{link.id}", address, alert_reply(report, None, tz),
                         now=now):
            sent += 1
    report.alerted_at = now
    await add_event(session, report, "alerted", now=now, by=None)
    log.info("urgent report %s alerted: %d message(s)", report.id, sent)


@router.action(ALERT_PROMPT)
async def pressed(event: ChoiceMade, ctx: Context) -> Reply | list[Reply]:
    """A button of an alert, pressed privately or in the group: always answered by a message."""
    kind, _, number = event.choice_id.partition(":")
    if ctx.member is None or ctx.member.role not in COORDINATORS:
        return Reply(t("alerts.coordinators_only"))
    report = await visible_report(ctx, int(number)) if number.isdigit() else None
    if report is None:
        return Reply(t("followup.not_found"))
    if kind == "open":
        return await open_report(ctx, report)
    if report.status != "new":
        handler = await ctx.session.get(Member, report.handled_by) if report.handled_by else None
        return Reply(t("alerts.already", reference=report.reference, status=t(f"followup.status_{report.status}"),
                       name=handler.display_name if handler else t("alerts.someone")))
    await change_status(ctx, report, "acknowledged", None)
    return Reply(t("alerts.taken", reference=report.reference, name=ctx.member.display_name))


def parse_quiet(text: str) -> Quiet | None:
    """« 21h 7h », « 20h30-8h » -> quiet hours; « aucun » -> never quiet; None when unreadable."""
    folded = fold(text)
    if any(word in folded for word in ("aucun", "jamais", "sans")):
        return Quiet(DEFAULT_QUIET.starts, DEFAULT_QUIET.starts)
    found = _HOUR.findall(folded)
    if len(found) != 2 or any(int(h) > 23 or int(m or 0) > 59 for h, m in found):
        return None
    (h1, m1), (h2, m2) = found
    return Quiet(time(int(h1), int(m1 or 0)), time(int(h2), int(m2 or 0)))


def quiet_text(quiet: Quiet) -> str:
    if quiet.starts == quiet.ends:
        return t("alerts.never_quiet")
    return t("alerts.quiet_span", starts=hour_text(quiet.starts), ends=hour_text(quiet.ends))


def hour_text(moment: time) -> str:
    """« 20 h », « 7 h 30 »."""
    return f"{moment.hour} h" + (f" {moment.minute:02d}" if moment.minute else "")


@router.command("alertes", roles=COORDINATORS, help_key="alerts.help", example_key="alerts.example", order=13)
async def alerts_command(event: TextReceived, ctx: Context) -> Reply:
    """/alertes: state; /alertes non|oui: off/on for me; /alertes silence 21h 7h: quiet hours of my territory."""
    assert ctx.member is not None
    _, text = parse_command(event.text) or ("", "")
    words = fold(text).split()
    if words and words[0] in ("non", "off", "stop", "couper"):
        return await switch(ctx, on=False)
    if words and words[0] in ("oui", "on", "retablir", "activer"):
        return await switch(ctx, on=True)
    if words:
        return await quiet_setting(ctx, text)
    return await state(ctx)


async def state(ctx: Context) -> Reply:
    assert ctx.member is not None
    on = await alerts_on(ctx.session, ctx.member.id)
    quiet = (await quiet_plan(ctx.session)).get(ctx.member.territory_id, DEFAULT_QUIET)
    ctx.conversation.goto("alerts.menu")
    button = Choice("off", t("alerts.button_off")) if on else Choice("on", t("alerts.button_on"))
    return Reply(t("alerts.state_on" if on else "alerts.state_off", quiet=quiet_text(quiet)), choices=(button,))


@router.choice("alerts.menu")
async def menu_choice(event: ChoiceMade, ctx: Context) -> Reply:
    ctx.conversation.end()
    return await switch(ctx, on=event.choice_id == "on")


async def switch(ctx: Context, *, on: bool) -> Reply:
    assert ctx.member is not None
    await switch_alerts(ctx.session, ctx.member.id, on, ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="alerts.on" if on else "alerts.off", actor_id=ctx.member.id)
    return Reply(t("alerts.now_on" if on else "alerts.now_off"))


async def quiet_setting(ctx: Context, text: str) -> Reply:
    assert ctx.member is not None
    quiet = parse_quiet(text)
    if quiet is None:
        return Reply(t("alerts.quiet_bad"))
    territory = ctx.member.territory
    await set_quiet_hours(ctx.session, territory.id, quiet, now=ctx.now, by=ctx.member.id)
    await audit.record(ctx.session, now=ctx.now, action="alerts.quiet", actor_id=ctx.member.id,
                       target=territory.code)
    return Reply(t("alerts.quiet_set", network=territory.name, quiet=quiet_text(quiet)))
