"""The API's routes: scoped tokens, reports (JSON, CSV) for the `reports` scope, aggregates for `stats`."""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations at run time.
import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from prometheus_client import generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.api import docs, errors
from bot.api.errors import error
from bot.api.params import commune, day, decode_cursor, encode_cursor, moment, plain_parameters
from bot.api.rows import as_item, csv_copy_stream, csv_stream
from bot.api.secrecy import table
from storage.coop_export import coordination_rows, to_csv, to_xlsx
from storage.models import OutboxMessage
from storage.report_stats import GROUPS, export_pages, grouped_counts, list_reports
from storage.reports import STATUSES, URGENCIES, Report, ReportFilter
from storage.territories import by_code, subtree_ids
from storage.themes import themes
from storage.tokens import ApiToken, find_valid

if TYPE_CHECKING:
    from bot.app import App

PUBLIC_STATUSES = tuple(s for s in STATUSES if s != "withdrawn")


def create_api(app: "App", *, small_cell_threshold: int = 3) -> FastAPI:
    api = FastAPI(title="relais — API de coordination", version="1", docs_url=None, redoc_url=None,
                  dependencies=[Depends(plain_parameters)],
                  description="Signalements du terrain, pour le service de coordination. Authentification : "
                              "`Authorization: Bearer <jeton>` (relais token create). Portées : `stats` (comptes "
                              "agrégés), `reports` (signalements ligne à ligne).")
    errors.install(api)
    docs.install(api)

    async def session() -> AsyncIterator[AsyncSession]:
        async with app.sessions() as s:
            yield s

    Session = Annotated[AsyncSession, Depends(session)]

    def token_with(scope: str, *also: str) -> Callable[..., Coroutine[Any, Any, ApiToken]]:
        """A dependency: a valid token holding `scope` (or one of `also`, wider scopes that include it)."""
        async def token(request: Request, s: Session) -> ApiToken:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise error(401, "jeton manquant : ajoutez l'en-tête Authorization: Bearer <jeton>")
            found = await find_valid(s, value.strip(), app.clock.now())
            if found is None:
                raise error(401, "jeton invalide, expiré ou révoqué")
            if not any(found.has_scope(wanted) for wanted in (scope, *also)):
                raise error(403, f"ce jeton n'a pas la portée « {scope} » (relais token create --scope {scope})")
            found.last_used_at = app.clock.now()
            await s.commit()
            return found
        return token

    async def scope(s: AsyncSession, tok: ApiToken, territory: str | None) -> list[int]:
        allowed = await subtree_ids(s, tok.territory_id)
        if territory is None:
            return allowed
        place = await by_code(s, territory)
        if place is None:
            raise error(404, f"territoire inconnu : {territory[:40]}")
        if place.id not in allowed:
            raise error(403, "ce territoire n'est pas couvert par votre jeton")
        return await subtree_ids(s, place.id)

    def checked(theme: str | None, status: str | None, urgency: str | None) -> None:
        if theme is not None and themes().problem(theme) is None:
            raise error(400, "theme : thème inconnu (voir le champ theme des réponses)")
        if status is not None and status not in PUBLIC_STATUSES:
            raise error(400, f"status : une valeur parmi {', '.join(PUBLIC_STATUSES)}")
        if urgency is not None and urgency not in URGENCIES:
            raise error(400, f"urgency : une valeur parmi {', '.join(URGENCIES)}")

    async def row_filter(s: Session, tok: Annotated[ApiToken, Depends(token_with("reports"))],
                         since: str | None = None, until: str | None = None, territory: str | None = None,
                         theme: str | None = None, commune_: Annotated[str | None, Query(alias="commune")] = None,
                         status: str | None = None, urgency: str | None = None) -> ReportFilter:
        checked(theme, status, urgency)
        return ReportFilter(await scope(s, tok, territory), (status,) if status else (), moment(since, "since"),
                            moment(until, "until"), theme, commune(commune_), urgency)

    async def stats_filter(s: Session, tok: Annotated[ApiToken, Depends(token_with("stats", "reports"))],
                           since: Annotated[str | None, Query(description="premier jour, AAAA-MM-JJ")] = None,
                           until: Annotated[str | None, Query(description="jour exclu, AAAA-MM-JJ")] = None,
                           territory: str | None = None, theme: str | None = None,
                           commune_: Annotated[str | None, Query(alias="commune")] = None,
                           status: str | None = None, urgency: str | None = None) -> ReportFilter:
        checked(theme, status, urgency)
        return ReportFilter(await scope(s, tok, territory), (status,) if status else (), day(since, "since"),
                            day(until, "until"), theme, commune(commune_), urgency)

    Rows = Annotated[ReportFilter, Depends(row_filter)]

    @api.get("/api/v1/reports", summary="Signalements (JSON, pagination par curseur) — portée reports")
    async def reports(s: Session, f: Rows, cursor: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        rows = await list_reports(s, f, after_id=decode_cursor(cursor), limit=limit)
        items = [as_item(report, code) for report, code in rows]
        last = rows[-1][0].id if len(rows) == limit else None
        return {"items": items, "next_cursor": encode_cursor(last) if last else None}

    @api.get("/api/v1/reports.csv", summary="Signalements (CSV UTF-8 avec BOM) — portée reports",
             response_class=PlainTextResponse)
    async def reports_csv(f: Rows, sep: Annotated[str, Query(pattern="^[,;]$")] = ",") -> Response:
        # Streamed from its own session: constant memory, whatever the number of reports. PostgreSQL writes the
        # lines itself (COPY, the same bytes): a million rows in seconds rather than a minute.
        body = (csv_copy_stream(app.sessions, f, sep) if app.engine.dialect.name == "postgresql"
                else csv_stream(export_pages(app.sessions, f), sep))
        return StreamingResponse(body,
                                 media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="signalements.csv"'})

    @api.get("/api/v1/stats", summary="Comptes groupés, petites cases masquées — portée stats")
    async def stats(s: Session, f: Annotated[ReportFilter, Depends(stats_filter)],
                    group_by: str = "theme") -> dict[str, Any]:
        groups = [g.strip() for g in group_by.split(",") if g.strip()]
        if not groups or any(g not in GROUPS for g in groups) or len(set(groups)) != len(groups):
            raise error(400, f"group_by : une ou plusieurs valeurs parmi {', '.join(GROUPS)}")
        rows = await grouped_counts(s, f, groups)
        return {"group_by": groups, "threshold": small_cell_threshold,
                "rows": table(groups, rows, small_cell_threshold)}

    @api.get("/api/v1/coordination.{fmt}", summary="Activités de coordination au format de la Coop (XLSX ou CSV) — "
             "portée coop")
    async def coordination(fmt: str, s: Session, tok: Annotated[ApiToken, Depends(token_with("coop"))],
                           since: str, until: str | None = None, territory: str | None = None) -> Response:
        if fmt not in ("xlsx", "csv"):
            raise error(404, "format : coordination.xlsx ou coordination.csv")
        start, end = day(since, "since"), day(until, "until") or app.clock.now()
        assert start is not None
        rows = await coordination_rows(s, await scope(s, tok, territory), start, end)
        media = ("text/csv; charset=utf-8" if fmt == "csv"
                 else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(to_csv(rows) if fmt == "csv" else to_xlsx(rows), media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="activites-coordination.{fmt}"'})

    @api.get("/healthz", summary="État de la base et de chaque messagerie")
    @api.head("/healthz", include_in_schema=False)  # load balancers and uptime probes often send HEAD
    async def healthz() -> JSONResponse:
        checks = {"database": await database_ok(app)}
        checks.update({name: t.healthy() for name, t in app.transports.items()})
        ok = all(checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503)

    @api.get("/metrics", summary="Métriques Prometheus", response_class=PlainTextResponse)
    async def metrics() -> Response:
        await refresh_gauges(app)
        return Response(generate_latest(app.metrics.registry), media_type="text/plain; version=0.0.4")

    return api


async def database_ok(app: "App") -> bool:
    try:
        async with app.sessions() as s:
            await s.execute(text("select 1"))
    except Exception:
        return False
    return True


async def refresh_gauges(app: "App") -> None:
    async with app.sessions() as s:
        app.metrics.reports.set((await s.execute(select(func.count(Report.id)))).scalar_one())
        pending = select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        depth, oldest = (await s.execute(pending)).one()
    app.metrics.outbox_depth.set(depth)
    app.metrics.outbox_age.set((app.clock.now() - oldest).total_seconds() if oldest else 0)


async def serve(app: "App", listen: str, stop: Awaitable[Any]) -> None:
    """Run uvicorn in the bot's own event loop until `stop` completes."""
    import uvicorn

    host, _, port = listen.rpartition(":")
    server = uvicorn.Server(uvicorn.Config(create_api(app), host=host or "127.0.0.1", port=int(port),
                                           log_level="warning", lifespan="off"))
    # The bot owns SIGTERM/SIGINT (a clean stop of every part): uvicorn must not take them over while serving.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    await stop
    server.should_exit = True
    await task
