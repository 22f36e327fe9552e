"""HTTP API for the coordinating service (reports as JSON/CSV, grouped stats), plus /healthz and /metrics."""

# No `from __future__ import annotations` here: FastAPI reads the dependency annotations at run time.
import asyncio
import base64
import contextlib
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import generate_latest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.communes import communes
from storage.models import OutboxMessage
from storage.report_stats import GROUPS, ApiFilter, grouped_counts, list_reports
from storage.reports import STATUSES, URGENCIES, Report
from storage.territories import by_code, subtree_ids
from storage.themes import themes
from storage.tokens import ApiToken, find_valid

if TYPE_CHECKING:
    from bot.app import App

CSV_FIELDS = ("reference", "created_at", "territory", "theme", "theme_label", "commune_insee", "commune",
              "departement", "public", "urgency", "status", "acknowledged_at", "resolved_at", "description")


class ApiError(HTTPException):
    pass


def _error(status: int, message: str) -> ApiError:
    return ApiError(status_code=status, detail=message)


def create_api(app: "App", *, small_cell_threshold: int = 3) -> FastAPI:
    api = FastAPI(title="relais — API de coordination", version="1",
                  description="Signalements du terrain agrégés, pour le service de coordination. "
                              "Authentification : `Authorization: Bearer <jeton>` (relais token create).")

    @api.exception_handler(HTTPException)
    async def json_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers={"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None)

    async def session() -> AsyncIterator[AsyncSession]:
        async with app.sessions() as s:
            yield s

    Session = Annotated[AsyncSession, Depends(session)]

    async def token(request: Request, s: Session) -> ApiToken:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise _error(401, "jeton manquant : ajoutez l'en-tête Authorization: Bearer <jeton>")
        found = await find_valid(s, value.strip(), app.clock.now())
        if found is None:
            raise _error(401, "jeton invalide, expiré ou révoqué")
        if not found.has_scope("reports:read"):
            raise _error(403, "ce jeton n'a pas la portée reports:read")
        found.last_used_at = app.clock.now()
        await s.commit()
        return found

    Token = Annotated[ApiToken, Depends(token)]

    async def scope(s: AsyncSession, tok: ApiToken, territory: str | None) -> list[int]:
        allowed = await subtree_ids(s, tok.territory_id)
        if territory is None:
            return allowed
        place = await by_code(s, territory)
        if place is None:
            raise _error(404, f"territoire inconnu : {territory}")
        if place.id not in allowed:
            raise _error(403, "ce territoire n'est pas couvert par votre jeton")
        return await subtree_ids(s, place.id)

    def moment(value: str | None, name: str) -> datetime | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if "T" in value else datetime.combine(date.fromisoformat(value),
                                                                                       time())
        except ValueError:
            raise _error(400, f"{name} : date attendue au format AAAA-MM-JJ ou ISO 8601") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    async def filters(s: Session, tok: Token, since: str | None = None, until: str | None = None,
                      territory: str | None = None, theme: str | None = None, commune: str | None = None,
                      status: str | None = None, urgency: str | None = None) -> ApiFilter:
        if status is not None and status not in STATUSES:
            raise _error(400, f"status : une valeur parmi {', '.join(STATUSES)}")
        if urgency is not None and urgency not in URGENCIES:
            raise _error(400, f"urgency : une valeur parmi {', '.join(URGENCIES)}")
        return ApiFilter(await scope(s, tok, territory), moment(since, "since"), moment(until, "until"), theme,
                         commune, status, urgency)

    Filter = Annotated[ApiFilter, Depends(filters)]

    @api.get("/api/v1/reports", summary="Signalements (JSON, pagination par curseur)")
    async def reports(s: Session, f: Filter, cursor: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        rows = await list_reports(s, f, after_id=decode_cursor(cursor), limit=limit)
        items = [as_item(report, code) for report, code in rows]
        last = rows[-1][0].id if len(rows) == limit else None
        return {"items": items, "next_cursor": encode_cursor(last) if last else None}

    @api.get("/api/v1/reports.csv", summary="Signalements (CSV UTF-8 avec BOM)", response_class=PlainTextResponse)
    async def reports_csv(s: Session, f: Filter, sep: Annotated[str, Query(pattern="^[,;]$")] = ",") -> Response:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, delimiter=sep)
        writer.writeheader()
        after = 0
        while rows := await list_reports(s, f, after_id=after, limit=1000):
            writer.writerows(as_item(report, code) for report, code in rows)
            after = rows[-1][0].id
        return Response("\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="signalements.csv"'})

    @api.get("/api/v1/stats", summary="Comptes groupés, petites cases masquées")
    async def stats(s: Session, f: Filter, group_by: str = "theme") -> dict[str, Any]:
        groups = [g.strip() for g in group_by.split(",") if g.strip()]
        if not groups or any(g not in GROUPS for g in groups) or len(set(groups)) != len(groups):
            raise _error(400, f"group_by : une ou plusieurs valeurs parmi {', '.join(GROUPS)}")
        rows = await grouped_counts(s, f, groups)
        return {"group_by": groups, "threshold": small_cell_threshold,
                "rows": [cell(groups, row, small_cell_threshold) for row in rows]}

    # --- Coop de la médiation numérique export: a scope of its own (`coop`), kept apart from reports:read ---
    async def coop_token(request: Request, s: Session) -> ApiToken:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        found = await find_valid(s, value.strip(), app.clock.now()) if scheme.lower() == "bearer" and value else None
        if found is None:
            raise _error(401, "jeton manquant, invalide, expiré ou révoqué")
        if not found.has_scope("coop"):
            raise _error(403, "ce jeton n'a pas la portée coop")
        found.last_used_at = app.clock.now()
        await s.commit()
        return found

    @api.get("/api/v1/coordination.{fmt}", summary="Activités de coordination au format de la Coop (XLSX ou CSV)")
    async def coordination(fmt: str, s: Session, tok: Annotated[ApiToken, Depends(coop_token)],
                           since: str, until: str | None = None, territory: str | None = None) -> Response:
        from storage.coop_export import coordination_rows, to_csv, to_xlsx

        if fmt not in ("xlsx", "csv"):
            raise _error(404, "format : coordination.xlsx ou coordination.csv")
        start, end = moment(since, "since"), moment(until, "until") or app.clock.now()
        assert start is not None
        rows = await coordination_rows(s, await scope(s, tok, territory), start, end)
        media = ("text/csv; charset=utf-8" if fmt == "csv"
                 else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(to_csv(rows) if fmt == "csv" else to_xlsx(rows), media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="activites-coordination.{fmt}"'})

    @api.get("/healthz", summary="État de la base et de chaque messagerie")
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


def cell(groups: list[str], row: tuple[Any, ...], threshold: int) -> dict[str, Any]:
    values = dict(zip(groups, row[:-1], strict=True))
    count = int(row[-1])
    if count < threshold:
        return {**values, "count": None, "suppressed": True}
    return {**values, "count": count}


def as_item(report: Report, territory_code: str) -> dict[str, Any]:
    theme = themes().problem(report.theme)
    commune = communes().get(report.commune_insee)
    stamp: Callable[[datetime | None], str | None] = lambda d: d.isoformat() if d else None  # noqa: E731
    return {"reference": report.reference, "created_at": stamp(report.created_at), "territory": territory_code,
            "theme": report.theme, "theme_label": theme.label if theme else report.theme,
            "commune_insee": report.commune_insee, "commune": commune.name if commune else "",
            "departement": report.departement, "public": report.public, "urgency": report.urgency,
            "status": report.status, "acknowledged_at": stamp(report.acknowledged_at),
            "resolved_at": stamp(report.resolved_at), "description": report.description}


def encode_cursor(report_id: int) -> str:
    return base64.urlsafe_b64encode(f"r{report_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.removeprefix("r"))
    except ValueError:
        raise _error(400, "curseur invalide") from None


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
