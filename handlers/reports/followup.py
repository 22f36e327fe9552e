"""Following reports up: /mes_signalements for their authors, /signalements for the territory's coordinators."""

from __future__ import annotations

from datetime import timedelta

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.notify import notify_member
from bot.router import COORDINATORS, Router, parse_command
from handlers import places
from handlers.access import oversees, visible_territories
from handlers.reports.masking import mask
from storage import audit
from storage.normalize import fold
from storage.reports import Report, ReportFilter, count_reports, find_reports, of_author, set_status
from storage.themes import guess, themes

router = Router("report_followup")

WITHDRAW_DELAY = timedelta(hours=24)
PAGE = 5
COMMENT_LIMIT = 500


def line(report: Report, ctx: Context) -> str:
    theme = themes().problem(report.theme)
    when = report.created_at.astimezone(ctx.tz).strftime("%d/%m")
    urgent = t("followup.urgent_mark") if report.urgency == "urgent" else ""
    return t("followup.line", reference=report.reference, urgent=urgent, theme=theme.short if theme else report.theme,
             commune=places.label(report.commune_insee), date=when, status=t(f"followup.status_{report.status}"))


@router.command("mes_signalements", help_key="followup.help_mine", order=11)
async def mine(_event: TextReceived, ctx: Context) -> Reply:
    assert ctx.member is not None
    reports = await of_author(ctx.session, ctx.member.id)
    if not reports:
        return Reply(t("followup.mine_none"))
    lines = [t("followup.mine_title")] + [f"- {line(r, ctx)}" for r in reports]
    recent = [r for r in reports if r.status == "new" and ctx.now - r.created_at < WITHDRAW_DELAY]
    choices = tuple(Choice(str(r.id), t("followup.withdraw", reference=r.reference)) for r in recent[:5])
    if choices:
        ctx.conversation.goto("followup.mine")
        lines.append(t("followup.withdraw_hint"))
    return Reply("\n".join(lines), choices=choices)


@router.choice("followup.mine")
async def withdraw(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    report = await ctx.session.get(Report, int(event.choice_id))
    ctx.conversation.end()
    if report is None or report.author_id != ctx.member.id or report.status != "new":
        return Reply(t("followup.withdraw_refused"))
    if ctx.now - report.created_at >= WITHDRAW_DELAY:
        return Reply(t("followup.withdraw_too_late", reference=report.reference))
    await set_status(ctx.session, report, "withdrawn", now=ctx.now, by=ctx.member.id)
    return Reply(t("followup.withdrawn", reference=report.reference))


STATUS_WORDS = {"nouveau": ("new",), "nouveaux": ("new",), "pris": ("acknowledged",), "cours": ("acknowledged",),
                "resolu": ("resolved",), "resolus": ("resolved",), "tous": ()}


async def parse_filters(ctx: Context, text: str) -> dict[str, object]:
    """« urgents », « résolus », « caf », « Romagné »… -> the list's filters, kept in the conversation."""
    words = fold(text).split()
    statuses: tuple[str, ...] = ("new", "acknowledged")
    for word in words:
        statuses = STATUS_WORDS.get(word, statuses)
    urgent = any(w.startswith("urgent") for w in words)
    theme = guess(text, themes().problems) if text else None
    found, _ = await places.extract(ctx, text) if text else (None, text)
    commune = found.commune.insee if found and found.commune else None
    return {"statuses": list(statuses), "urgency": "urgent" if urgent else None,
            "theme": theme.id if theme and theme.id != "autre" else None, "commune": commune, "offset": 0}


@router.command("signalements", roles=COORDINATORS, help_key="followup.help_list",
                example_key="followup.example_list", order=12, in_group=True)
async def list_reports(event: TextReceived, ctx: Context) -> Reply:
    _, text = parse_command(event.text) or ("", "")
    ctx.conversation.goto("followup.list", **await parse_filters(ctx, text))
    return await show_page(ctx)


async def show_page(ctx: Context) -> Reply:
    data = ctx.conversation.data
    f = ReportFilter(territory_ids=await visible_territories(ctx), statuses=tuple(data["statuses"]),
                     theme=data["theme"], commune_insee=data["commune"], urgency=data["urgency"])
    total = await count_reports(ctx.session, f)
    reports = await find_reports(ctx.session, f, offset=data["offset"], limit=PAGE)
    if not reports:
        ctx.conversation.end()
        return Reply(t("followup.list_none"))
    shown = f"{data['offset'] + 1}–{data['offset'] + len(reports)}"
    lines = [t("followup.list_title", total=total, shown=shown)]
    for report in reports:
        lines += [f"- {line(report, ctx)}", f"  _{literal(report.description[:140])}_"]
    choices = [Choice(str(r.id), t("followup.open", reference=r.reference)) for r in reports]
    if data["offset"] + PAGE < total:
        choices.append(Choice("next", t("followup.next")))
    return Reply("\n".join(lines), choices=tuple(choices))


async def visible_report(ctx: Context, report_id: int) -> Report | None:
    report = await ctx.session.get(Report, report_id)
    return report if report is not None and await oversees(ctx, report.territory_id) else None


@router.choice("followup.list")
async def chose_in_list(event: ChoiceMade, ctx: Context) -> Reply:
    if event.choice_id == "next":
        ctx.conversation.update(offset=ctx.conversation.data["offset"] + PAGE)
        return await show_page(ctx)
    report = await visible_report(ctx, int(event.choice_id))
    if report is None:
        return Reply(t("followup.not_found"))
    ctx.conversation.goto("followup.report", report=report.id)
    theme = themes().problem(report.theme)
    text = t("followup.detail", reference=report.reference, theme=theme.label if theme else report.theme,
             commune=places.label(report.commune_insee), public=t(f"reports.public_{report.public}"),
             urgency=t(f"reports.urgency_{report.urgency}"), status=t(f"followup.status_{report.status}"),
             date=report.created_at.astimezone(ctx.tz).strftime("%d/%m/%Y %H:%M"),
             description=literal(report.description))
    choices = (Choice("acknowledged", t("followup.acknowledge")), Choice("resolved", t("followup.resolve")),
               Choice("back", t("followup.back")))
    return Reply(text, choices=choices, choices_per_row=2)


@router.choice("followup.report")
async def chose_status(event: ChoiceMade, ctx: Context) -> Reply:
    if event.choice_id == "back":
        ctx.conversation.goto("followup.list")
        return await show_page(ctx)
    ctx.conversation.goto("followup.comment", status=event.choice_id)
    return Reply(t("followup.ask_comment", limit=COMMENT_LIMIT), choices=(Choice("none", t("followup.no_comment")),))


@router.choice("followup.comment")
async def no_comment(_event: ChoiceMade, ctx: Context) -> Reply:
    return await apply_status(ctx, None)


@router.step("followup.comment")
async def typed_comment(event: TextReceived, ctx: Context) -> Reply:
    text = event.text.strip()
    if len(text) > COMMENT_LIMIT:
        return Reply(t("reports.too_long", limit=COMMENT_LIMIT, length=len(text)))
    return await apply_status(ctx, mask(text, current_year=ctx.now.year).text)


async def apply_status(ctx: Context, comment: str | None) -> Reply:
    assert ctx.member is not None
    data = ctx.conversation.data
    report = await visible_report(ctx, data["report"])
    ctx.conversation.end()
    if report is None:
        return Reply(t("followup.not_found"))
    status = data["status"]
    if not await set_status(ctx.session, report, status, now=ctx.now, by=ctx.member.id, comment=comment):
        return Reply(t("followup.withdrawn_meanwhile", reference=report.reference))
    await audit.record(ctx.session, now=ctx.now, action=f"report.{status}", actor_id=ctx.member.id,
                       target=report.reference)
    if report.author_id is not None:
        note = t(f"followup.notify_{status}", reference=report.reference)
        if comment:
            note += "\n" + t("followup.notify_comment", comment=literal(comment))
        await notify_member(ctx.session, report.author_id, f"report:{report.id}:{status}", Reply(note), now=ctx.now)
    return Reply(t(f"followup.done_{status}", reference=report.reference))
