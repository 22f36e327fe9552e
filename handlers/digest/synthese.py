"""The synthèse hebdomadaire: posted weekly in linked group chats, and on demand with /synthese."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.events import Address, Attachment, Reply, TextReceived
from bot.i18n import t
from bot.jobs import JobContext
from bot.outbox import enqueue
from bot.router import COORDINATORS, Router, parse_command
from handlers import places
from handlers.access import oversees
from handlers.dates.french import DateError, format_when, parse_when
from handlers.quoting import quoted
from storage import audit
from storage.digest_queries import DigestFigures, Period, figures
from storage.groups import all_links, group_of, link_group
from storage.models import Territory
from storage.territories import all_territories, subtree_ids
from storage.themes import themes

router = Router("digest")
log = logging.getLogger(__name__)

PERIOD_WORDS = ("semaine", "mois", "depuis")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


def day(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def trend(figs: DigestFigures) -> str:
    delta = figs.total - figs.previous_total
    if delta > 0:
        return t("digest.trend_up", delta=delta)
    if delta < 0:
        return t("digest.trend_down", delta=-delta)
    return t("digest.trend_flat")


def render(figs: DigestFigures, territory: Territory, period: Period, tz: ZoneInfo) -> str:
    """Short, plain French: what a coordinator reads in one minute in the group chat."""
    span = t("digest.span", start=day(period.start, tz), end=day(period.end - timedelta(seconds=1), tz))
    lines = [t("digest.title", territory=territory.name), span]
    if figs.total == 0 and not figs.urgent_open:
        return "\n".join([*lines[:1], t("digest.empty", span=span)])
    labels = {th.id: th.short for th in themes().problems}
    lines.append(t("digest.total", total=figs.total, trend=trend(figs)))
    if figs.by_theme:
        lines.append(t("digest.by_theme", items=" · ".join(f"{labels.get(k, k)} {n}" for k, n in figs.by_theme)))
    if figs.top_communes:
        items = " · ".join(f"{places.label(k)} {n}" for k, n in figs.top_communes)
        lines.append(t("digest.communes", items=items))
    if figs.urgent_open:
        lines.append(t("digest.urgent", items=", ".join(figs.urgent_open)))
    if figs.oldest_unacknowledged:
        items = ", ".join(f"{ref} ({at.astimezone(tz):%d/%m})" for ref, at in figs.oldest_unacknowledged)
        lines.append(t("digest.oldest", items=items))
    if figs.new_members:
        lines.append(t("digest.new_members", count=figs.new_members))
    lines.append(t("digest.footer"))
    return "\n".join(lines)


async def build(session: AsyncSession, territory: Territory, period: Period) -> Reply:
    tz = ZoneInfo(territory.timezone)
    ids = await subtree_ids(session, territory.id)
    figs = await figures(session, ids, period)
    text = render(figs, territory, period, tz)
    labels = {th.id: th.short for th in themes().problems}
    chart = None
    if figs.weekly_by_theme:  # rendering takes ~0.15 s: off the event loop, other chats keep being answered
        from handlers.digest.chart import weekly_chart  # matplotlib loads on first use, not at every start

        chart = await asyncio.to_thread(weekly_chart, figs.weekly_by_theme, labels, tz, t("digest.chart_title"))
    attachment = Attachment("synthese.png", "image/png", chart) if chart else None
    if chart:  # RGAA criterion 1: the image's information also as text, in the same message
        text += "\n" + chart_text(figs.weekly_by_theme, labels, tz)
    return Reply(text, attachment=attachment)


def chart_text(rows: list[tuple[datetime, str, int]], labels: dict[str, str], tz: ZoneInfo) -> str:
    """The chart read aloud: one line per week shown, its total and its themes, biggest first."""
    weeks: dict[datetime, dict[str, int]] = {}
    for week, theme, n in rows:
        weeks.setdefault(week, {})[theme] = weeks.get(week, {}).get(theme, 0) + n
    lines = [t("digest.chart_text_title")]
    for week in sorted(weeks):
        themes_of_week = sorted(weeks[week].items(), key=lambda item: (-item[1], item[0]))
        detail = ", ".join(f"{labels.get(theme, theme)} {n}" for theme, n in themes_of_week)
        lines.append(t("digest.chart_text_line", week=week.astimezone(tz).strftime("%d/%m"),
                       total=sum(weeks[week].values()), detail=detail))
    return "\n".join(lines)


def last_week(now: datetime, tz: ZoneInfo) -> Period:
    """The last full week, Monday 00:00 to Monday 00:00 in the territory's zone."""
    local = now.astimezone(tz)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(), tz)
    return Period((monday - timedelta(weeks=1)).astimezone(now.tzinfo), monday.astimezone(now.tzinfo))


async def territory_for(ctx: Context, code: str | None) -> Territory | None:
    """The territory asked for (within the coordinator's subtree), the linked group's, or the coordinator's own."""
    assert ctx.member is not None
    if code:
        found = next((x for x in await all_territories(ctx.session) if x.code == code), None)
        return found if found and await oversees(ctx, found.id) else None
    if ctx.address.is_group and (link := await group_of(ctx.session, ctx.address.platform, ctx.address.chat_id)):
        return await ctx.session.get(Territory, link.territory_id)
    return await ctx.session.get(Territory, ctx.member.territory_id)


def parse_period(words: list[str], now: datetime, tz: ZoneInfo) -> Period:
    if words and words[0] == "mois":
        return Period(now - timedelta(days=30), now)
    if words and words[0] == "depuis":
        start = parse_when(" ".join(words[1:]) or "?", now=now, tz=tz, require_time=False, allow_past=True)
        if start >= now:  # « depuis demain »: a digest looks back, never ahead
            raise DateError("since_future", day=format_when(start, tz).split(" à ")[0])
        return Period(start, now)
    return Period(now - timedelta(days=7), now)


@router.command("synthese", roles=COORDINATORS, help_key="digest.help_synthese", example_key="digest.example",
                in_group=True, order=30, aliases=("synthèse",), anonymous=True)
async def on_demand(event: TextReceived, ctx: Context) -> Reply:
    _, rest = parse_command(event.text) or ("", "")
    words = rest.split()
    codes = {x.code for x in await all_territories(ctx.session)}
    code = words.pop() if words and words[-1] in codes else None
    if ctx.member is None:  # an anonymous group admin: only what the group receives anyway, its linked digest
        link = await group_of(ctx.session, ctx.address.platform, ctx.address.chat_id)
        if link is None:
            return Reply(t("digest.anonymous_unlinked"))
        territory = await ctx.session.get(Territory, link.territory_id)
    else:
        territory = await territory_for(ctx, code)
    if territory is None:
        return Reply(t("digest.territory_refused", code=quoted(code or "")))
    tz = ZoneInfo(territory.timezone)
    if words and words[0].lower() not in PERIOD_WORDS:
        return Reply(t("digest.bad_period", text=quoted(" ".join(words))))
    try:
        period = parse_period([w.lower() for w in words], ctx.now, tz)
    except DateError as error:  # a future start is understood, just not possible: say only that
        return Reply(error.message if error.key == "since_future" else t("digest.bad_since", error=error.message))
    return await build(ctx.session, territory, period)


@router.command("lier_groupe", roles=COORDINATORS, help_key="digest.help_link", in_group=True, in_private=False,
                order=31)
async def link(event: TextReceived, ctx: Context) -> Reply:
    assert ctx.member is not None
    _, code = parse_command(event.text) or ("", "")
    territory = await territory_for(ctx, code.strip() or None) if code.strip() else await ctx.session.get(
        Territory, ctx.member.territory_id)
    if territory is None:
        return Reply(t("digest.territory_refused", code=quoted(code)))
    current = await group_of(ctx.session, ctx.address.platform, ctx.address.chat_id)
    if current is not None and not await oversees(ctx, current.territory_id):  # another network's digest
        return Reply(t("digest.link_taken"))
    await link_group(ctx.session, platform=ctx.address.platform, chat_id=ctx.address.chat_id,
                     territory_id=territory.id, member_id=ctx.member.id, now=ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="group.linked", actor_id=ctx.member.id,
                       target=territory.code)
    tz = ZoneInfo(territory.timezone)
    first = next_digest_at(ctx.now, tz)
    return Reply(t("digest.linked", territory=territory.name, when=format_when(first, tz)))


def scheduled_at(now: datetime, tz: ZoneInfo, weekday: int = 0, at: str = "08:30") -> datetime:
    """This week's digest instant (Monday 08:30 local by default), DST-safe."""
    local = now.astimezone(tz)
    hour, minute = (int(x) for x in at.split(":"))
    start_of_week = local.date() - timedelta(days=local.weekday())
    return datetime.combine(start_of_week + timedelta(days=weekday), time(hour, minute), tz)


def next_digest_at(now: datetime, tz: ZoneInfo) -> datetime:
    this_week = scheduled_at(now, tz)
    return this_week if this_week > now else scheduled_at(now + timedelta(weeks=1), tz)


@router.job("digest.weekly", every_seconds=60)
async def weekly(job: JobContext) -> None:
    """Post last week's digest to each linked group once, at its time or late within the grace period."""
    now = job.clock.now()
    for link in await all_links(job.session):
        territory = await job.session.get(Territory, link.territory_id)
        if territory is None:
            continue
        tz = ZoneInfo(territory.timezone)
        due = scheduled_at(now, tz, link.digest_weekday, link.digest_time)
        if not due <= now < due + timedelta(seconds=job.grace_seconds):
            continue
        week = due.isocalendar()
        key = f"digest:{link.id}:{week.year}-W{week.week:02d}"
        address = Address(link.platform, link.chat_id, "", True)
        reply = await build(job.session, territory, last_week(now, tz))
        if await enqueue(job.session, key, address, reply, now=now):
            log.info("weekly digest queued for group link %s", link.id)
