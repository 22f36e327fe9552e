"""`relais backup` and `relais restore`: the database and RELAIS_DATA_DIR in one tar.gz with a manifest."""

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
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.i18n import t
from storage.db import alembic_config, sync_url

FORMAT, VERSION = "relais-backup", 1
MANIFEST = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
DATA = "data"
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"
PG_ROOT = Path("/usr/lib/postgresql")


class BackupError(Exception):
    """Why a backup or a restore cannot be done, in French, for the person at the command line."""


@dataclass(frozen=True)
class Manifest:
    database: str  # sqlite or postgresql
    created_at: str  # ISO 8601, UTC
    schema_revision: str  # Alembic head(s) of the saved database
    relais_version: str
    data_files: int
    format: str = FORMAT
    version: int = VERSION


@dataclass(frozen=True)
class Backup:
    path: Path | None  # None: written to standard output
    manifest: Manifest


# --- the database, read and written through SQLAlchemy, sqlite3 and the PostgreSQL client tools ---------------

def kind(settings: Settings) -> str:
    return make_url(settings.database_url).get_backend_name()


def sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.database_url).database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise BackupError(t("backup.sqlite_memory"))
    return Path(database).resolve()


def database_state(settings: Settings) -> tuple[bool, str, int]:
    """(holds data, Alembic revision, server major version or 0) of the configured database."""
    if kind(settings) == "sqlite" and not sqlite_path(settings).exists():
        return False, "", 0
    engine = create_engine(sync_url(settings.database_url))
    try:
        with engine.connect() as conn:
            return _state(conn)
    except SQLAlchemyError as error:
        raise BackupError(t("backup.unreachable", error=" ".join(str(error.__cause__ or error).split()))) from error
    finally:
        engine.dispose()


def _state(conn: Connection) -> tuple[bool, str, int]:
    tables = [name for name in inspect(conn).get_table_names() if name != "alembic_version"]
    quote = conn.dialect.identifier_preparer.quote
    filled = any(conn.execute(text(f"select 1 from {quote(name)} limit 1")).first() for name in tables)
    revision = ""
    if inspect(conn).has_table("alembic_version"):
        revision = ",".join(sorted(r for (r,) in conn.execute(text("select version_num from alembic_version"))))
    major = (conn.dialect.server_version_info or (0,))[0] if conn.dialect.name == "postgresql" else 0
    return filled, revision, int(major)


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API, WAL-safe), as one self-contained file."""
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(t("backup.sqlite_corrupt", error=check))
    finally:
        src.close()
        dst.close()


def _major(path: Path) -> int:
    """The major version of a PostgreSQL client tool, from `tool --version` (« pg_dump (PostgreSQL) 16.4 »)."""
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    return int(found.group(1)) if found else 0


def pg_tool(name: str, server_major: int, *, bindir: Path | None = None, search_path: str | None = None,
            root: Path = PG_ROOT) -> Path:
    """The client tool for this server: $PG_BINDIR, Debian's /usr/lib/postgresql/<major>/bin, the PATH, any other."""
    versioned = sorted(root.glob(f"*/bin/{name}"), key=lambda p: [int(x) for x in re.findall(r"\d+", p.parts[-3])],
                       reverse=True)
    candidates = [Path(d) / name for d in (bindir, os.environ.get("PG_BINDIR")) if d]
    candidates += [p for p in versioned if p.parts[-3] == str(server_major)]
    found = shutil.which(name, path=search_path)
    candidates += [Path(found)] if found else []
    candidates += versioned
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise BackupError(t("backup.pg_tool_missing", tool=name, major=server_major or 16))


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (visible in `ps`), and an environment carrying it instead."""
    url = make_url(settings.database_url)
    env = dict(os.environ, PGAPPNAME="relais-backup")
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run_pg(tool: Path, args: list[str], settings: Settings, server_major: int) -> None:
    uri, env = _libpq(settings)
    result = subprocess.run([str(tool), *args, f"--dbname={uri}"], capture_output=True, text=True, env=env,
                            check=False)
    if result.returncode == 0:
        return
    if "transaction_timeout" in result.stderr:
        raise BackupError(t("backup.pg_client_too_new", tool=tool.name, client=_major(tool), server=server_major))
    error = " ".join(result.stderr.strip().splitlines()[-3:]) or "aucun message"
    raise BackupError(t("backup.pg_failed", tool=tool.name, code=result.returncode, error=error))


# --- backup ----------------------------------------------------------------------------------------------------

def create_backup(settings: Settings, output: str | None, now: datetime, *, pg_bindir: Path | None = None,
                  stdout: IO[bytes] | None = None) -> Backup:
    """Write the archive to `output` (a file, a folder, or "-" for standard output); never overwrites one."""
    target = _output_path(output, now)
    database = kind(settings)
    _, revision, server_major = database_state(settings)
    with tempfile.TemporaryDirectory(prefix="relais-backup-") as work:
        dump = Path(work) / DATABASE_MEMBERS[database]
        if database == "sqlite":
            path = sqlite_path(settings)
            if not path.exists():
                raise BackupError(t("backup.sqlite_missing", path=path))
            sqlite_copy(path, dump)
        else:
            tool = pg_tool("pg_dump", server_major, bindir=pg_bindir)
            _run_pg(tool, ["--format=custom", f"--file={dump}"], settings, server_major)
        files = list(_consistent(list(data_files(settings, exclude=target)), Path(work)))
        manifest = Manifest(database=database, created_at=now.isoformat(), schema_revision=revision,
                            relais_version=_version(), data_files=len(files))
        if target is None:
            _write(stdout or sys.stdout.buffer, manifest, dump, files, stream=True)
            return Backup(None, manifest)
        partial = target.with_name(target.name + ".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data and Matrix keys
        try:
            with os.fdopen(fd, "wb") as out:
                _write(out, manifest, dump, files, stream=False)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return Backup(target, manifest)


def _output_path(output: str | None, now: datetime) -> Path | None:
    if output == "-":
        return None
    name = f"relais-backup-{now:%Y%m%d-%H%M%S}.tar.gz"
    target = Path(output or name)
    if (output or "").endswith("/") or target.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        target = target / name
    if target.exists():
        raise BackupError(t("backup.output_exists", path=target))
    return target.resolve()


def data_files(settings: Settings, *, exclude: Path | None = None) -> Iterator[tuple[Path, str]]:
    """(file, name in the archive) for what RELAIS_DATA_DIR holds: not the SQLite database, its WAL, nor backups."""
    root = settings.data_dir.resolve()
    skip = {exclude} if exclude else set()
    if kind(settings) == "sqlite":
        db = sqlite_path(settings)
        skip |= {db, *(db.with_name(db.name + s) for s in SIDE_SUFFIXES)}
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_symlink() or not path.is_file() or path in skip or path.name.startswith("relais-backup-"):
            continue
        if path.name.endswith(SIDE_SUFFIXES) and path.with_name(path.name.rsplit("-", 1)[0]).is_file():
            continue  # the WAL of an SQLite file: its content goes into the consistent copy of that file
        yield path, str(PurePosixPath(DATA, path.relative_to(root).as_posix()))


def _consistent(files: list[tuple[Path, str]], work: Path) -> Iterator[tuple[Path, str]]:
    """SQLite files of the data folder (nio's Matrix key store) copied through the backup API, others as they are."""
    for i, (path, name) in enumerate(files):
        with path.open("rb") as f:
            is_sqlite = f.read(16) == SQLITE_HEADER
        if is_sqlite:
            copy = work / f"data-{i}.sqlite3"
            sqlite_copy(path, copy)
            path = copy
        yield path, name


def _write(out: IO[bytes], manifest: Manifest, dump: Path, files: list[tuple[Path, str]], *, stream: bool) -> None:
    with tarfile.open(fileobj=out, mode="w|gz" if stream else "w:gz") as tar:
        body = json.dumps(asdict(manifest), indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(body), 0o600
        info.mtime = int(datetime.fromisoformat(manifest.created_at).timestamp())
        tar.addfile(info, io.BytesIO(body))
        tar.add(dump, arcname=dump.name)
        for path, name in files:
            tar.add(path, arcname=name, recursive=False)


def _version() -> str:
    try:
        return metadata.version("relais")
    except metadata.PackageNotFoundError:
        return "inconnue"


# --- restore ---------------------------------------------------------------------------------------------------

def restore_backup(settings: Settings, source: str, *, force: bool = False, pg_bindir: Path | None = None,
                   stdin: IO[bytes] | None = None) -> Manifest:
    """Put a backup back: the database first, then the data folder; refuses a target holding data unless forced."""
    with tempfile.TemporaryDirectory(prefix="relais-restore-") as work:
        staged = Path(work)
        try:
            with _open_source(source, stdin) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
                manifest = _unpack(tar, staged, settings, force=force)
        except (tarfile.TarError, OSError, ValueError, KeyError, TypeError) as error:
            raise BackupError(t("backup.not_archive", path=source, error=error)) from error
        dump = staged / DATABASE_MEMBERS[manifest.database]
        if manifest.database == "sqlite":
            verify_sqlite(dump, manifest)
            _replace_sqlite(dump, sqlite_path(settings))
        else:
            major = database_state(settings)[2]
            verify_pgdump(dump, manifest, pg_tool("pg_restore", major, bindir=pg_bindir))
            _run_pg(pg_tool("pg_restore", major, bindir=pg_bindir), [
                "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                "--exit-on-error", str(dump)], settings, major)
        _put_data(staged / DATA, settings.data_dir.resolve())
    return manifest


EXPECTED_TABLES = ("alembic_version", "territory", "member", "identity", "invitation", "report")


def verify_sqlite(dump: Path, manifest: Manifest) -> None:
    """The archive's database before it replaces anything: readable, intact, relais's tables, the stated schema."""
    with dump.open("rb") as f:
        if f.read(16) != SQLITE_HEADER:
            raise BackupError(t("backup.bad_database", error="ce n'est pas une base SQLite"))
    try:
        conn = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
            revision = ",".join(sorted(r for (r,) in conn.execute("select version_num from alembic_version"))) \
                if "alembic_version" in tables else ""
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(t("backup.bad_database", error=error)) from error
    _verdict(check, tables, revision, manifest)


def verify_pgdump(dump: Path, manifest: Manifest, pg_restore: Path) -> None:
    """A pg_dump archive that pg_restore can read, holding relais's tables."""
    listing = subprocess.run([str(pg_restore), "--list", str(dump)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise BackupError(t("backup.bad_database", error=" ".join(listing.stderr.split())[:200] or "illisible"))
    tables = set(re.findall(r"\bTABLE (?:DATA )?\S+ (\w+)", listing.stdout))
    _verdict("ok", tables, manifest.schema_revision, manifest)


def _verdict(check: str, tables: set[str], revision: str, manifest: Manifest) -> None:
    if check != "ok":
        raise BackupError(t("backup.bad_database", error=check[:200]))
    missing = [name for name in EXPECTED_TABLES if name not in tables]
    if missing:
        raise BackupError(t("backup.missing_tables", tables=", ".join(missing)))
    if revision != manifest.schema_revision:
        raise BackupError(t("backup.wrong_revision", found=revision or "aucune", stated=manifest.schema_revision))


def _open_source(source: str, stdin: IO[bytes] | None) -> IO[bytes]:
    return (stdin or sys.stdin.buffer) if source == "-" else open(source, "rb")  # noqa: SIM115


def _unpack(tar: tarfile.TarFile, staged: Path, settings: Settings, *, force: bool) -> Manifest:
    """Read members in order: the manifest (checked before anything else), the database, the data files."""
    manifest: Manifest | None = None
    for member in tar:
        name = PurePosixPath(member.name)
        if manifest is None:
            if member.name != MANIFEST or not member.isfile():
                raise ValueError(f"{MANIFEST} absent")
            manifest = _check(json.loads(_read(tar, member)), settings, force=force)
            continue
        allowed = member.name == DATABASE_MEMBERS[manifest.database] or (name.parts[0] == DATA and len(name.parts) > 1)
        if name.is_absolute() or ".." in name.parts or not allowed or not (member.isfile() or member.isdir()):
            raise BackupError(t("backup.unsafe_member", name=member.name))
        destination = staged.joinpath(*name.parts)
        if member.isdir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        extracted = tar.extractfile(member)
        assert extracted is not None
        with destination.open("wb") as out:
            shutil.copyfileobj(extracted, out)
        destination.chmod(0o600)
    if manifest is None:
        raise ValueError(f"{MANIFEST} absent")
    if not (staged / DATABASE_MEMBERS[manifest.database]).is_file():
        raise ValueError(f"{DATABASE_MEMBERS[manifest.database]} absent")
    return manifest


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    extracted = tar.extractfile(member)
    assert extracted is not None
    return extracted.read()


def _check(raw: dict[str, object], settings: Settings, *, force: bool) -> Manifest:
    manifest = Manifest(**{k: v for k, v in raw.items() if k in Manifest.__dataclass_fields__})  # type: ignore[arg-type]
    if manifest.format != FORMAT:
        raise ValueError(f"format {manifest.format!r}")
    if manifest.version > VERSION:
        raise BackupError(t("backup.newer_format", version=manifest.version))
    if manifest.database != kind(settings):
        raise BackupError(t("backup.wrong_kind", archive=manifest.database, target=kind(settings)))
    scripts = ScriptDirectory.from_config(alembic_config(settings.database_url))
    for revision in filter(None, manifest.schema_revision.split(",")):
        try:
            scripts.get_revision(revision)
        except Exception as error:  # alembic raises several kinds for an unknown revision
            raise BackupError(t("backup.newer_schema", revision=revision)) from error
    if not force and database_state(settings)[0]:
        raise BackupError(t("backup.not_empty", what=t("backup.what_database")))
    if not force and next(data_files(settings), None):
        raise BackupError(t("backup.not_empty", what=t("backup.what_files", path=settings.data_dir.resolve())))
    return manifest


def _replace_sqlite(copy: Path, target: Path) -> None:
    """Swap the file in one rename; the old WAL and shared-memory files go first, or SQLite would replay them."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f".{target.name}.restore")
    shutil.copyfile(copy, incoming)
    for suffix in SIDE_SUFFIXES:
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(incoming, target)


def _put_data(staged: Path, data_dir: Path) -> None:
    """Copy the saved files over RELAIS_DATA_DIR (files absent from the backup are left as they are)."""
    if not staged.is_dir():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(staged.rglob("*")):
        destination = data_dir / path.relative_to(staged)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            for suffix in SIDE_SUFFIXES:  # a stale WAL next to a restored SQLite file would corrupt it
                destination.with_name(destination.name + suffix).unlink(missing_ok=True)
            shutil.copy2(path, destination)
