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
from collections.abc import Iterable, Mapping
from functools import lru_cache
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
    def _row(round_id: int, question_id: str, pseudonym: str) -> bytes:
        """The answer's part of the associated data (the question id length-prefixed, so no
        two answers' parts read alike)."""
        return f"|{round_id}|{len(question_id)}:{question_id}|{pseudonym}".encode()

    def seal(
        self, column: str, value: Any, round_id: int, question_id: str, pseudonym: str
    ) -> bytes:
        plain = json.dumps(value, ensure_ascii=False).encode()
        plain += b" " * (-len(plain) % PAD)
        nonce = os.urandom(_NONCE)
        bound = column.encode() + self._row(round_id, question_id, pseudonym)
        return VERSION + nonce + self._aead.encrypt(nonce, plain, bound)

    def open_row(self, row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, Any]:
        """The `columns` of one answer row, opened; a value an older version left in plain
        text (not yet sealed, see `Store.use_seal_key`) comes back as it is."""
        part = self._row(row["round_id"], row["question_id"], row["pseudonym"])
        opened = {}
        for column in columns:
            value = row.get(column)
            if not isinstance(value, bytes):
                opened[column] = value
                continue
            if value[:1] != VERSION or len(value) < 1 + _NONCE + 16:
                raise StorageError(f"An answer's {column} is sealed in an unknown format.")
            try:
                plain = self._aead.decrypt(
                    value[1 : 1 + _NONCE], value[1 + _NONCE :], column.encode() + part
                )
            except InvalidTag:
                raise StorageError(
                    f"An answer's {column} does not open with this secret: the database was "
                    "written with another INTEGRITY_SECRET (or its key file), or was altered. "
                    "Start the bot with the secret it was written with."
                ) from None
            opened[column] = _decode(plain) if len(plain) == PAD else json.loads(plain)
        return opened


@lru_cache(maxsize=4096)
def _decode(plain: bytes) -> Any:
    """A short value (a rating, a role, a team, a flag, a short text): the same few recur."""
    return json.loads(plain)
