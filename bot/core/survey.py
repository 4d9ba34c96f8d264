"""Customer survey links: signed, expiring, answered once, and nothing about who.

A link is `/survey/<token>`. The token carries the question ids, the expiry time and a
random nonce, and an HMAC-SHA256 of them keyed from the bot's secret, so it cannot be
forged or edited and needs no database row until it is answered. Answering stores,
in the same transaction as the answers, a keyed hash of the nonce (`used_token_hash`):
the one fact kept about a link, so it is answered once. The form carries a CSRF token
bound to the link's nonce and the time the form was served (`form_token`), so an answer
can only be sent from the form the bot served for that link, within `FORM_MAX_AGE`.

Nothing here knows HTTP: `bot.adapters.survey` serves the pages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.errors import IntegrityError

DEFAULT_DAYS = 14
MAX_DAYS = 90
#: A served form can be sent back within this time.
FORM_MAX_AGE = timedelta(hours=12)
MAX_COMMENT_CHARS = 2000
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{10,1200}\.[A-Za-z0-9_-]{22}$")
#: The signature's length: 128 bits of HMAC-SHA256, plenty against forgery, short in a URL.
_SIGNATURE_BYTES = 16


class SurveyRefused(IntegrityError):
    """A survey link or form that cannot be answered; `reason` names why, for the page."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # forged | expired | used | stale-form | invalid


@dataclass(frozen=True)
class SurveyLink:
    """What a verified token says: which questions, until when, and its nonce."""

    question_ids: tuple[str, ...]
    expires_at: datetime
    nonce: str
    token: str


def _key(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"survey|{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: bytes, question_ids: list[str], expires_at: datetime) -> str:
    """A signed token for these questions, valid until `expires_at`."""
    payload = json.dumps(
        {"q": question_ids, "e": int(expires_at.timestamp()), "n": _b64(secrets.token_bytes(12))},
        separators=(",", ":"),
    ).encode()
    signature = hmac.new(_key(secret, "link"), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature[:_SIGNATURE_BYTES])}"


def read_token(secret: bytes, token: str, now: datetime) -> SurveyLink:
    """The link a token stands for, or SurveyRefused: forged (or damaged) or expired."""
    forged = SurveyRefused(
        "forged",
        "This survey link is not valid: it may have been mistyped or cut short. "
        "Please open the link exactly as you received it.",
    )
    if not _TOKEN.match(token):
        raise forged
    body, signature = token.split(".")
    try:
        payload = _unb64(body)
        expected = hmac.new(_key(secret, "link"), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(expected[:_SIGNATURE_BYTES], _unb64(signature)):
            raise forged
        data = json.loads(payload)
        link = SurveyLink(
            question_ids=tuple(str(q) for q in data["q"]),
            expires_at=datetime.fromtimestamp(int(data["e"]), UTC),
            nonce=str(data["n"]),
            token=token,
        )
    except (ValueError, KeyError, TypeError):
        raise forged from None
    if now >= link.expires_at:
        raise SurveyRefused(
            "expired",
            f"This survey link expired on {link.expires_at:%d %B %Y}. Thank you for opening "
            "it; if you would still like to answer, ask us for a new link.",
        )
    return link


def used_token_hash(secret: bytes, link: SurveyLink) -> str:
    """The one thing kept about an answered link: a keyed hash of its nonce."""
    return hmac.new(_key(secret, "used"), link.nonce.encode(), hashlib.sha256).hexdigest()


def rate_key(secret: bytes, token: str) -> str:
    """What the rate limit counts requests by: the link (a keyed hash of its text, forged
    or not), never the address it is opened from."""
    return hmac.new(_key(secret, "rate"), token.encode(), hashlib.sha256).hexdigest()[:32]


def form_token(secret: bytes, link: SurveyLink, served_at: datetime) -> str:
    """The CSRF token of a form served for `link` at `served_at`."""
    stamp = str(int(served_at.timestamp()))
    mac = hmac.new(_key(secret, "form"), f"{link.nonce}|{stamp}".encode(), hashlib.sha256)
    return f"{stamp}.{_b64(mac.digest())}"


def check_form_token(secret: bytes, link: SurveyLink, value: str, now: datetime) -> None:
    """SurveyRefused unless `value` is a form token the bot served for this link lately."""
    stale = SurveyRefused(
        "stale-form",
        "This form could not be checked: it was not sent from the survey page, or it was "
        "open for too long. Please open the link again and answer there.",
    )
    stamp, _, _mac = value.partition(".")
    if not stamp.isdigit():
        raise stale
    served_at = datetime.fromtimestamp(int(stamp), UTC)
    if not hmac.compare_digest(form_token(secret, link, served_at), value):
        raise stale
    if not timedelta(0) <= now - served_at <= FORM_MAX_AGE + timedelta(minutes=1):
        raise stale
