"""Incoming files: downloaded from the homeserver's media repository (authenticated media) and decrypted."""

from __future__ import annotations

import dataclasses
import logging

from aiohttp import ClientError
from nio import AsyncClient, DownloadError, RoomEncryptedMedia
from nio.crypto.attachments import decrypt_attachment
from nio.events import Event as NioEvent

from bot.events import FileReceived

log = logging.getLogger(__name__)


async def fetch(client: AsyncClient, file: FileReceived, event: NioEvent, max_bytes: int) -> FileReceived:
    """The file with its bytes when it is no bigger than `max_bytes`; as announced (data empty) otherwise."""
    if max_bytes <= 0 or file.size > max_bytes:
        return file
    url = str(getattr(event, "url", "") or "")
    try:
        data = await _download(client, url, max_bytes)
        if isinstance(event, RoomEncryptedMedia):
            data = bytes(decrypt_attachment(data, event.key["k"], event.hashes["sha256"], event.iv))
    except (ClientError, TimeoutError, ValueError, KeyError) as error:
        log.warning("matrix: could not fetch a file (%s)", type(error).__name__)
        return file
    if len(data) > max_bytes:
        return dataclasses.replace(file, size=len(data))
    return dataclasses.replace(file, data=data, size=len(data))


async def _download(client: AsyncClient, url: str, max_bytes: int) -> bytes:
    """The authenticated media API (Synapse ≥ 1.111, Tchap); the legacy one when it is not there."""
    server, _, media_id = url.removeprefix("mxc://").partition("/")
    if not server or not media_id:
        raise ValueError("not an mxc:// url")
    session = client.client_session
    if session is not None:
        async with session.get(f"{client.homeserver}/_matrix/client/v1/media/download/{server}/{media_id}",
                               headers={"Authorization": f"Bearer {client.access_token}"}) as response:
            if response.status == 200:
                return await response.content.read(max_bytes + 1)
            if response.status not in (404, 405):
                raise ValueError(f"HTTP {response.status}")
    legacy = await client.download(server_name=server, media_id=media_id)
    if isinstance(legacy, DownloadError):
        raise ValueError(str(legacy))
    body = legacy.body
    return body if isinstance(body, bytes) else b""
