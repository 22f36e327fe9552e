"""Throwaway Synapse homeserver on 127.0.0.1 (SQLite, no federation) for the tests: rate limits off, or the message
limit in Synapse's own shape (a burst, then a steady rate) for the tests and benchmarks about pacing."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.servers.process import free_port, log_tail

SERVER_NAME = "localhost"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0
_UNLIMITED = {"per_second": 1000, "burst_count": 10000}
# Every rate limiter Synapse reads (synapse/config/ratelimiting.py), raised so tests never get a 429.
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}
# Synapse's default rc_message is 0.2 messages/s after a burst of 10: the same shape, 25 times faster.
MESSAGE_LIMIT: dict[str, float] = {"per_second": 5, "burst_count": 10}


class SynapseError(RuntimeError):
    """The throwaway Synapse could not be configured, started or used."""


def _http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 10.0) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        raise SynapseError(f"{url}: HTTP {exc.code} {exc.read().decode(errors='replace')}") from exc


def _write_config(run_dir: Path, port: int, shared_secret: str, message_limit: dict[str, float] | None) -> Path:
    log_config = run_dir / "log.config"
    # JSON is valid YAML: no YAML writer needed.
    log_config.write_text(json.dumps({
        "version": 1,
        "formatters": {"precise": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                              "filename": str(run_dir / "homeserver.log"), "encoding": "utf8"}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }, indent=2))
    config: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "listeners": [{
            "port": port,
            "bind_addresses": ["127.0.0.1"],
            "type": "http",
            "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(run_dir / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(run_dir / "media_store"),
        "signing_key_path": str(run_dir / f"{SERVER_NAME}.signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "report_stats": False,
        "enable_metrics": False,
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "bcrypt_rounds": 4,  # password hashing is the bulk of a registration's cost
        **_RATE_LIMITS,
    }
    if message_limit is not None:
        config["rc_message"] = message_limit
    path = run_dir / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def _generate_keys(config_path: Path, signing_key_path: Path) -> None:
    """Write the signing key as ``--generate-keys`` does, in-process (saves a ~1.8 s interpreter start)."""
    try:
        from signedjson.key import generate_signing_key, write_signing_keys
    except ImportError:  # not Synapse's interpreter: let Synapse do it
        keys = subprocess.run(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config_path), "--generate-keys"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=config_path.parent,
        )
        if keys.returncode != 0:
            raise SynapseError(
                f"synapse --generate-keys failed ({keys.returncode}):\n{keys.stdout}\n{keys.stderr}"
            ) from None
        return
    with signing_key_path.open("w") as stream:
        write_signing_keys(stream, [generate_signing_key("a_" + secrets.token_hex(2))])


class SynapseServer:
    """A running Synapse; ``register`` makes users through the shared-secret admin API."""

    server_name = SERVER_NAME

    def __init__(self, run_dir: Path, port: int, shared_secret: str, config_path: Path) -> None:
        self.run_dir = run_dir
        self.port = port
        self.shared_secret = shared_secret
        self.config_path = config_path
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds = 0.0
        self.message_limit: dict[str, float] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise SynapseError("Synapse is not running")
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.run_dir / "homeserver.log"

    @property
    def console_path(self) -> Path:
        return self.run_dir / "console.log"

    def _logs(self) -> str:
        return (f"console {self.console_path}:\n{log_tail(self.console_path, 30)}\n"
                f"log {self.log_path}:\n{log_tail(self.log_path, 30)}")

    def _launch(self) -> None:
        started = time.monotonic()
        with self.console_path.open("ab") as console:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, cwd=self.run_dir,
                start_new_session=True,
            )
        deadline = started + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise SynapseError(f"Synapse exited with code {self.process.returncode}\n{self._logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._terminate()
                raise SynapseError(
                    f"Synapse not ready on {self.url} after {READY_TIMEOUT:.0f} s\n{self._logs()}"
                )
            time.sleep(0.05)
        self.start_seconds = time.monotonic() - started
        atexit.register(self.stop)

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def register(self, username: str, password: str, admin: bool = False) -> tuple[str, str]:
        """Create ``username`` (lower-cased by Synapse); return ``(user_id, access_token)``."""
        endpoint = f"{self.url}/_synapse/admin/v1/register"
        nonce = str(_http_json(endpoint)["nonce"])
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, username, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        body = {"nonce": nonce, "username": username, "password": password, "admin": admin,
                "mac": mac.hexdigest()}
        result = _http_json(endpoint, body)
        return str(result["user_id"]), str(result["access_token"])

    def restart(self) -> None:
        """Stop and start again on the same port with the same data (users, rooms, tokens survive)."""
        self._terminate()
        atexit.unregister(self.stop)
        self._launch()

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after a few seconds) and removal of the server directory. Idempotent."""
        atexit.unregister(self.stop)
        self._terminate()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> SynapseServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        pid = self.process.pid if self.process else None
        return f"<SynapseServer {self.url} pid={pid}>"


def start_synapse(base_dir: Path | None = None, *, message_limit: dict[str, float] | None = None) -> SynapseServer:
    """Configure a fresh homeserver in a new directory under ``base_dir`` (or the temp dir) and start it.

    ``message_limit`` (e.g. MESSAGE_LIMIT) turns Synapse's rc_message on; every other limit stays off."""
    if base_dir is not None:
        base_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="relais-synapse-", dir=base_dir))
    try:
        port = free_port()
        shared_secret = secrets.token_hex(16)
        config_path = _write_config(run_dir, port, shared_secret, message_limit)
        _generate_keys(config_path, run_dir / f"{SERVER_NAME}.signing.key")
        server = SynapseServer(run_dir, port, shared_secret, config_path)
        server.message_limit = message_limit
        server._launch()
        return server
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
