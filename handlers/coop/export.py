"""/export_coop: a coordinator gets the « activités de coordination » of their territory as a file for the Coop."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.context import Context
from bot.events import Attachment, Reply, TextReceived
from bot.i18n import t
from bot.router import COORDINATORS, Router, parse_command
from handlers.access import visible_territories
from handlers.dates.french import DateError, parse_when
from storage import audit
from storage.coop_export import coordination_rows, to_csv, to_xlsx
from storage.normalize import fold
from storage.territories import subtree_ids

router = Router("coop")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def a_year_before(now: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(tz).date() - timedelta(days=365), time(), tz)


@router.command("export_coop", roles=COORDINATORS, help_key="coop.help", example_key="coop.example", order=32)
async def export(event: TextReceived, ctx: Context) -> Reply:
    """/export_coop [csv] [depuis le 1er mars]: the last 12 months by default; XLSX unless csv is asked."""
    assert ctx.member is not None
    _, text = parse_command(event.text) or ("", "")
    words = fold(text).split()
    as_csv = "csv" in words
    rest = " ".join(w for w in text.split() if fold(w) not in ("csv", "xlsx", "depuis"))
    try:
        since = (parse_when(rest, now=ctx.now, tz=ctx.tz, require_time=False, allow_past=True) if rest
                 else a_year_before(ctx.now, ctx.tz))
    except DateError as error:
        return Reply(t("coop.bad_since", error=error.message))
    scope = await visible_territories(ctx)
    ids = scope if scope is not None else await subtree_ids(ctx.session, ctx.member.territory_id)
    rows = await coordination_rows(ctx.session, ids, since, ctx.now)
    await audit.record(ctx.session, now=ctx.now, action="coop.export", actor_id=ctx.member.id, rows=len(rows))
    day = since.astimezone(ctx.tz).strftime("%d/%m/%Y")
    if not rows:
        return Reply(t("coop.none", since=day))
    name = f"activites-coordination-{ctx.now.astimezone(ctx.tz):%Y%m%d}"
    file = (Attachment(f"{name}.csv", "text/csv", to_csv(rows)) if as_csv
            else Attachment(f"{name}.xlsx", XLSX, to_xlsx(rows)))
    return Reply(t("coop.ready", count=len(rows), since=day), attachment=file)
