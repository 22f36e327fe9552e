"""Every API parameter fed random text and bytes (hypothesis, fixed budget): a 4xx in French, never a 5xx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import create_api
from bot.app import App
from storage.members import find_member
from storage.reports import NewReport, create_report
from storage.territories import by_code
from storage.tokens import create_token
from tests.chat import FakeTransport
from tests.conftest import joined

PARAMETERS = {
    "/api/v1/reports": ("since", "until", "territory", "theme", "commune", "status", "urgency", "cursor", "limit"),
    "/api/v1/reports.csv": ("since", "until", "territory", "theme", "commune", "status", "urgency", "sep"),
    "/api/v1/stats": ("since", "until", "territory", "theme", "commune", "status", "urgency", "group_by"),
}
TRICKY = st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "cjk5OTk5OTk5OTk5OQ",
                          "r99999999999", "-1", "0", "99999999999999999999", "1e9", "NaN", "35", "35-fougeres",
                          "2026-02-30", "2026-03-01T25:00", "theme,theme", "week,month", ";", "\x00", "%00", "",
                          "ⅷ", "²", "١٢٣", "a" * 3000])
RAW = st.binary(max_size=60).map(lambda b: quote_from_bytes(b))  # any bytes, percent-encoded in the query


async def _seed(app: App, transport: FakeTransport) -> str:
    await joined(app, transport, "referent", "u-fuzz-api", territory="35-fougeres")
    async with app.sessions() as session, session.begin():
        member = await find_member(session, "test", "u-fuzz-api")
        territory = await by_code(session, "35")
        assert member and territory
        for i in range(4):
            new = NewReport(member.id, member.territory_id, "demarche", "35243", "35", f"=cmd {i}", "seniors",
                            "normal", (), f"fz{i}")
            await create_report(session, new, app.clock.now() - timedelta(days=i))
        token = await create_token(session, name="fuzz", territory_id=territory.id, scopes=("stats", "reports"),
                                   now=app.clock.now(), expires_at=app.clock.now() + timedelta(days=1))
    return token.token


def test_every_api_parameter_takes_any_text_and_bytes(app: App, transport: FakeTransport,
                                                      run_async: Callable[[Any], Any]) -> None:
    token = run_async(_seed(app, transport))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_api(app)), base_url="http://relais.test",
                               headers={"Authorization": f"Bearer {token}"})
    seen: dict[int, int] = {}

    async def call(path: str, name: str, value: str, raw: bool) -> None:
        url = f"{path}?{name}={value}" if raw else httpx.URL(path, params={name: value})
        answer = await client.get(url)
        seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
        assert answer.status_code < 500, (path, name, value, answer.text)
        if answer.status_code >= 400:
            assert set(answer.json()) == {"error"} and answer.json()["error"], answer.text

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.sampled_from([(p, n) for p, names in PARAMETERS.items() for n in names]),
           st.one_of(st.text(max_size=80), TRICKY, RAW.map(lambda v: "\x01RAW" + v)))
    def check(target: tuple[str, str], value: str) -> None:
        raw = value.startswith("\x01RAW")
        run_async(call(*target, value.removeprefix("\x01RAW"), raw))

    started = datetime.now()  # noqa: DTZ005  (printed, never asserted)
    check()
    run_async(client.aclose())
    print(f"\nAPI fuzz: {sum(seen.values())} requests, statuses {dict(sorted(seen.items()))}, "
          f"{(datetime.now() - started).total_seconds():.1f} s")  # noqa: DTZ005
