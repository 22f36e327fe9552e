"""RGPD rights on stored data: export everything held about a member, erase their identity, apply retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.attachments import DRAFT_TTL, ReportAttachment, drop_of_author
from storage.models import AuditEntry, Conversation, Identity, InboundEvent, Invitation, Member, OutboxMessage
from storage.reports import Report

ERASED_NAME = "Membre supprimé"


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def export_member(session: AsyncSession, member: Member) -> dict[str, Any]:
    """Everything relais holds about one member, as plain JSON-ready data."""
    reports = (await session.execute(select(Report).where(Report.author_id == member.id)
                                     .order_by(Report.id))).scalars()
    audit = (await session.execute(select(AuditEntry).where(AuditEntry.actor_id == member.id)
                                   .order_by(AuditEntry.id))).scalars()
    return {
        "profil": {"id": member.id, "nom": member.display_name, "role": member.role,
                   "territoire": member.territory.name, "commune_habituelle": member.usual_commune,
                   "membre_depuis": _stamp(member.created_at)},
        "messageries": [{"plateforme": i.platform, "identifiant": i.user_id, "conversation": i.chat_id,
                         "reliee_le": _stamp(i.created_at)} for i in member.identities],
        "signalements": [{"reference": r.reference, "date": _stamp(r.created_at), "theme": r.theme,
                          "commune": r.commune_insee, "public": r.public, "urgence": r.urgency, "statut": r.status,
                          "description": r.description, "reponse_coordination": r.comment} for r in reports],
        "actions_journalisees": [{"date": _stamp(a.at), "action": a.action, "cible": a.target} for a in audit],
    }


async def erase_member(session: AsyncSession, member: Member, now: datetime) -> None:
    """Remove the member's name and platform links everywhere; their reports stay, without author."""
    chats = [(i.platform, i.chat_id, i.user_id) for i in member.identities]
    for platform, chat_id, user_id in chats:
        await session.execute(delete(Conversation).where(
            Conversation.platform == platform, or_(Conversation.user_id == user_id, Conversation.chat_id == chat_id)))
        await session.execute(delete(OutboxMessage).where(
            OutboxMessage.platform == platform, OutboxMessage.chat_id == chat_id))
        await session.execute(delete(InboundEvent).where(
            InboundEvent.platform == platform, InboundEvent.event_key.startswith(f"{platform}:{chat_id}:")))
    await session.execute(delete(Identity).where(Identity.member_id == member.id))
    await drop_of_author(session, member.id)
    await session.execute(update(Report).where(Report.author_id == member.id)
                          .values(author_id=None, anonymised_at=now))
    member.display_name, member.usual_commune, member.erased_at = ERASED_NAME, None, now
    await session.flush()
    session.expire(member, ["identities"])


async def apply_retention(session: AsyncSession, now: datetime, *, report_months: int) -> dict[str, int]:
    """Anonymise old reports; purge stale conversations, sent outbox rows, expired invitations, old event ids."""
    counts = {}
    old = now - timedelta(days=30 * report_months)
    counts["reports_anonymised"] = _rows(await session.execute(
        update(Report).where(Report.created_at < old, Report.anonymised_at.is_(None))
        .values(author_id=None, comment=None, handled_by=None, anonymised_at=now)))
    purges = {
        "conversations": delete(Conversation).where(Conversation.expires_at < now),
        "outbox_sent": delete(OutboxMessage).where(OutboxMessage.sent_at < now - timedelta(days=30)),
        "outbox_failed": delete(OutboxMessage).where(OutboxMessage.failed_at < now - timedelta(days=90)),
        "invitations": delete(Invitation).where(or_(Invitation.expires_at < now, Invitation.uses_left <= 0)),
        "inbound_events": delete(InboundEvent).where(InboundEvent.received_at < now - timedelta(days=7)),
        "draft_files": delete(ReportAttachment).where(ReportAttachment.report_id.is_(None),
                                                      ReportAttachment.created_at < now - DRAFT_TTL),
        "report_files": delete(ReportAttachment).where(ReportAttachment.report_id.in_(
            select(Report.id).where(Report.anonymised_at.is_not(None), Report.created_at < old))),
    }
    for name, statement in purges.items():
        counts[name] = _rows(await session.execute(statement))
    return counts


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)
