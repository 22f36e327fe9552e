"""Following reports up: /mes_signalements for their authors, /signalements for the territory's coordinators."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.context import Context
from bot.events import Attachment, Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.notify import notify_member
from bot.router import COORDINATORS, CommandCall, Router
from handlers import places
from handlers.access import oversees, visible_territories
from handlers.quoting import quoted
from handlers.reports.masking import mask
from storage import audit
from storage.attachments import of_report
from storage.groups import group_of
from storage.models import Member
from storage.normalize import fold
from storage.reports import (
    REOPEN_DELAY,
    Report,
    ReportFilter,
    add_event,
    by_reference,
    can_reopen,
    count_reports,
    find_reports,
    history,
    page_of_author,
    reopen,
    set_status,
)
from storage.themes import guess, themes

REFERENCE = re.compile(r"\bS-\d{4}-\d{4,6}\b")
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


MINE_PAGE = 10


@router.command("mes_signalements", help_key="followup.help_mine", order=11)
async def mine(_event: TextReceived, ctx: Context) -> Reply:
    ctx.conversation.goto("followup.mine", offset=0)
    return await mine_page(ctx)


async def mine_page(ctx: Context) -> Reply:
    """Ten at a time, newest first; each one opens (status, the coordinator's note, history)."""
    assert ctx.member is not None
    offset = ctx.conversation.data.get("offset", 0)
    reports, total = await page_of_author(ctx.session, ctx.member.id, offset=offset, limit=MINE_PAGE)
    if not reports:
        ctx.conversation.end()
        return Reply(t("followup.mine_none"))
    shown = f"{offset + 1}–{offset + len(reports)}"
    lines = [t("followup.mine_title", total=total, shown=shown)] + [f"- {line(r, ctx)}" for r in reports]
    choices = [Choice(str(r.id), t("followup.see", reference=r.reference)) for r in reports]
    if offset + MINE_PAGE < total:
        choices.append(Choice("next", t("followup.next")))
    lines.append(t("followup.mine_hint"))
    return Reply("\n".join(lines), choices=tuple(choices), choices_per_row=2)


@router.choice("followup.mine")
async def chose_mine(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    if event.choice_id == "next":
        ctx.conversation.update(offset=ctx.conversation.data.get("offset", 0) + MINE_PAGE)
        return await mine_page(ctx)
    report = await ctx.session.get(Report, int(event.choice_id))
    if report is None or report.author_id != ctx.member.id:
        ctx.conversation.end()
        return Reply(t("followup.not_found"))
    ctx.conversation.goto("followup.mine_report", report=report.id)
    choices = []
    if report.status == "new" and ctx.now - report.created_at < WITHDRAW_DELAY:
        choices.append(Choice("withdraw", t("followup.withdraw", reference=report.reference)))
    if can_reopen(report, ctx.now):
        choices.append(Choice("reopen", t("followup.reopen")))
    choices.append(Choice("back", t("followup.back_mine")))
    return Reply(await detail_text(ctx, report, with_author=False), choices=tuple(choices))


@router.choice("followup.mine_report")
async def mine_action(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    if event.choice_id == "back":
        ctx.conversation.goto("followup.mine")
        return await mine_page(ctx)
    report = await ctx.session.get(Report, ctx.conversation.data["report"])
    ctx.conversation.end()
    if report is None or report.author_id != ctx.member.id:
        return Reply(t("followup.not_found"))
    if event.choice_id == "reopen":
        return await reopened(ctx, report)
    return await withdraw(ctx, report)


async def withdraw(ctx: Context, report: Report) -> Reply:
    assert ctx.member is not None
    if report.status != "new":
        return Reply(t("followup.withdraw_refused"))
    if ctx.now - report.created_at >= WITHDRAW_DELAY:
        return Reply(t("followup.withdraw_too_late", reference=report.reference))
    await set_status(ctx.session, report, "withdrawn", now=ctx.now, by=ctx.member.id)
    await add_event(ctx.session, report, "withdrawn", now=ctx.now, by=ctx.member.id)
    return Reply(t("followup.withdrawn", reference=report.reference))


async def reopened(ctx: Context, report: Report) -> Reply:
    """« Toujours d'actualité »: back in the coordinators' list; the one who resolved it is told."""
    assert ctx.member is not None
    resolver = report.handled_by
    if not await reopen(ctx.session, report, now=ctx.now, by=ctx.member.id):
        return Reply(t("followup.reopen_refused", days=REOPEN_DELAY.days))
    await audit.record(ctx.session, now=ctx.now, action="report.reopened", actor_id=ctx.member.id,
                       target=report.reference)
    if resolver is not None:
        await notify_member(ctx.session, resolver, f"report:{report.id}:reopened:{ctx.now:%Y%m%d%H%M}",
                            Reply(t("followup.notify_reopened", reference=report.reference), notify=True),
                            now=ctx.now)
    return Reply(t("followup.reopened", reference=report.reference))


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
async def list_reports(call: CommandCall, ctx: Context) -> Reply | list[Reply]:
    """The list with its filters; a reference (« S-2026-00009 ») opens that report; words it does not know are
    said, not silently dropped. In a group, only the coordination group linked to one's territory sees reports."""
    if ctx.address.is_group and not await linked_here(ctx):
        return Reply(t("followup.group_not_linked"))
    if reference := REFERENCE.search(call.args.upper()):
        report = await by_reference(ctx.session, reference.group())
        found = report if report is not None and await oversees(ctx, report.territory_id) else None
        return await open_report(ctx, found) if found else Reply(t("followup.not_found"))
    filters = await parse_filters(ctx, call.args)
    ctx.conversation.goto("followup.list", **filters)
    unknown = call.args.strip() and not (filters["urgency"] or filters["theme"] or filters["commune"]
                                         or any(w in STATUS_WORDS for w in fold(call.args).split()))
    page = await show_page(ctx)
    return [Reply(t("followup.filters_unknown", text=quoted(call.args))), page] if unknown else page


async def linked_here(ctx: Context) -> bool:
    link = await group_of(ctx.session, ctx.address.platform, ctx.address.chat_id)
    return link is not None and await oversees(ctx, link.territory_id)


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
async def chose_in_list(event: ChoiceMade, ctx: Context) -> Reply | list[Reply]:
    if event.choice_id == "next":
        ctx.conversation.update(offset=ctx.conversation.data["offset"] + PAGE)
        return await show_page(ctx)
    report = await visible_report(ctx, int(event.choice_id))
    if report is None:
        return Reply(t("followup.not_found"))
    return await open_report(ctx, report)


async def open_report(ctx: Context, report: Report) -> list[Reply]:
    """The coordinator's view: the report, who reported it (never in a group), its history and notes."""
    if "statuses" not in ctx.conversation.data:  # opened from an alert: « Retour » shows the open reports
        ctx.conversation.update(**await parse_filters(ctx, ""))
    ctx.conversation.goto("followup.report", report=report.id)
    choices = (Choice("acknowledged", t("followup.acknowledge")), Choice("resolved", t("followup.resolve")),
               Choice("note", t("followup.add_note")), Choice("back", t("followup.back")))
    text = await detail_text(ctx, report, with_author=not ctx.address.is_group)
    files = [Reply(t("followup.file", name=f.name), attachment=Attachment(f.name, f.mime, f.data))
             for f in await of_report(ctx.session, report.id)]  # photos of the report: coordinators only
    return [*files, Reply(text, choices=choices, choices_per_row=2)]


async def detail_text(ctx: Context, report: Report, *, with_author: bool) -> str:
    theme = themes().problem(report.theme)
    text = t("followup.detail", reference=report.reference, theme=theme.label if theme else report.theme,
             commune=places.label(report.commune_insee), public=t(f"reports.public_{report.public}"),
             urgency=t(f"reports.urgency_{report.urgency}"), status=t(f"followup.status_{report.status}"),
             date=report.created_at.astimezone(ctx.tz).strftime("%d/%m/%Y %H:%M"),
             description=literal(report.description))
    if with_author:
        author = await ctx.session.get(Member, report.author_id) if report.author_id else None
        text += "\n" + t("followup.author", name=literal(author.display_name) if author else t("followup.author_gone"))
    steps = await history(ctx.session, report.id)
    if steps:
        names = await display_names(ctx, {e.actor_id for e in steps if e.actor_id})
        lines = [t("followup.history_title")]
        lines += [t("followup.history_line", date=e.at.astimezone(ctx.tz).strftime("%d/%m %H:%M"),
                    what=t(f"followup.event_{e.kind}"), who=names.get(e.actor_id or 0, t("followup.who_bot")))
                  + (f" — _{literal(e.note)}_" if e.note else "") for e in steps]
        text += "\n" + "\n".join(lines)
    elif report.comment:  # reports older than the history keep their last note
        text += "\n" + t("followup.last_note", comment=literal(report.comment))
    return text


async def display_names(ctx: Context, ids: set[int]) -> dict[int, str]:
    found = [await ctx.session.get(Member, i) for i in sorted(ids)]
    return {m.id: m.display_name for m in found if m is not None}


@router.choice("followup.report")
async def chose_status(event: ChoiceMade, ctx: Context) -> Reply:
    if event.choice_id == "back":
        ctx.conversation.goto("followup.list")
        return await show_page(ctx)
    ctx.conversation.goto("followup.comment", status=event.choice_id)
    if event.choice_id == "note":
        return Reply(t("followup.ask_note", limit=COMMENT_LIMIT), expects_answer=True)
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
    if data["status"] == "note":
        return await add_note(ctx, report, comment)
    if not await change_status(ctx, report, data["status"], comment):
        return Reply(t("followup.withdrawn_meanwhile", reference=report.reference))
    return Reply(t(f"followup.done_{data['status']}", reference=report.reference))


async def add_note(ctx: Context, report: Report, note: str | None) -> Reply:
    """A note without a change of status: kept in the history and sent to the author."""
    assert ctx.member is not None
    if not note:
        return Reply(t("followup.note_empty"))
    report.comment, report.updated_at = note, ctx.now
    await add_event(ctx.session, report, "note", now=ctx.now, by=ctx.member.id, note=note)
    await audit.record(ctx.session, now=ctx.now, action="report.note", actor_id=ctx.member.id,
                       target=report.reference)
    if report.author_id is not None:
        text = t("followup.notify_note", reference=report.reference) + "\n" + t("followup.notify_comment",
                                                                                comment=literal(note))
        await notify_member(ctx.session, report.author_id, f"report:{report.id}:note:{ctx.event_key or ctx.now}",
                            Reply(text, notify=True), now=ctx.now)
    return Reply(t("followup.done_note", reference=report.reference))


async def change_status(ctx: Context, report: Report, status: str, comment: str | None) -> bool:
    """Acknowledge or resolve, with the history, the audit log and a message to the author; False when the report
    was withdrawn meanwhile (a withdrawal is final: nothing changes, nobody is told)."""
    assert ctx.member is not None
    if not await set_status(ctx.session, report, status, now=ctx.now, by=ctx.member.id, comment=comment):
        return False
    await add_event(ctx.session, report, status, now=ctx.now, by=ctx.member.id, note=comment)
    await audit.record(ctx.session, now=ctx.now, action=f"report.{status}", actor_id=ctx.member.id,
                       target=report.reference)
    if report.author_id is not None:
        note = t(f"followup.notify_{status}", reference=report.reference)
        if comment:
            note += "\n" + t("followup.notify_comment", comment=literal(comment))
        note += "\n" + t("followup.notify_see")
        await notify_member(ctx.session, report.author_id, f"report:{report.id}:{status}", Reply(note, notify=True),
                            now=ctx.now)
    return True
