"""`relais backup` and `relais restore` on SQLite and PostgreSQL: what was saved comes back, nothing is overwritten."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.app import App
from bot.config import Settings
from bot.ops.backup import BackupError, create_backup, pg_tool, restore_backup
from storage.db import migrate
from storage.models import Member
from storage.reports import by_reference
from tests.chat import Chat
from tests.servers.postgres import PostgresServer

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
DESCRIPTION = "La borne de la médiathèque refuse les cartes Vitale depuis lundi, les seniors repartent sans rien."


async def report(chat: Chat) -> str:
    for line in ("/signaler", "1", "Romagné", DESCRIPTION, "1", "2"):
        await chat.say(line)
    found = re.search(r"S-\d{4}-\d{5}", await chat.text("1"))
    assert found, "the report was not saved"
    return found.group(0)


def matrix_files(settings: Settings) -> dict[str, bytes]:
    """What the Matrix adapter keeps: a sync token, credentials, and nio's SQLite key store (in WAL mode)."""
    root = settings.data_dir / "matrix"
    (root / "store").mkdir(parents=True, exist_ok=True)
    (root / "sync.json").write_text('{"user_id": "@relais:localhost", "next_batch": "s72595_4483_1934"}')
    (root / "credentials.json").write_text('{"access_token": "syt_secret"}')
    with sqlite3.connect(root / "store" / "keys.db") as store:
        store.execute("PRAGMA journal_mode=WAL")
        store.execute("create table if not exists olm (account text)")
        store.execute("insert into olm values ('pickled-account')")
    return {p: (root / p).read_bytes() for p in ("sync.json", "credentials.json")}


def pg_bindir(request: pytest.FixtureRequest, database_url: str) -> Path | None:
    """The test server's own client tools (the PyPI wheel's on a machine without Debian's packages)."""
    if not database_url.startswith("postgresql"):
        return None
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.bindir


def wipe(settings: Settings, request: pytest.FixtureRequest) -> None:
    """The disk is lost: an empty database of the same name and no data folder."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        server.drop_database(str(url.database))
        server.create_database(str(url.database))
    shutil.rmtree(settings.data_dir)


async def test_backup_wipe_restore_brings_members_reports_and_matrix_keys_back(
        app: App, member_chat: Chat, settings: Settings, database_url: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    bindir = pg_bindir(request, database_url)
    reference = await report(member_chat)
    saved_files = matrix_files(settings)

    done = create_backup(settings, str(tmp_path / "backups") + "/", NOW, pg_bindir=bindir)  # online: app is open
    assert done.path and done.path.name == "relais-backup-20260310-093000.tar.gz"
    assert done.path.stat().st_mode & 0o077 == 0  # personal data and Matrix keys: owner only
    with tarfile.open(done.path) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert manifest["database"] == make_url(database_url).get_backend_name()
    assert manifest["format"] == "relais-backup" and manifest["created_at"] == NOW.isoformat()
    assert manifest["schema_revision"] and manifest["data_files"] == 3
    assert {"data/matrix/sync.json", "data/matrix/credentials.json", "data/matrix/store/keys.db"} <= set(names)
    assert not any(name.endswith(("-wal", "-shm")) for name in names)

    await app.close()
    wipe(settings, request)
    restored = restore_backup(settings, str(done.path), pg_bindir=bindir)
    assert restored.schema_revision == manifest["schema_revision"]

    again = App(settings, clock=app.clock, transports=[member_chat.transport])
    await again.prepare()
    try:
        async with again.sessions() as session:
            saved = await by_reference(session, reference)
            assert saved is not None and saved.description == DESCRIPTION
            member = (await session.execute(select(Member).where(Member.id == saved.author_id))).scalar_one()
            assert member.display_name == "Camille"
        chat = Chat(again, member_chat.transport, "u-referent")
        chat._message = 1000  # message ids already seen before the backup are skipped as duplicates, rightly
        assert "Ce que vous pouvez faire" in await chat.text("/aide")  # the member is known again
    finally:
        await again.close()
    for name, content in saved_files.items():
        assert (settings.data_dir / "matrix" / name).read_bytes() == content
    with sqlite3.connect(settings.data_dir / "matrix" / "store" / "keys.db") as store:
        assert store.execute("select account from olm").fetchall() == [("pickled-account",)]

    with pytest.raises(BackupError, match="contient déjà des données.*--force"):
        restore_backup(settings, str(done.path), pg_bindir=bindir)
    assert restore_backup(settings, str(done.path), force=True, pg_bindir=bindir).database == manifest["database"]


async def test_backup_streams_to_stdout_and_restores_from_stdin(app: App, member_chat: Chat, settings: Settings,
                                                               database_url: str,
                                                               request: pytest.FixtureRequest) -> None:
    """`docker compose exec -T bot relais backup --output - > file` and back with `restore -`."""
    bindir = pg_bindir(request, database_url)
    reference = await report(member_chat)
    buffer = io.BytesIO()
    assert create_backup(settings, "-", NOW, pg_bindir=bindir, stdout=buffer).path is None
    await app.close()
    wipe(settings, request)
    restore_backup(settings, "-", pg_bindir=bindir, stdin=io.BytesIO(buffer.getvalue()))
    again = App(settings, clock=app.clock)
    try:
        async with again.sessions() as session:
            assert await by_reference(session, reference) is not None
    finally:
        await again.close()


def test_restore_refuses_another_engine_a_foreign_file_and_unsafe_paths(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'relais.db'}", data_dir=tmp_path / "data",
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database_url)
    done = create_backup(settings, str(tmp_path / "b.tar.gz"), NOW)
    with pytest.raises(BackupError, match="existe déjà"):
        create_backup(settings, str(tmp_path / "b.tar.gz"), NOW)
    postgres = Settings(database_url="postgresql://relais@127.0.0.1:1/relais", data_dir=settings.data_dir,
                        _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(BackupError, match="base sqlite, mais RELAIS_DATABASE_URL désigne une base postgresql"):
        restore_backup(postgres, str(done.path))
    (tmp_path / "notes.txt").write_text("pas une archive")
    with pytest.raises(BackupError, match="n'est pas une sauvegarde de relais lisible"):
        restore_backup(settings, str(tmp_path / "notes.txt"))

    with tarfile.open(done.path) as source:
        manifest = json.loads(source.extractfile("manifest.json").read())  # type: ignore[union-attr]
    evil = archive(tmp_path / "evil.tar.gz", manifest, "data/../../escaped.txt")
    with pytest.raises(BackupError, match="chemin refusé"):
        restore_backup(settings, str(evil), force=True)
    assert not (tmp_path / "escaped.txt").exists()
    future = archive(tmp_path / "future.tar.gz", {**manifest, "schema_revision": "0099_from_the_future"})
    with pytest.raises(BackupError, match="version plus récente de relais"):
        restore_backup(settings, str(future), force=True)


def archive(path: Path, manifest: dict[str, object], *names: str) -> Path:
    """A hand-made archive: this manifest, then a member of each name."""
    with tarfile.open(path, "w:gz") as tar:
        for name, body in [("manifest.json", json.dumps(manifest).encode()), *((n, b"x") for n in names)]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path


def test_missing_pg_dump_is_explained_in_french_with_the_manual_procedure(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PG_BINDIR", raising=False)
    with pytest.raises(BackupError) as caught:
        pg_tool("pg_dump", 16, search_path=str(tmp_path), root=tmp_path)
    message = str(caught.value)
    assert "pg_dump est introuvable" in message and "postgresql-client-16" in message
    assert "pg_dump --format=custom" in message and "pg_restore --clean --if-exists" in message


def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATABASE_URL=f"sqlite:///{tmp_path / 'relais.db'}", RELAIS_DATA_DIR=str(tmp_path / "data"))

    def relais(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120,
                              env=env, cwd=tmp_path)

    migrate(env["RELAIS_DATABASE_URL"])  # an installed bot that has never run: schema, no data yet
    saved = relais("backup", "--output", "sauvegarde.tar.gz")
    assert saved.returncode == 0, saved.stderr
    assert "Sauvegarde écrite" in saved.stdout and "sauvegarde.tar.gz" in saved.stdout
    assert relais("restore", "sauvegarde.tar.gz").returncode == 0  # an empty database: nothing to protect
    (tmp_path / "data" / "matrix").mkdir(parents=True)
    (tmp_path / "data" / "matrix" / "sync.json").write_text("{}")
    refused = relais("restore", "sauvegarde.tar.gz")
    assert refused.returncode == 1
    assert "Erreur" in refused.stderr and "--force" in refused.stderr and "Traceback" not in refused.stderr
    forced = relais("restore", "sauvegarde.tar.gz", "--force")
    assert forced.returncode == 0 and "restaurée" in forced.stdout


def test_restore_checks_the_archived_database_before_saying_restored(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'relais.db'}", data_dir=tmp_path / "data",
                        _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database_url)
    done = create_backup(settings, str(tmp_path / "b.tar.gz"), NOW)
    with tarfile.open(done.path) as source:
        manifest = json.loads(source.extractfile("manifest.json").read())  # type: ignore[union-attr]
    garbage = archive(tmp_path / "garbage.tar.gz", manifest, "database.sqlite3")
    with pytest.raises(BackupError, match="illisible ou abîmée"):
        restore_backup(settings, str(garbage), force=True)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table notes (x)").connection.commit()
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        body = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        tar.add(other, arcname="database.sqlite3")
    with pytest.raises(BackupError, match="n'est pas celle de relais"):
        restore_backup(settings, str(foreign), force=True)
    assert sqlite3.connect(tmp_path / "relais.db").execute("select count(*) from member").fetchone()  # intact

    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATABASE_URL=settings.database_url, RELAIS_DATA_DIR=str(settings.data_dir))
    result = subprocess.run([sys.executable, "-m", "bot", "restore", "--force", str(garbage)], capture_output=True,
                            text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 1 and "restaurée" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "rien n'a été restauré" in result.stderr


def test_command_line_in_french_and_bad_values_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_DATABASE_URL=f"sqlite:///{tmp_path / 'relais.db'}", RELAIS_DATA_DIR=str(tmp_path / "data"))

    def relais(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120,
                              env=env, cwd=tmp_path)

    helped = relais("--help").stdout + relais("token", "create", "--help").stdout
    assert "usage : relais" in helped and "arguments positionnels" in helped and "afficher cette aide" in helped
    for english in ("positional arguments", "show this help", "start the bot", "usage: "):
        assert english not in helped
    missing = relais("restore")
    assert "arguments obligatoires manquants" in missing.stderr and "erreur" in missing.stderr
    overflow = relais("token", "create", "--name", "x", "--territory", "35", "--expires", "99999999d")
    assert overflow.returncode == 2 and "durée trop longue" in overflow.stderr and "Traceback" not in overflow.stderr
    never = relais("invite", "--role", "referent", "--territory", "35", "--uses", "0")
    assert never.returncode == 2 and "de 1 à 10000" in never.stderr and not never.stdout
    created = relais("token", "create", "--name", "Tableau", "--territory", "35-fougeres", "--scope", "stats,reports",
                     "--expires", "30d")
    assert created.returncode == 0, created.stderr
    listing = relais("token", "list").stdout
    assert "35-fougeres" in listing and "stats,reports" in listing and re.search(r"\d{2}/\d{2}/\d{4}", listing)
