"""Sealing answers at rest: AES-256-GCM on each sensitive column of `answers`.

Someone with a copy of the database files but not the secret must not read an answer's
text, rating, role, team, customer prediction or on-the-record flag (README, "How
anonymity works"). Each of those values is sealed on its own, so a rating click and a
later "why" can each rewrite their own column in one `INSERT … ON CONFLICT DO UPDATE`.

A sealed value is `VERSION | 12-byte random nonce | ciphertext+tag`. The plaintext is the
value as JSON, padded with spaces to a multiple of `PAD` bytes so its length does not
tell a rating from a blank or one team's name from another's. The associated data binds
the value to its column and to its answer's round, question and pseudonym, so a sealed
value copied to another row or column fails to open. The key comes from the secret
(`bot.core.anonymity.seal_key`), never from the database.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.core.errors import StorageError

#: The columns of `answers` that are sealed.
SEALED = ("role", "team", "rating", "text", "customer_prediction", "on_record")
VERSION = b"\x01"
PAD = 32
_NONCE = 12


class Sealer:
    """Seals and opens the answer columns of one database with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("The answer seal key must be 32 bytes.")
        self._aead = AESGCM(key)

    @staticmethod
    def _bound(column: str, round_id: int, question_id: str, pseudonym: str) -> bytes:
        return json.dumps([column, round_id, question_id, pseudonym]).encode()

    def seal(
        self, column: str, value: Any, round_id: int, question_id: str, pseudonym: str
    ) -> bytes:
        plain = json.dumps(value, ensure_ascii=False).encode()
        plain += b" " * (-len(plain) % PAD)
        nonce = os.urandom(_NONCE)
        bound = self._bound(column, round_id, question_id, pseudonym)
        return VERSION + nonce + self._aead.encrypt(nonce, plain, bound)

    def open(self, column: str, value: Any, round_id: int, question_id: str, pseudonym: str) -> Any:
        """The value of a sealed column; a value an older version left in plain text (not yet
        sealed, see `Store.use_seal_key`) comes back as it is."""
        if not isinstance(value, bytes):
            return value
        if value[:1] != VERSION or len(value) < 1 + _NONCE + 16:
            raise StorageError(f"An answer's {column} is sealed in an unknown format.")
        bound = self._bound(column, round_id, question_id, pseudonym)
        try:
            plain = self._aead.decrypt(value[1 : 1 + _NONCE], value[1 + _NONCE :], bound)
        except InvalidTag:
            raise StorageError(
                f"An answer's {column} does not open with this secret: the database was "
                "written with another INTEGRITY_SECRET (or its secret file), or was altered. "
                "Start the bot with the secret it was written with."
            ) from None
        return json.loads(plain)
