"""Photos and files: joined to a report during /signaler or with a caption, checked, kept with the report, gone
with the person who sent them, never in the API; voice notes and stray files get a short answer."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import App
from storage.attachments import ReportAttachment
from storage.reports import Report
from tests.chat import Chat, FakeTransport
from tests.conftest import joined

PHOTO = b"\xff\xd8\xff\xe0" + b"kiosque en panne" * 100


async def _files(app: App) -> list[ReportAttachment]:
    async with app.sessions() as session:
        return list((await session.execute(select(ReportAttachment).order_by(ReportAttachment.id))).scalars())


async def _finish(chat: Chat) -> str:
    await chat.pick("Seniors")
    await chat.pick("Normal")
    return (await chat.pick("Envoyer"))[0].text


async def test_a_photo_sent_during_signaler_is_kept_with_the_report(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-photo", territory="35-fougeres")
    await chat.say("/signaler")
    await chat.pick("Démarche en ligne")
    replies = await chat.send_file(data=PHOTO)
    assert "joint au signalement (1)" in replies[0].text and "visage" in replies[0].text
    assert "Dans quelle commune" in replies[-1].text  # the question under way, asked again
    await chat.pick("Romagné")
    await chat.say("La borne de la mairie affiche une erreur, voir la photo.")
    assert "Merci" in await _finish(chat)
    files = await _files(app)
    async with app.sessions() as session:
        report = (await session.execute(select(Report))).scalar_one()
    assert [(f.report_id, f.data) for f in files] == [(report.id, PHOTO)]


async def test_a_captioned_photo_starts_a_report(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-caption", territory="35-fougeres")
    replies = await chat.send_file(data=PHOTO, caption="la borne CAF de Romagné est en panne depuis lundi")
    assert "joint au signalement (1)" in replies[0].text
    assert "public" in replies[-1].text.lower()  # theme, commune, description understood: the rest is asked
    assert "Merci" in await _finish(chat)
    assert len(await _files(app)) == 1 and (await _files(app))[0].report_id is not None


async def test_what_the_bot_cannot_read_is_said(app: App, member_chat: Chat) -> None:
    assert "messages vocaux" in (await member_chat.send_file("voice", mime="audio/ogg", name="vocal.ogg"))[0].text
    assert "tapez /signaler puis envoyez-la" in (await member_chat.send_file())[0].text
    await member_chat.say("/signaler")
    too_big = await member_chat.send_file(data=b"", size=25_000_000)
    assert "trop lourd" in too_big[0].text
    exe = await member_chat.send_file("document", data=b"MZ\x90", mime="application/x-msdownload", name="x.exe")
    assert "photos (JPEG, PNG) et les PDF" in exe[0].text
    pdf = await member_chat.send_file("document", data=b"%PDF-1.4 ...", mime="application/pdf", name="a.pdf")
    assert "joint au signalement (1)" in pdf[0].text
    await member_chat.say("/nom")
    assert "Je ne peux pas joindre de fichier" in (await member_chat.send_file())[0].text


async def test_files_go_with_the_person_who_sent_them(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-gone", territory="35-fougeres")
    await chat.send_file(data=PHOTO, caption="la borne CAF de Romagné est en panne depuis lundi")
    await _finish(chat)
    await chat.say("/oublier")
    await chat.pick("Oui")
    async with app.sessions() as session:
        left = (await session.execute(select(func.count(ReportAttachment.id)))).scalar_one()
    assert left == 0


async def test_coordinators_see_the_photo_with_the_report(app: App, transport: FakeTransport) -> None:
    chat = await joined(app, transport, "referent", "u-shown", territory="35-fougeres")
    await chat.send_file(data=PHOTO, caption="la borne CAF de Romagné est en panne depuis lundi")
    reference = (await _finish(chat)).split("**")[1]
    claire = await joined(app, transport, "coordinator", "u-claire", territory="35-fougeres")
    opened = await claire.say(f"/signalements {reference}")
    assert [r.attachment.data for r in opened if r.attachment] == [PHOTO]
    assert opened[-1].choices  # the detail and its buttons come last
