"""Several processes on one PostgreSQL, the documented way to grow: three `relais run` in webhook mode behind a load
balancer (the fake Bot API), 300 updates spread across them; then the leader is killed and another takes over."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.events import Address, Reply
from bot.outbox import enqueue
from storage.db import make_engine, make_sessionmaker
from storage.meetings import NewMeeting, create_meeting
from storage.members import create_invitation
from storage.models import OutboxMessage
from storage.territories import by_code
from tests.fakes.relais_cluster import Cluster
from tests.fakes.telegram_api import FakeTelegram, FakeUser, SentMessage
from tests.servers.postgres import PostgresServer

PEOPLE = 30
WAIT = 120.0  # generous: three processes and PostgreSQL on a busy 2-core machine
# One person's scripted flow, ten updates: (say or press, what, a words of the answer that ends the step).
FLOW = (
    ("say", "/start {code}", "Bienvenue"),
    ("say", "/nom", "Quel nom"),
    ("say", "Camille {n}, CCAS de Romagné", "C'est bon ?"),
    ("press", "Confirmer", "C'est fait"),
    ("say", "/signaler", "Quel type de problème"),
    ("press", "Démarche en ligne", "Dans quelle commune"),
    ("press", "Romagné", "Que se passe-t-il"),
    ("say", "/annuler", "C'est annulé"),
    ("say", "/annuler", "Rien en cours"),
    ("say", "/aide", "Ce que vous pouvez faire"),
)


@pytest.fixture
async def cluster(postgres: PostgresServer, tmp_path: Path) -> AsyncIterator[Cluster]:
    name = f"relais_cluster_{tmp_path.name[-12:].lower().replace('-', '_')}"
    url = postgres.create_database(name)
    async with FakeTelegram() as fake:
        group = Cluster(fake, url, postgres.dsn_for(name), tmp_path / "cluster", size=3,
                        extra_env={"RELAIS_RATE_LIMIT_PER_MINUTE": "1000"})
        await group.prepare()
        try:
            await group.start()
            yield group
        finally:
            await group.stop()
        assert not fake.errors


async def test_three_processes_answer_each_update_once_in_order_and_a_new_leader_takes_over(cluster: Cluster) -> None:
    fake, engine = cluster.fake, make_engine(cluster.database_url)
    sessions, clock = make_sessionmaker(engine), SystemClock()
    try:
        async with sessions() as session, session.begin():
            place = await by_code(session, "35-fougeres")
            assert place is not None
            codes = [(await create_invitation(session, role="referent", territory_id=place.id, now=clock.now())).code
                     for _ in range(PEOPLE)]
        people = [fake.user(5_100_000 + n, f"Personne{n}") for n in range(PEOPLE)]

        await asyncio.wait_for(asyncio.gather(*(scripted(person, code, n)
                                                for n, (person, code) in enumerate(zip(people, codes, strict=True)))),
                               WAIT * 3)

        # 300 updates, spread over the three processes, each person's among several of them.
        assert len(fake.delivered_to) == PEOPLE * len(FLOW)
        assert set(Counter(fake.delivered_to.values())) == {0, 1, 2}
        for person in people:
            check_answers(fake.sent_to(person.chat_id))
        assert fake.unanswered_callbacks() == []

        # kill -9 the leader: another process takes the scheduler and the outbox rounds.
        leader = await cluster.wait_leader()
        cluster.kill(leader)
        async with sessions() as session, session.begin():  # queued as the API or the CLI would: only rounds send it
            await enqueue(session, "multiprocess:after-the-leader", Address("telegram", str(people[0].chat_id),
                                                                             str(people[0].id)),
                          Reply("Message mis en file après la chute du meneur"), now=clock.now())
            starts = clock.now() + timedelta(hours=2, seconds=5)  # its H-2 reminder is due in 5 s
            await create_meeting(session, NewMeeting(place.id, "Réunion après la bascule", "Médiathèque", starts,
                                                     None, None, "multiprocess"), clock.now())
        successor = await cluster.wait_leader(WAIT, other_than=leader)
        await fake.wait_for(lambda: any("chute du meneur" in m.plain_text for m in fake.sent_to(people[0].chat_id)),
                            WAIT)
        await fake.wait_for(lambda: all(reminded(fake, p) for p in people), WAIT)
        print(f"\nleader {leader.name} killed; {successor.name} took over the outbox and the scheduler")
        for person in people:
            assert reminded(fake, person) == 1, "one reminder each, from the new leader"
        assert sum("chute du meneur" in m.plain_text for m in fake.sent_to(people[0].chat_id)) == 1
        async with sessions() as session:
            pending = (await session.execute(select(OutboxMessage.key).where(OutboxMessage.sent_at.is_(None),
                                                                            OutboxMessage.failed_at.is_(None))))
            assert [k for k in pending.scalars() if not k.startswith("reminder:")] == []
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        await engine.dispose()


async def scripted(person: FakeUser, code: str, n: int) -> None:
    """The person's ten steps, each after the answer to the one before (as people do)."""
    fake = person.fake
    for kind, what, expect in FLOW:
        before = fake.sent_count(person.chat_id)
        if kind == "say":
            await person.say(what.format(code=code.replace("-", ""), n=n))
        else:
            offers = [(m, label) for m in fake.sent_to(person.chat_id) for label in m.labels if label.startswith(what)]
            await person.press(*offers[-1])
        await fake.wait_for(answered(person, before, expect), WAIT)


def answered(person: FakeUser, before: int, expect: str) -> Callable[[], bool]:
    return lambda: any(expect in m.plain_text for m in person.fake.sent_to(person.chat_id)[before:])


def check_answers(sent: list[SentMessage]) -> None:
    """Every step's answer, in the order of the steps, none twice."""
    texts = [m.plain_text for m in sent]
    assert len(texts) == len(set(texts)), f"an answer came twice: {texts}"
    position = -1
    for _, _, expect in FLOW:
        found = [i for i, text in enumerate(texts) if expect in text and i > position]
        assert found, f"« {expect} » missing or out of order: {texts}"
        position = found[0]


def reminded(fake: FakeTelegram, person: FakeUser) -> int:
    return sum("Réunion après la bascule" in m.plain_text for m in fake.sent_to(person.chat_id))
