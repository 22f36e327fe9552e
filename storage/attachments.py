"""Photos and files joined to field reports: kept with their report, shown to its coordinators, never in the API.

A file sent during /signaler is stored at once as a draft (no report yet) and bound to the report when it is
sent; drafts never bound are deleted by the retention job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, intpk, utc

MAX_BYTES = 10_000_000
KINDS = {"image/jpeg": "photo", "image/png": "photo", "image/webp": "photo", "image/heic": "photo",
         "application/pdf": "pdf"}
DRAFT_TTL = timedelta(days=2)


class ReportAttachment(Base):
    __tablename__ = "report_attachment"

    id: Mapped[intpk]
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[utc]


def accepted(mime: str, size: int) -> bool:
    return mime.lower() in KINDS and 0 < size <= MAX_BYTES


async def add_draft(session: AsyncSession, *, author_id: int, name: str, mime: str, data: bytes,
                    now: datetime) -> int:
    row = ReportAttachment(author_id=author_id, name=name[:200] or "fichier", mime=mime.lower(), size=len(data),
                           data=data, created_at=now)
    session.add(row)
    await session.flush()
    return row.id


async def bind(session: AsyncSession, ids: Sequence[int], *, report_id: int, author_id: int) -> None:
    """The drafts of this author become the report's files."""
    if ids:
        await session.execute(update(ReportAttachment).where(
            ReportAttachment.id.in_(ids), ReportAttachment.author_id == author_id,
            ReportAttachment.report_id.is_(None)).values(report_id=report_id))


async def of_report(session: AsyncSession, report_id: int) -> list[ReportAttachment]:
    query = select(ReportAttachment).where(ReportAttachment.report_id == report_id).order_by(ReportAttachment.id)
    return list((await session.execute(query)).scalars())


async def drop_of_author(session: AsyncSession, author_id: int) -> None:
    """On erasure: the files someone sent may show them or the people they helped."""
    await session.execute(delete(ReportAttachment).where(ReportAttachment.author_id == author_id))
