"""Smoke tests of the real servers the suite starts itself: PostgreSQL and Synapse (with E2E)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import psycopg
import pytest
from nio import AsyncClient, LoginResponse, RoomMessageText

from tests.servers.nio_helpers import create_dm, join, make_client, send_text, wait_for_message
from tests.servers.postgres import PostgresServer, start_postgres
from tests.servers.synapse import SynapseServer

E2E_TIMEOUT = 20.0  # the first encrypted message waits for one-time keys and key sharing


def _user(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def test_postgres_select_and_template_database(postgres: PostgresServer) -> None:
    assert postgres.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    with psycopg.connect(postgres.dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    name = _user("tpl")
    url = postgres.create_database(name)
    assert url == postgres.url_for(name)
    with psycopg.connect(postgres.dsn_for(name)) as conn:
        conn.execute("create table t (x int)")
        conn.execute("insert into t values (42)")
    copy = postgres.create_database(name + "_copy", template=name)
    with psycopg.connect(copy.replace("postgresql+psycopg", "postgresql")) as conn:
        assert conn.execute("select x from t").fetchone() == (42,)
    postgres.drop_database(name + "_copy")


def test_postgres_stop_cleans_up(tmp_path: Path) -> None:
    server = start_postgres(tmp_path)
    print(f"\nsecond PostgreSQL ready in {server.start_seconds:.2f} s")
    run_dir, process = server.run_dir, server.process
    assert run_dir.is_dir()
    started = time.monotonic()
    server.stop()
    print(f"PostgreSQL stopped in {time.monotonic() - started:.2f} s")
    assert process.poll() is not None
    assert not run_dir.exists()
    server.stop()  # idempotent


async def _pair(synapse: SynapseServer, tmp_path: Path) -> tuple[AsyncClient, AsyncClient]:
    alice_id, alice_token = synapse.register(_user("alice"), "secret-a")
    bob_id, bob_token = synapse.register(_user("bob"), "secret-b")
    alice = await make_client(synapse.url, alice_id, alice_token, tmp_path / "alice")
    bob = await make_client(synapse.url, bob_id, bob_token, tmp_path / "bob")
    return alice, bob


async def _exchange(alice: AsyncClient, bob: AsyncClient, encrypted: bool) -> None:
    assert bob.user_id is not None
    room_id = await create_dm(alice, bob.user_id, encrypted=encrypted)
    await join(bob, room_id)
    started = time.monotonic()
    await send_text(alice, room_id, "ping")
    ping = await wait_for_message(bob, room_id, lambda e: e.body == "ping", timeout=E2E_TIMEOUT)
    first = time.monotonic() - started
    await send_text(bob, room_id, "pong")
    pong = await wait_for_message(alice, room_id, lambda e: e.body == "pong", timeout=E2E_TIMEOUT)
    print(f"\n{'encrypted' if encrypted else 'plain'} room: first message {first:.2f} s, "
          f"round trip total {time.monotonic() - started:.2f} s")
    for event, sender in ((ping, alice.user_id), (pong, bob.user_id)):
        assert isinstance(event, RoomMessageText)
        assert event.sender == sender
        assert event.decrypted is encrypted


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_synapse_two_users_exchange(
    synapse: SynapseServer, tmp_path: Path, encrypted: bool
) -> None:
    alice, bob = await _pair(synapse, tmp_path)
    try:
        assert alice.olm is not None and bob.olm is not None
        await _exchange(alice, bob, encrypted)
    finally:
        await alice.close()
        await bob.close()


async def test_synapse_restart_keeps_users(synapse: SynapseServer, tmp_path: Path) -> None:
    alice, bob = await _pair(synapse, tmp_path)
    try:
        assert bob.user_id is not None
        room_id = await create_dm(alice, bob.user_id, encrypted=True)
        await join(bob, room_id)
        await send_text(alice, room_id, "before")
        await wait_for_message(bob, room_id, lambda e: e.body == "before", timeout=E2E_TIMEOUT)
        old_pid = synapse.pid
        synapse.restart()
        print(f"\nSynapse restarted in {synapse.start_seconds:.2f} s")
        assert synapse.pid != old_pid
        await send_text(alice, room_id, "after")
        after = await wait_for_message(bob, room_id, lambda e: e.body == "after", timeout=E2E_TIMEOUT)
        assert isinstance(after, RoomMessageText) and after.decrypted
    finally:
        await alice.close()
        await bob.close()
    # the password survived too: a fresh login on a new device works
    fresh = AsyncClient(synapse.url, bob.user_id)
    try:
        assert isinstance(await fresh.login("secret-b"), LoginResponse)
    finally:
        await fresh.close()
