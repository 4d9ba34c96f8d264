"""Files in Teams (exports, charts): the file consent flow of a personal chat.

A bot cannot attach a file to a 1:1 message directly. It sends a file consent
card; when the person accepts, Teams sends a `fileConsent/invoke` with an upload
URL in their OneDrive, the bot PUTs the bytes there and posts a file info card.
The bytes wait in memory between the two steps, for an hour at most: they are
already anonymised (the floor applied, no identities), and after a restart the
person simply asks again.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import aiohttp

from bot.core.replies import File

CONSENT_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
INFO_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.info"
KEEP_SECONDS = 3600


@dataclass
class PendingFile:
    file: File
    person_id: int
    expires: float


class PendingFiles:
    """Files offered to people and not yet accepted, by a one-time token."""

    def __init__(self, clock=time.monotonic) -> None:
        self._files: dict[str, PendingFile] = {}
        self._clock = clock

    def offer(self, file: File, person_id: int) -> dict:
        """The consent card attachment for this file; the file waits under a fresh token."""
        now = self._clock()
        self._files = {k: v for k, v in self._files.items() if v.expires > now}
        token = secrets.token_urlsafe(16)
        self._files[token] = PendingFile(file, person_id, now + KEEP_SECONDS)
        context = {"file": token}
        return {
            "contentType": CONSENT_CONTENT_TYPE,
            "name": file.name,
            "content": {
                "description": file.title or file.name,
                "sizeInBytes": len(file.content),
                "acceptContext": context,
                "declineContext": context,
            },
        }

    def take(self, token: str, person_id: int) -> File | None:
        """The file offered under this token to this person, once; None if gone or not theirs."""
        pending = self._files.get(token)
        if pending is None or pending.person_id != person_id or pending.expires <= self._clock():
            return None
        del self._files[token]
        return pending.file


async def upload(session: aiohttp.ClientSession, upload_url: str, content: bytes) -> None:
    """PUT the bytes to the OneDrive upload session Teams gave us, in one range."""
    headers = {
        "Content-Length": str(len(content)),
        "Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}",
    }
    async with session.put(upload_url, data=content, headers=headers) as response:
        response.raise_for_status()


def info_card(upload_info: dict) -> dict:
    """The card that shows the uploaded file in the chat."""
    return {
        "contentType": INFO_CONTENT_TYPE,
        "contentUrl": upload_info.get("contentUrl"),
        "name": upload_info.get("name"),
        "content": {
            "uniqueId": upload_info.get("uniqueId"),
            "fileType": upload_info.get("fileType"),
        },
    }
