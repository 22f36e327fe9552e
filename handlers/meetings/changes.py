"""Coordinators move or cancel a date, or stop a recurring meeting; every member of the network is told."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.context import Context
from bot.events import Choice, ChoiceMade, Reply, TextReceived
from bot.i18n import t
from bot.markup import literal
from bot.notify import notify_members
from bot.router import Router
from handlers.dates.french import DateError, parse_when
from handlers.meetings.answers import answer, load, management, manages
from handlers.meetings.messages import (
    RSVP_PROMPT,
    MemberReply,
    answer_choices,
    answer_label,
    ics,
    invited,
    parse_answer,
    when,
)
from handlers.meetings.messages import zone_of as zone
from storage import audit
from storage.meetings import Occurrence, answers_for, change_occurrence, occurrence
from storage.models import Member

router = Router("meeting_changes")


@router.choice("meeting.detail")
async def chose_in_detail(event: ChoiceMade, ctx: Context) -> Reply:
    """An answer (Présent…) or, for the network's coordinators, Déplacer / Annuler / Arrêter."""
    data = ctx.conversation.data
    found = await load(ctx, data["meeting"], data["stamp"])
    if (parsed := parse_answer(event.choice_id)) is not None:
        ctx.conversation.end()
        return await answer(ctx, found, parsed[2])
    if found is None or not await manages(ctx, found.meeting) or event.choice_id not in management(found.meeting):
        ctx.conversation.end()
        return Reply(t("meetings.gone"))
    if event.choice_id == "move":
        ctx.conversation.goto("meeting.move")
        return Reply(t("meetings.ask_move", when=when(found.starts_at, found.meeting.tz)))
    ctx.conversation.goto("meeting.change", change=event.choice_id)
    choices = (Choice("ok", t(f"meetings.yes_{event.choice_id}")), Choice("no", t("meetings.keep")))
    return Reply(t(f"meetings.confirm_{event.choice_id}", title=literal(found.meeting.title),
                   when=when(found.starts_at, found.meeting.tz)), choices=choices, choices_per_row=2)


@router.step("meeting.move")
async def typed_new_date(event: TextReceived, ctx: Context) -> Reply:
    data = ctx.conversation.data
    found = await load(ctx, data["meeting"], data["stamp"])
    if found is None:
        ctx.conversation.end()
        return Reply(t("meetings.gone"))
    tz = found.meeting.tz
    try:
        moment = parse_when(event.text, now=ctx.now, tz=tz)
    except DateError as error:
        return Reply(error.message)
    ctx.conversation.goto("meeting.change", change="move", new=moment.isoformat())
    choices = (Choice("ok", t("meetings.confirm")), Choice("edit", t("meetings.correct")))
    return Reply(t("meetings.confirm_move", title=literal(found.meeting.title), old=when(found.starts_at, tz),
                   new=when(moment, tz)), choices=choices, choices_per_row=2)


@router.choice("meeting.change")
async def confirmed_change(event: ChoiceMade, ctx: Context) -> Reply:
    assert ctx.member is not None
    data = ctx.conversation.data
    found = await load(ctx, data["meeting"], data["stamp"])
    if event.choice_id == "edit":
        ctx.conversation.goto("meeting.move")
        return Reply(t("meetings.ask_move", when=when(found.starts_at, found.meeting.tz) if found else ""))
    ctx.conversation.end()
    if event.choice_id != "ok":
        return Reply(t("meetings.unchanged"))
    if found is None or not await manages(ctx, found.meeting):
        return Reply(t("meetings.gone"))
    kind = data["change"]
    people = await apply(ctx, found, kind, datetime.fromisoformat(data["new"]) if kind == "move" else None)
    await audit.record(ctx.session, now=ctx.now, action=f"meeting.{kind}", actor_id=ctx.member.id,
                       target=f"{found.meeting.id}:{found.stamp}")
    return Reply(t(f"meetings.done_{kind}", people=people))


async def apply(ctx: Context, found: Occurrence, kind: str, new_start: datetime | None) -> int:
    """Make the change, then queue one notice per member of the network; returns how many were queued."""
    assert ctx.member is not None
    meeting, by = found.meeting, ctx.member.id
    if kind == "stop":
        meeting.status, meeting.updated_at = "cancelled", ctx.now
        return await notify(ctx, found, f"meeting-stopped:{meeting.id}", stopped(found))
    change = await change_occurrence(ctx.session, found, starts_at=new_start, now=ctx.now, by=by)
    if kind == "cancel":
        withdrawn = replace(found, sequence=change.sequence, since=ctx.now)  # the .ics CANCEL outranks the invitation
        return await notify(ctx, found, f"meeting-cancelled:{meeting.id}:{found.stamp}", cancelled(withdrawn))
    moved_to = occurrence(meeting, found.key)
    answers = await answers_for(ctx.session, found)
    return await notify(ctx, found, f"meeting-moved:{meeting.id}:{found.stamp}:{moved_to.sequence}",
                        moved(found, moved_to, answers))


async def notify(ctx: Context, found: Occurrence, prefix: str, reply: MemberReply) -> int:
    members = await invited(ctx.session, found.meeting)
    return await notify_members(ctx.session, members, lambda m: f"{prefix}:{m.id}", reply, now=ctx.now)


def stopped(found: Occurrence) -> MemberReply:
    def reply(member: Member) -> Reply:
        return Reply(t("meetings.stopped", title=literal(found.meeting.title),
                       when=when(found.starts_at, zone(member))))
    return reply


def cancelled(found: Occurrence) -> MemberReply:
    invitation = ics(found, cancelled=True)

    def reply(member: Member) -> Reply:
        return Reply(t("meetings.cancelled", title=literal(found.meeting.title),
                       when=when(found.starts_at, zone(member))),
                     attachment=invitation)
    return reply


def moved(old: Occurrence, new: Occurrence, answers: dict[int, str]) -> MemberReply:
    invitation = ics(new)

    def reply(member: Member) -> Reply:
        tz, mine = zone(member), answers.get(member.id)
        text = t("meetings.moved", title=literal(new.meeting.title), old=when(old.starts_at, tz),
                 new=when(new.starts_at, tz), place=literal(new.meeting.place))
        text += "\n" + (t("meetings.answer_kept", answer=answer_label(mine)) if mine else t("meetings.reminder_ask"))
        return Reply(text, choices=answer_choices(new), prompt_id=RSVP_PROMPT, choices_per_row=3,
                     attachment=invitation)
    return reply
