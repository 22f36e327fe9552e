"""The Matrix adapter against a real Synapse: onboarding, flows, encrypted rooms, restarts, invitations."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nio import (
    AsyncClient,
    EncryptionError,
    MatrixRoom,
    MegolmEvent,
    RoomGetStateEventResponse,
    RoomMemberEvent,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendError,
)
from nio.crypto.attachments import decrypt_attachment
from signedjson.key import decode_verify_key_base64
from signedjson.sign import SignatureVerifyException, verify_signed_json
from sqlalchemy import func, select

from bot.adapters.matrix.adapter import MatrixTransport
from bot.adapters.matrix.content import html_body, notice, png_size
from bot.adapters.matrix.inbound import after_own_arrival, to_event
from bot.adapters.matrix.outbound import refusal
from bot.adapters.matrix.rooms import DirectRooms
from bot.adapters.matrix.session import MatrixConfig, server_allowed
from bot.adapters.matrix.undecrypted import Undecrypted
from bot.app import feature_routers
from bot.events import Address, Attachment, Choice, Delivery, Event, FileReceived, Reply, TextReceived
from bot.outbox import Outgoing, enqueue, enqueue_many
from bot.transport import Receipt
from storage.models import InboundEvent, OutboxMessage
from storage.reports import Report
from tests.adapters import MATRIX_WAIT, unique_name
from tests.adapters import MatrixBot as Bot
from tests.adapters import MatrixPerson as Person
from tests.conftest import dump_tables
from tests.servers.nio_helpers import (
    create_dm,
    create_room,
    join,
    make_client,
    send_content,
    sync_until,
    wait_for_invitation,
)
from tests.servers.synapse import SynapseServer, start_synapse

ROUTERS = feature_routers()  # every feature, as `relais run` has them
WAIT = MATRIX_WAIT


@pytest.fixture
async def bots(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Bot]]]:
    started: list[Bot] = []

    async def make(*, start: bool = True, allowed: str = "", by_token: bool = False) -> Bot:
        bot = Bot(synapse, tmp_path / f"bot{len(started)}", allowed=allowed, by_token=by_token, routers=ROUTERS)
        started.append(bot)
        if start:
            await bot.start()
        return bot

    yield make
    for bot in started:
        await bot.stop()


@pytest.fixture
async def people(synapse: SynapseServer, tmp_path: Path) -> AsyncIterator[Callable[[Bot], Awaitable[Person]]]:
    clients: list[AsyncClient] = []

    async def make(bot: Bot) -> Person:
        user_id, token = synapse.register(unique_name("camille"), "person-password")
        client = await make_client(synapse.url, user_id, token, tmp_path / user_id.strip("@").split(":")[0])
        clients.append(client)
        return Person(client, bot.user_id, token)

    yield make
    for client in clients:
        await client.close()


async def _onboard(bot: Bot, person: Person, *, role: str = "referent", prefix: str = "/") -> None:
    await person.ask(f"{prefix}start {await bot.invitation(role)}", "Bienvenue")


# --- against Synapse -------------------------------------------------------------------------------------


async def test_referent_joins_by_dm_and_runs_a_flow(bots: Callable[..., Awaitable[Bot]],
                                                    people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    camille = await people(bot)
    await camille.open_dm(encrypted=True)
    await _onboard(bot, camille)
    help_ = await camille.ask("!aide", "Ce que vous pouvez faire")
    assert help_.source["content"]["msgtype"] == "m.notice" and help_.decrypted
    assert "<b>Ce que vous pouvez faire :</b>" in help_.source["content"]["formatted_body"]
    assert "!nom" in help_.source["content"]["body"]
    await camille.ask("!nom", "Quel nom")
    confirm = await camille.ask("Camille Martin, CCAS de Romagné", "Votre nom sera")
    assert "1. Confirmer\n2. Modifier\n3. Annuler" in confirm.source["content"]["body"]
    assert "<ol><li>Confirmer</li><li>Modifier</li><li>Annuler</li></ol>" in confirm.source["content"]["formatted_body"]
    await camille.ask("1", "C'est fait")
    profile = await camille.ask("/moi", "Votre profil")
    assert "Camille Martin, CCAS de Romagné" in profile.source["content"]["body"]
    assert "Matrix / Tchap" in profile.source["content"]["body"]


async def test_report_export_and_forget_in_an_encrypted_dm(bots: Callable[..., Awaitable[Bot]],
                                                            people: Callable[[Bot], Awaitable[Person]],
                                                            synapse: SynapseServer) -> None:
    bot = await bots()
    camille = await people(bot)
    await camille.open_dm(encrypted=True)
    await _onboard(bot, camille, prefix="!")
    await camille.ask("!signaler", "Quel type de problème")
    await camille.ask("Démarche en ligne", "Dans quelle commune")
    await camille.ask("romagne", "Que se passe-t-il")
    masked = await camille.ask("Mme Durand (06 12 34 56 78) ne peut plus se connecter à Ameli.", "j'ai masqué")
    assert "téléphone" in masked.source["content"]["body"]
    await camille.hears("Quel public")
    await camille.ask("1", "Est-ce urgent")
    summary = await camille.ask("2", "Votre signalement")
    assert "Romagné (35)" in summary.source["content"]["body"] and "06 12" not in summary.source["content"]["body"]
    saved = await camille.ask("Envoyer", "Merci")
    assert "S-" in saved.source["content"]["body"] and await bot.count(Report) == 1
    export = await camille.ask("!mes_donnees", "mes-donnees-relais.json")
    data = json.loads(await _download(synapse, camille.token, export.source["content"]["file"]))
    assert data["messageries"][0]["identifiant"] == camille.client.user_id and data["signalements"]
    await camille.ask("!oublier", "Supprimer votre compte")
    await camille.ask("1", "votre compte est supprimé")
    assert bot.app is not None
    dump = await dump_tables(bot.app)
    assert camille.client.user_id not in dump and camille.room_id not in dump
    assert await bot.count(Report) == 1


async def test_group_command_in_an_encrypted_coordination_room(
        synapse: SynapseServer, bots: Callable[..., Awaitable[Bot]],
        people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    claire, karim = await people(bot), await people(bot)
    await claire.open_dm(encrypted=False)
    await _onboard(bot, claire, role="coordinator", prefix="!")
    assert karim.client.user_id is not None
    room_id = await create_dm(claire.client, bot.user_id, encrypted=True)  # a private, encrypted room
    await claire.client.room_invite(room_id, karim.client.user_id)
    await sync_until(karim.client, lambda: room_id in karim.client.invited_rooms, WAIT, what="invited")
    await karim.client.join(room_id)
    await claire.sees_bot_join(room_id)
    await sync_until(claire.client, lambda: claire.client.rooms[room_id].joined_count == 3, WAIT, what="3 members")
    answer = await claire.ask("!aide", "Commandes du groupe", room_id)
    assert answer.decrypted and answer.source["content"]["msgtype"] == "m.notice"
    assert bot.transport is not None
    sent = await bot.transport.send(Delivery(Address("matrix", room_id, "", True), Reply(
        "Export", attachment=Attachment("signalements.csv", "text/csv", b"commune;theme\n35243;sante\n"))))
    assert sent.startswith("$")
    await claire.hears("Export", room_id)
    csv = await claire.hears("signalements.csv", room_id)
    content = csv.source["content"]
    assert content["msgtype"] == "m.file" and "file" in content and "url" not in content
    assert await _download(synapse, claire.token, content["file"]) == b"commune;theme\n35243;sante\n"


async def _download(synapse: SynapseServer, token: str, file: dict[str, object]) -> bytes:
    """Fetch an encrypted attachment (authenticated media API) and decrypt it as a client would."""
    url = str(file["url"]).removeprefix("mxc://")
    async with aiohttp.ClientSession() as http, http.get(
            f"{synapse.url}/_matrix/client/v1/media/download/{url}",
            headers={"Authorization": f"Bearer {token}"}) as response:
        ciphertext = await response.read()
    key, hashes = file["key"], file["hashes"]
    assert isinstance(key, dict) and isinstance(hashes, dict)
    return bytes(decrypt_attachment(ciphertext, key["k"], hashes["sha256"], str(file["iv"])))


async def test_restart_mid_flow_handles_what_was_said_meanwhile_once(
        bots: Callable[..., Awaitable[Bot]], people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    dominique = await people(bot)
    await dominique.open_dm(encrypted=True)
    await _onboard(bot, dominique)
    await dominique.ask("!nom", "Quel nom")
    assert bot.transport is not None and bot.transport.client is not None
    device = bot.transport.client.device_id
    await bot.stop()
    for text in ("Dominique Leroy", "1", "!moi"):  # more than the timeline limit below: a gap to fill
        await dominique.say(text)
    await bot.start(timeline_limit=2)
    assert bot.transport is not None and bot.transport.client is not None
    assert bot.transport.client.device_id == device  # same device, same keys: the old sessions still decrypt
    credentials = bot.settings.data_path / "matrix" / "credentials.json"
    assert credentials.stat().st_mode & 0o077 == 0
    await dominique.hears("Votre nom sera")
    await dominique.hears("C'est fait")
    assert "Dominique Leroy" in (await dominique.hears("Votre profil")).source["content"]["body"]
    await dominique.settle()
    bodies = [e.source["content"]["body"] for e in dominique.from_bot()]
    assert len(bodies) == len(set(bodies)), bodies  # nothing answered twice
    assert await bot.count(InboundEvent) == 5  # /start, !nom, the name, 1, !moi: each handled once


async def test_homeserver_restart_is_survived(synapse: SynapseServer, bots: Callable[..., Awaitable[Bot]],
                                             people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    yann = await people(bot)
    await yann.open_dm(encrypted=True)
    await _onboard(bot, yann)
    await asyncio.to_thread(synapse.restart)
    await yann.ask("!moi", "Votre profil")
    await yann.ask("!aide", "Ce que vous pouvez faire")
    await yann.settle()
    bodies = [e.source["content"]["body"] for e in yann.from_bot()]
    assert len(bodies) == len(set(bodies)), bodies
    assert bot.transport is not None and bot.transport.healthy()
    assert await bot.count(InboundEvent) == 3


async def test_invitation_from_a_server_not_allowed_is_declined(
        bots: Callable[..., Awaitable[Bot]], people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots(allowed="*.tchap.gouv.fr")
    stranger = await people(bot)
    room_id = await create_dm(stranger.client, bot.user_id, encrypted=False)
    deadline = time.monotonic() + WAIT
    membership = "invite"
    while membership == "invite" and time.monotonic() < deadline:
        state = await stranger.client.room_get_state_event(room_id, "m.room.member", bot.user_id)
        assert isinstance(state, RoomGetStateEventResponse)
        membership = state.content["membership"]
        await asyncio.sleep(0.1)
    assert membership == "leave"
    assert bot.transport is not None and bot.transport.client is not None
    assert room_id not in bot.transport.client.rooms


async def test_backlog_is_ignored_at_first_start(synapse: SynapseServer, bots: Callable[..., Awaitable[Bot]],
                                                 people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots(start=False)
    louise = await people(bot)
    louise.room_id = await create_dm(louise.client, bot.user_id, encrypted=False)
    before = AsyncClient(synapse.url, bot.user_id)  # the account was in the room before relais ever ran
    before.access_token, before.user_id = bot.token, bot.user_id
    await before.join(louise.room_id)
    await before.close()
    await louise.say("!aide")
    await bot.start()
    await louise.ask("!moi", "Pour rejoindre le réseau")
    await louise.settle()
    assert len(louise.from_bot()) == 1  # the !aide of before the first start got no answer


async def test_login_with_an_access_token_only(bots: Callable[..., Awaitable[Bot]],
                                               people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots(by_token=True)
    assert not bot.settings.matrix_password
    sacha = await people(bot)
    await sacha.open_dm(encrypted=True)
    await sacha.ask("bonjour", "code d'invitation")


async def _notifications(synapse: SynapseServer, token: str) -> dict[str, bool]:
    """Synapse's evaluation of the person's push rules: event id -> highlighted, for what notified them."""
    async with aiohttp.ClientSession() as http, http.get(
            f"{synapse.url}/_matrix/client/v3/notifications", headers={"Authorization": f"Bearer {token}"}) as got:
        body = await got.json()
    return {n["event"]["event_id"]: any(isinstance(a, dict) and a.get("set_tweak") == "highlight" and
                                        a.get("value", True) for a in n["actions"]) for n in body["notifications"]}


async def _queue(bot: Bot, address: Address, reply: Reply, key: str) -> None:
    """What a reminder does: a row in the outbox, sent by the worker."""
    assert bot.app is not None
    async with bot.app.sessions() as session, session.begin():
        await enqueue(session, key, address, reply, now=bot.app.clock.now())
    bot.app.outbox.wake()


async def test_a_reminder_rings_and_an_ordinary_answer_does_not(
        synapse: SynapseServer, bots: Callable[..., Awaitable[Bot]],
        people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    camille = await people(bot)
    await camille.open_dm(encrypted=False)  # unencrypted: the homeserver itself can evaluate the push rules
    await _onboard(bot, camille)
    answer = await camille.ask("!aide", "Ce que vous pouvez faire")
    me = camille.client.user_id
    await _queue(bot, Address("matrix", camille.room_id, me), Reply("Rappel : réunion demain à 14 h",
                                                                    notify=True), "reminder:test:1")
    reminder = await camille.hears("Rappel : réunion demain")
    assert answer.source["content"]["msgtype"] == "m.notice"
    assert reminder.source["content"]["msgtype"] == "m.text"
    rang = await _notifications(synapse, camille.token)
    assert reminder.event_id in rang and answer.event_id not in rang


async def test_in_a_group_the_person_is_mentioned_and_asked_to_answer_the_message(
        synapse: SynapseServer, bots: Callable[..., Awaitable[Bot]],
        people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    claire, karim = await people(bot), await people(bot)
    room_id = await create_room(claire.client, [bot.user_id, karim.client.user_id], encrypted=False)
    await join(karim.client, room_id)
    await claire.sees_bot_join(room_id)
    assert bot.transport is not None and karim.client.user_id
    group = Address("matrix", room_id, karim.client.user_id, True)
    await bot.transport.send(Delivery(group, Reply("Quel est le nom de la structure ?", expects_answer=True)))
    await bot.transport.send(Delivery(group, Reply("Votre signalement attend une réponse.", notify=True)))
    question = await karim.hears("Quel est le nom", room_id)
    alert = await karim.hears("attend une réponse", room_id)
    for event in (question, alert):
        content = event.source["content"]
        assert content["msgtype"] == "m.text" and content["m.mentions"] == {"user_ids": [karim.client.user_id]}
    assert "répondez à ce message" in question.source["content"]["body"].lower()
    rang = await _notifications(synapse, karim.token)
    assert rang.get(question.event_id) is True and rang.get(alert.event_id) is True  # highlighted: a mention


async def test_a_command_in_a_thread_is_answered_in_the_thread(
        bots: Callable[..., Awaitable[Bot]], people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    claire, karim = await people(bot), await people(bot)
    room_id = await create_room(claire.client, [bot.user_id, karim.client.user_id], encrypted=True)
    await join(karim.client, room_id)
    await claire.sees_bot_join(room_id)
    root = await send_content(claire.client, room_id, {"msgtype": "m.text", "body": "Réunion de jeudi"}, WAIT)
    await send_content(claire.client, room_id, {"msgtype": "m.text", "body": "!start", "m.relates_to": {
        "rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": root}}},
        WAIT)
    answer = await claire.hears("écrivez-moi en message privé", room_id)
    assert answer.source["content"]["m.relates_to"]["rel_type"] == "m.thread"
    assert answer.source["content"]["m.relates_to"]["event_id"] == root


async def test_private_messages_follow_the_person_when_the_dm_is_left_or_shared(
        bots: Callable[..., Awaitable[Bot]], people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    camille, karim = await people(bot), await people(bot)
    first = await camille.open_dm(encrypted=False)
    await _onboard(bot, camille)
    me = camille.client.user_id
    assert me and karim.client.user_id and bot.transport is not None
    # A colleague is invited into the DM: it is a shared room now, private content goes elsewhere.
    await camille.client.room_invite(first, karim.client.user_id)
    await join(karim.client, first)
    await sync_until(camille.client, lambda: camille.client.rooms[first].joined_count == 3, WAIT, what="3 members")
    await _queue(bot, Address("matrix", first, me), Reply("Rappel : votre signalement S-12", notify=True), "r:1")
    second = await wait_for_invitation(camille.client, WAIT)
    await join(camille.client, second)
    assert (await camille.hears("votre signalement S-12", second)).source["content"]["msgtype"] == "m.text"
    # Camille leaves that one too: the bot, alone, leaves it, and the next reminder opens a third room.
    await camille.client.room_leave(second)
    client = bot.transport.client
    assert client is not None
    deadline = time.monotonic() + WAIT
    while second in client.rooms and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert second not in client.rooms  # left where it was alone
    await _queue(bot, Address("matrix", first, me), Reply("Rappel : réunion demain", notify=True), "r:2")
    third = await wait_for_invitation(camille.client, WAIT)
    await join(camille.client, third)
    await camille.hears("Rappel : réunion demain", third)
    await karim.settle(1.0)
    assert not [e for r, e in karim.heard if "Rappel" in getattr(e, "body", "")]  # nothing private in the group
    camille.room_id = third
    await camille.ask("!moi", "Votre profil")  # the new room is private: the profile is shown there


async def test_start_in_a_two_person_room_that_is_not_a_dm_is_not_taken_as_private(
        bots: Callable[..., Awaitable[Bot]], people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    camille = await people(bot)
    camille.room_id = await create_room(camille.client, [bot.user_id], encrypted=False)  # no is_direct
    await camille.sees_bot_join(camille.room_id)
    await camille.ask(f"!start {await bot.invitation()}", "écrivez-moi en message privé")


@pytest.fixture(scope="module")
def limited_synapse() -> Iterator[SynapseServer]:
    """A Synapse with its message rate limit on, in its default shape: a burst (5), then a steady rate (1/s)."""
    server = start_synapse(message_limit={"per_second": 1, "burst_count": 5})
    yield server
    server.stop()


async def test_a_rate_limited_burst_arrives_whole_in_order_in_one_encryption_session(
        limited_synapse: SynapseServer, tmp_path: Path) -> None:
    bot = Bot(limited_synapse, tmp_path / "bot")
    await bot.start()
    user_id, token = limited_synapse.register(unique_name("camille"), "person-password")
    client = await make_client(limited_synapse.url, user_id, token, tmp_path / "camille")
    try:
        camille = Person(client, bot.user_id, token)
        await camille.open_dm(encrypted=True)
        await _onboard(bot, camille)
        assert bot.app is not None
        to_camille = Address("matrix", camille.room_id, user_id)
        async with bot.app.sessions() as session, session.begin():
            await enqueue_many(session, [Outgoing(f"r:{i}", to_camille, Reply(f"Rappel {i:02d}")) for i in range(15)],
                               now=bot.app.clock.now())
        bot.app.outbox.wake()
        await camille.hears("Rappel 14", timeout=90)  # 15 messages at 1/s after a burst of 5, on a busy machine
        reminders = [e for e in camille.from_bot() if getattr(e, "body", "").startswith("Rappel ")]
        assert [e.body for e in reminders] == [f"Rappel {i:02d}" for i in range(15)]  # type: ignore[attr-defined]
        assert len({e.session_id for e in reminders}) == 1  # a 429 kept the Megolm session
        async with bot.app.sessions() as session:
            refused = (await session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.last_error.contains("rate limited")))).scalar_one()
        assert refused >= 1  # Synapse did refuse some (so the session was put to the test)
    finally:
        await bot.stop()
        await client.close()


async def test_files_are_fetched_and_decrypted_up_to_the_size_limit(
        synapse: SynapseServer, people: Callable[[Bot], Awaitable[Person]], tmp_path: Path) -> None:
    bot = Bot(synapse, tmp_path / "bot")
    transport = MatrixTransport(MatrixConfig.from_settings(bot.settings))
    heard: list[Event] = []

    async def sink(event: Event) -> Receipt:
        heard.append(event)
        return Receipt()

    await transport.start(sink)
    try:
        await asyncio.wait_for(transport.ready.wait(), WAIT)
        camille = await people(bot)
        await camille.open_dm(encrypted=True)
        photo = _png(4, 3)
        for name, data in (("panne.png", photo), ("gros.png", photo * 4)):
            upload, keys = await camille.client.upload(io.BytesIO(data), content_type="image/png", filename=name,
                                                       encrypt=True, filesize=len(data))
            assert keys is not None
            await send_content(camille.client, camille.room_id, {
                "msgtype": "m.image", "body": "La borne est en panne", "filename": name,
                "info": {"mimetype": "image/png", "size": len(data)},
                "file": {**keys, "url": upload.content_uri}}, WAIT)
            transport.max_file_bytes = len(photo)  # the second one is over the limit
        upload, keys = await camille.client.upload(io.BytesIO(b"OggS"), content_type="audio/ogg", encrypt=True,
                                                   filename="vocal.ogg", filesize=4)
        assert keys is not None
        await send_content(camille.client, camille.room_id, {
            "msgtype": "m.audio", "body": "Message vocal", "org.matrix.msc3245.voice": {},
            "info": {"mimetype": "audio/ogg", "size": 10**9}, "file": {**keys, "url": upload.content_uri}}, WAIT)
        deadline = time.monotonic() + WAIT
        while len(heard) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        files = [e for e in heard if isinstance(e, FileReceived)]
        assert [(f.kind, f.name, f.size, f.data) for f in files] == [
            ("photo", "panne.png", len(photo), photo), ("photo", "gros.png", 4 * len(photo), b""),
            ("voice", "Message vocal", 10**9, b"")]
        assert files[0].caption == "La borne est en panne" and files[0].mime == "image/png"
    finally:
        await transport.stop()


async def _keys_of(synapse: SynapseServer, token: str, user_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{synapse.url}/_matrix/client/v3/keys/query", headers={"Authorization": f"Bearer {token}"},
            json={"device_keys": {user_id: []}}) as response:
        return dict(await response.json())


def _signed_by(obj: dict[str, Any], user_id: str, key: dict[str, Any]) -> bool:
    """Whether `obj` carries a valid signature of the cross-signing key `key` (canonical JSON, ed25519)."""
    (key_id, public), = key["keys"].items()
    verify = decode_verify_key_base64("ed25519", key_id.partition(":")[2], public)
    try:
        verify_signed_json(obj, user_id, verify)
    except SignatureVerifyException:
        return False
    return True


async def _cross_signing_seen(synapse: SynapseServer, token: str, bot: Bot) -> dict[str, Any]:
    """What another user's client sees of the bot's keys once its device is signed."""
    assert bot.transport is not None and bot.transport.client is not None
    device = bot.transport.client.device_id
    deadline = time.monotonic() + WAIT
    while True:
        keys = await _keys_of(synapse, token, bot.user_id)
        signatures = keys["device_keys"][bot.user_id].get(device, {}).get("signatures", {}).get(bot.user_id, {})
        if len(signatures) >= 2 or time.monotonic() > deadline:  # its own device key, and the self-signing key
            return keys
        await asyncio.sleep(0.2)


async def test_the_bot_cross_signs_its_device_and_keeps_its_keys_across_a_restart(
        synapse: SynapseServer, bots: Callable[..., Awaitable[Bot]],
        people: Callable[[Bot], Awaitable[Person]]) -> None:
    bot = await bots()
    camille = await people(bot)
    seen = await _cross_signing_seen(synapse, camille.token, bot)
    master = seen["master_keys"][bot.user_id]
    self_signing = seen["self_signing_keys"][bot.user_id]
    assert bot.transport is not None and bot.transport.client is not None
    device = seen["device_keys"][bot.user_id][bot.transport.client.device_id]
    assert _signed_by(self_signing, bot.user_id, master)  # the self-signing key is signed by the master key
    assert _signed_by(device, bot.user_id, self_signing)  # the device is signed by the self-signing key
    saved = bot.settings.data_path / "matrix" / "cross_signing.json"
    assert saved.stat().st_mode & 0o077 == 0
    await bot.stop()
    await bot.start()
    again = await _cross_signing_seen(synapse, camille.token, bot)
    assert again["master_keys"][bot.user_id]["keys"] == master["keys"]  # the same identity after a restart
    assert again["self_signing_keys"][bot.user_id]["keys"] == self_signing["keys"]


# --- contract tests on real payloads (no server) ---------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def test_reply_renders_as_a_notice_with_html_and_numbered_choices() -> None:
    reply = Reply("**Votre nom** : <Camille> & co\n- un\n  _détail_\n- [lien](https://example.org/a?b=1&c=2)",
                  choices=(Choice("ok", "Confirmer"), Choice("redo", "Corriger")))
    content = notice(reply, reply_to="$question")
    assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    assert content["body"].startswith("Votre nom : <Camille> & co\n- un\n")
    assert "1. Confirmer\n2. Corriger" in content["body"]
    html = content["formatted_body"]
    assert html.startswith("<b>Votre nom</b> : &lt;Camille&gt; &amp; co<br><ul><li>un<br><i>détail</i></li>")
    assert '<a href="https://example.org/a?b=1&amp;c=2">lien</a>' in html
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$question"}}
    assert html_body("a\nb") == "a<br>b"
    assert png_size(_png(640, 480)) == (640, 480) and png_size(b"not a png") is None


def test_allowed_servers_patterns() -> None:
    tchap = ("*.tchap.gouv.fr",)
    assert server_allowed("@camille:agent.tchap.gouv.fr", tchap)
    assert not server_allowed("@camille:evil.fr", tchap)
    assert not server_allowed("@camille:tchap.gouv.fr.evil.fr", tchap)
    assert server_allowed("@bot:localhost:8448", ("localhost",))
    assert not server_allowed("", ("*",))


def test_rate_limit_error_carries_retry_after() -> None:
    error = refusal(RoomSendError.from_dict({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
                                             "retry_after_ms": 1500}, "!room:localhost"))
    assert error.retry_after == 1.5 and not error.permanent
    forbidden = RoomSendError.from_dict({"errcode": "M_FORBIDDEN", "error": "not in room"}, "!r:localhost")
    assert refusal(forbidden).permanent


def _text(sender: str, body: str, relates_to: dict[str, object] | None = None) -> RoomMessageText:
    """An m.room.message as Synapse delivers it in a sync."""
    content: dict[str, object] = {"msgtype": "m.text", "body": body}
    if relates_to:
        content["m.relates_to"] = relates_to
    event = RoomMessageText.from_dict({"type": "m.room.message", "sender": sender, "event_id": "$1",
                                       "origin_server_ts": 1, "content": content})
    assert isinstance(event, RoomMessageText)
    return event


def test_inbound_texts_become_core_events() -> None:
    room = MatrixRoom("!room:localhost", "@relais:localhost")
    for user in ("@relais:localhost", "@camille:localhost"):
        room.add_member(user, None, None)
    seen = to_event(room, _text("@camille:localhost", "!aide"), "@relais:localhost")
    assert seen == TextReceived(Address("matrix", "!room:localhost", "@camille:localhost", False, "camille"),
                                "!aide", "$1")
    assert to_event(room, _text("@relais:localhost", "!aide"), "@relais:localhost") is None
    edit = _text("@camille:localhost", "* !aide", {"rel_type": "m.replace", "event_id": "$0"})
    assert to_event(room, edit, "@relais:localhost") is None
    reply = _text("@camille:localhost", "> <@relais:localhost> Choisissez\n> 1. Oui\n\n2",
                  {"m.in_reply_to": {"event_id": "$0"}})
    assert isinstance(got := to_event(room, reply, "@relais:localhost"), TextReceived) and got.text == "2"
    mention = to_event(room, _text("@camille:localhost", "relais: !aide"), "@relais:localhost")
    assert isinstance(mention, TextReceived) and mention.text == "!aide"
    room.add_member("@karim:localhost", None, None)
    grouped = to_event(room, _text("@camille:localhost", "!aide"), "@relais:localhost")
    assert grouped is not None and grouped.address.is_group
    notice_ = RoomMessageNotice.from_dict({"type": "m.room.message", "sender": "@karim:localhost", "event_id": "$2",
                                           "origin_server_ts": 1, "content": {"msgtype": "m.notice", "body": "!aide"}})
    assert to_event(room, notice_, "@relais:localhost") is None  # other bots are not listened to


def _member(user: str, membership: str, previous: str | None, sender: str = "@camille:localhost") -> RoomMemberEvent:
    unsigned = {"prev_content": {"membership": previous}} if previous else {}
    event = RoomMemberEvent.from_dict({"type": "m.room.member", "sender": sender, "state_key": user,
                                       "event_id": f"${user}{membership}", "origin_server_ts": 1,
                                       "content": {"membership": membership}, "unsigned": unsigned})
    assert isinstance(event, RoomMemberEvent)
    return event


def test_a_direct_room_the_person_has_not_joined_yet_is_still_theirs(tmp_path: Path) -> None:
    """The bot opened a DM and the person has not accepted the invitation yet: reminders go there (they read them
    once they join) rather than into a new room at every send — that spammed invitations and sent nothing."""
    direct = DirectRooms(tmp_path / "direct.json")
    room = MatrixRoom("!dm:example.org", "@relais:example.org")
    room.add_member("@relais:example.org", None, None)
    room.add_member("@camille:example.org", None, None, invited=True)
    direct.mark(room.room_id, "@camille:example.org")
    assert direct.private(room, "@camille:example.org", invited_ok=True)
    assert direct.current({room.room_id: room}, "@camille:example.org") == room.room_id
    room.add_member("@paul:example.org", None, None, invited=True)  # someone else invited: no longer private
    assert not direct.private(room, "@camille:example.org", invited_ok=True)


def test_a_newly_joined_room_is_heard_from_the_invitation_on() -> None:
    bot = "@relais:localhost"
    old, start = _text("@camille:localhost", "!aide"), _text("@camille:localhost", "/start CODE")
    timeline = [old, _member(bot, "invite", None), start, _member(bot, "join", "invite", sender=bot)]
    assert list(after_own_arrival(timeline, bot)) == [start, timeline[3]]  # the /start typed before the join
    rename = _member(bot, "join", "join", sender=bot)  # a display name change is no arrival
    assert list(after_own_arrival([old, rename], bot)) == [old, rename]


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[Delivery] = []

    async def send(self, delivery: Delivery) -> str:
        self.sent.append(delivery)
        return "$asked"


class _NoKeys:
    def decrypt_event(self, event: MegolmEvent) -> RoomMessageText:
        raise EncryptionError("no session")


async def test_unreadable_message_in_a_dm_asks_once_for_a_resend() -> None:
    now = [0.0]
    pending = Undecrypted(ask_after=30, give_up_after=600, monotonic=lambda: now[0])
    dm, group = MatrixRoom("!dm:localhost", "@relais:localhost"), MatrixRoom("!group:localhost", "@relais:localhost")
    for user in ("@relais:localhost", "@camille:localhost"):
        dm.add_member(user, None, None)
        group.add_member(user, None, None)
    group.add_member("@karim:localhost", None, None)
    for room, event_id in ((dm, "$a"), (dm, "$b"), (group, "$c")):
        event = MegolmEvent.from_dict({"type": "m.room.encrypted", "sender": "@camille:localhost",
                                       "event_id": event_id, "origin_server_ts": 1, "room_id": room.room_id,
                                       "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x",
                                                   "sender_key": "k", "device_id": "D", "session_id": "s"}})
        assert isinstance(event, MegolmEvent)
        pending.add(room, event)
    recorder, client = _Recorder(), _NoKeys()
    assert await pending.retry(client, recorder) == [] and recorder.sent == []  # type: ignore[arg-type]
    now[0] = 31
    assert await pending.retry(client, recorder) == []  # type: ignore[arg-type]
    assert [d.address.chat_id for d in recorder.sent] == ["!dm:localhost"]  # once, and not in the group
    assert "renvoyer" in recorder.sent[0].reply.text
