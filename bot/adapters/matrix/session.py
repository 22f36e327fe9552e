"""The Matrix login kept under RELAIS_DATA_DIR/matrix: credentials, sync token and the encryption key store."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bot.config import Settings

log = logging.getLogger(__name__)


class MatrixLoginError(RuntimeError):
    """The homeserver refused the configured credentials (retrying will not help)."""


class MatrixUnavailable(RuntimeError):
    """The homeserver could not answer (down, restarting, overloaded): try again later."""


_REFUSED = {"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED", "M_INVALID_PARAM"}


@dataclass(frozen=True, slots=True)
class MatrixConfig:
    homeserver: str
    user: str  # "@relais:example.org" (or the bare localpart)
    data_dir: Path
    password: str = ""
    access_token: str = ""
    allowed_servers: tuple[str, ...] = ()  # empty: the bot's own server only
    device_name: str = "relais"

    @classmethod
    def from_settings(cls, settings: Settings) -> MatrixConfig:
        allowed = tuple(s.strip().lower() for s in settings.matrix_allowed_servers.split(",") if s.strip())
        return cls(homeserver=settings.matrix_homeserver.rstrip("/"), user=settings.matrix_user,
                   data_dir=settings.data_path / "matrix", password=settings.matrix_password,
                   access_token=settings.matrix_access_token, allowed_servers=allowed)


def server_of(user_id: str) -> str:
    """"@camille:agent.tchap.gouv.fr" -> "agent.tchap.gouv.fr" (a port, if any, kept)."""
    return user_id.partition(":")[2].lower()


def server_allowed(user_id: str, patterns: tuple[str, ...]) -> bool:
    """Whether the user's homeserver matches one of the patterns (shell wildcards: *.tchap.gouv.fr)."""
    server = server_of(user_id)
    host = server.rsplit(":", 1)[0] if server.count(":") == 1 else server
    return bool(server) and any(fnmatch(server, p) or fnmatch(host, p) for p in patterns)


class SessionFiles:
    """credentials.json and sync.json (mode 0600) next to store/, nio's SQLite store of the encryption keys."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store_dir = root / "store"

    def prepare(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # keys and tokens: readable by the bot's user only
            self.root.chmod(0o700)

    def credentials(self) -> dict[str, str]:
        return self._read("credentials.json")

    def save_credentials(self, homeserver: str, user_id: str, device_id: str, access_token: str) -> None:
        self._write("credentials.json", {"homeserver": homeserver, "user_id": user_id, "device_id": device_id,
                                         "access_token": access_token})

    def sync_token(self, user_id: str) -> str:
        saved = self._read("sync.json")
        return saved.get("next_batch", "") if saved.get("user_id") == user_id else ""

    def save_sync_token(self, user_id: str, token: str) -> None:
        self._write("sync.json", {"user_id": user_id, "next_batch": token})

    def _read(self, name: str) -> dict[str, str]:
        try:
            data: Any = json.loads((self.root / name).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, name: str, data: dict[str, str]) -> None:
        """Write then rename, so a crash leaves the old file or the new one, never half of one."""
        temporary = self.root / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.root / name)


def new_client(config: MatrixConfig, files: SessionFiles) -> AsyncClient:
    """An E2E client that reports 429s and connection errors to us instead of retrying forever inside nio."""
    options = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False, max_limit_exceeded=0,
                                max_timeouts=1, request_timeout=30)
    return AsyncClient(config.homeserver, config.user, store_path=str(files.store_dir), config=options)


async def log_in(client: AsyncClient, config: MatrixConfig, files: SessionFiles) -> None:
    """Reuse the saved device when its token still works; else the configured token; else the password.

    Raises MatrixLoginError when the homeserver refuses, MatrixUnavailable (or a connection error) when it
    did not answer: the caller retries those.
    """
    saved = files.credentials()
    if saved.get("access_token") and _same_account(saved, config) and await _resume(client, saved):
        return
    if config.access_token and await _resume(client, {"access_token": config.access_token}):
        _remember(client, files)
        return
    if not config.password:
        raise MatrixLoginError("the access token was refused and no RELAIS_MATRIX_PASSWORD is set")
    response = await client.login(config.password, device_name=config.device_name)
    if not isinstance(response, LoginResponse):
        _raise_unless_refused(response)
        raise MatrixLoginError(f"login refused: {response}")
    _remember(client, files)
    log.info("matrix: logged in as %s, new device %s", client.user_id, client.device_id)


def _same_account(saved: dict[str, str], config: MatrixConfig) -> bool:
    user = saved.get("user_id", "")
    wanted = config.user if config.user.startswith("@") else f"@{config.user}:"
    same_user = user == wanted or (not config.user.startswith("@") and user.startswith(wanted))
    token_ok = not config.access_token or config.access_token == saved.get("access_token")
    return saved.get("homeserver") == config.homeserver and same_user and token_ok


async def _resume(client: AsyncClient, saved: dict[str, str]) -> bool:
    """Log in with a known token: whoami gives its user and device; the key store of that device is loaded."""
    client.access_token = saved["access_token"]
    whoami = await client.whoami()
    if not isinstance(whoami, WhoamiResponse) or not whoami.device_id:
        client.access_token = ""
        if not isinstance(whoami, WhoamiResponse):
            _raise_unless_refused(whoami)
        log.warning("matrix: access token not accepted (%s)", whoami)
        return False
    client.restore_login(whoami.user_id, whoami.device_id, saved["access_token"])
    log.info("matrix: resumed as %s on device %s", whoami.user_id, whoami.device_id)
    return True


def _raise_unless_refused(error: object) -> None:
    if getattr(error, "status_code", None) not in _REFUSED:
        raise MatrixUnavailable(str(error))


def _remember(client: AsyncClient, files: SessionFiles) -> None:
    files.save_credentials(client.homeserver, client.user_id, client.device_id or "", client.access_token)
