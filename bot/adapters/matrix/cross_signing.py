"""Cross-signing of the bot's own account: Element and Tchap send room keys only to cross-signed devices (MSC4153).

The master key signs the self-signing key, which signs the bot's device (ed25519 over canonical JSON, as the
spec says; signedjson does both). The private keys live in cross_signing.json beside the login (mode 0600,
inside RELAIS_DATA_DIR, so `relais backup` keeps them) and are reused after a restart: the account keeps one
identity. Uploading the keys asks for the account's password (user-interactive auth, m.login.password).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession
from signedjson.key import decode_signing_key_base64, encode_signing_key_base64, generate_signing_key, get_verify_key
from signedjson.key import encode_verify_key_base64 as public
from signedjson.sign import sign_json
from signedjson.types import SigningKey

log = logging.getLogger(__name__)

USAGES = ("master", "self_signing", "user_signing")


class CrossSigningError(RuntimeError):
    """The homeserver refused the keys or the signature (or no password to confirm the upload)."""


@dataclass(frozen=True, slots=True)
class Account:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str
    password: str = ""


class CrossSigningKeys:
    """The three private keys, generated once per account and kept in a file."""

    def __init__(self, path: Path, user_id: str) -> None:
        self.path, self.user_id = path, user_id
        saved = self._load()
        self.keys: dict[str, SigningKey] = {usage: _key(saved[usage]) for usage in USAGES if usage in saved}
        if len(self.keys) < len(USAGES):
            self.keys = {usage: _key(encode_signing_key_base64(generate_signing_key("0"))) for usage in USAGES}
            self._save()

    def key_id(self, usage: str) -> str:
        return f"ed25519:{public(get_verify_key(self.keys[usage]))}"

    def public_key(self, usage: str) -> dict[str, Any]:
        """The key as uploaded: usage, owner, public key; signed by the master key (but the master itself)."""
        body: dict[str, Any] = {"user_id": self.user_id, "usage": [usage],
                                "keys": {self.key_id(usage): public(get_verify_key(self.keys[usage]))}}
        return body if usage == "master" else sign_json(body, self.user_id, self.keys["master"])

    def sign_device(self, device: dict[str, Any]) -> dict[str, Any]:
        """The device's keys as the device uploaded them, with the self-signing key's signature added."""
        device = {k: v for k, v in device.items() if k != "unsigned"}
        return sign_json(device, self.user_id, self.keys["self_signing"])

    def _load(self) -> dict[str, str]:
        try:
            data: Any = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("user_id") != self.user_id:
            return {}
        return {k: str(v) for k, v in data.items()}

    def _save(self) -> None:
        data = {"user_id": self.user_id, **{u: encode_signing_key_base64(k) for u, k in self.keys.items()}}
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path)


def _key(seed: str) -> SigningKey:
    """A key whose id is its own public key, as cross-signing keys are named ("ed25519:<public key>")."""
    key = decode_signing_key_base64("ed25519", "0", seed)
    key.version = public(get_verify_key(key))
    return key


async def ensure_cross_signed(http: ClientSession, account: Account, keys: CrossSigningKeys) -> bool:
    """Upload the keys if the homeserver does not have these ones, then sign the device if it is not yet.

    True when something was uploaded. Raises CrossSigningError when the homeserver refuses."""
    api = Api(http, account)
    query = await api.call("POST", "/keys/query", {"device_keys": {account.user_id: []}})
    master = query.get("master_keys", {}).get(account.user_id, {})
    changed = False
    if keys.key_id("master") not in master.get("keys", {}):
        await _upload_keys(api, account, keys)
        changed = True
        query = await api.call("POST", "/keys/query", {"device_keys": {account.user_id: []}})
    device = query.get("device_keys", {}).get(account.user_id, {}).get(account.device_id)
    if not device:
        raise CrossSigningError("the device has not uploaded its keys yet")
    if keys.key_id("self_signing") not in device.get("signatures", {}).get(account.user_id, {}):
        signed = keys.sign_device(device)
        result = await api.call("POST", "/keys/signatures/upload", {account.user_id: {account.device_id: signed}})
        if result.get("failures"):
            raise CrossSigningError(f"signature refused: {result['failures']}")
        changed = True
        log.info("matrix: the bot's device is now signed by its cross-signing key")
    return changed


async def _upload_keys(api: Api, account: Account, keys: CrossSigningKeys) -> None:
    """device_signing/upload behind user-interactive auth: first without (a first upload may pass), then with
    the password for the session the homeserver opened."""
    body = {f"{usage}_key": keys.public_key(usage) for usage in USAGES}
    status, answer = await api.raw("POST", "/keys/device_signing/upload", body)
    if status == 401 and "session" in answer:
        if not account.password:
            raise CrossSigningError("uploading cross-signing keys needs RELAIS_MATRIX_PASSWORD")
        body["auth"] = {"type": "m.login.password", "session": answer["session"], "password": account.password,
                        "identifier": {"type": "m.id.user", "user": account.user_id}}
        status, answer = await api.raw("POST", "/keys/device_signing/upload", body)
    if status != 200:
        raise CrossSigningError(f"cross-signing keys refused: HTTP {status} {answer.get('errcode', '')}")
    log.info("matrix: cross-signing keys uploaded for the bot's account")


class Api:
    """The few client-server calls cross-signing needs (nio has none of them)."""

    def __init__(self, http: ClientSession, account: Account) -> None:
        self.http, self.account = http, account

    async def raw(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = f"{self.account.homeserver}/_matrix/client/v3{path}"
        headers = {"Authorization": f"Bearer {self.account.access_token}"}
        try:
            async with self.http.request(method, url, json=body, headers=headers) as response:
                answer = await response.json(content_type=None)
                return response.status, answer if isinstance(answer, dict) else {}
        except (ClientError, TimeoutError, ValueError) as error:
            raise CrossSigningError(f"{path}: {type(error).__name__}") from error

    async def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.raw(method, path, body)
        if status != 200:
            raise CrossSigningError(f"{path}: HTTP {status} {answer.get('errcode', '')}")
        return answer
