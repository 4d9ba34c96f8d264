"""Domain errors, and the one rule for what a person is told when something fails.

Each message is written for the person who will read it: it says what went wrong
and what to do next. Adapters show `str(error)` as it is.

`failure_message(error)` is what every adapter (terminal, Slack, Teams) says when a
command fails: a domain error's own message; for a transient failure (a locked
database, a network timeout) that sending it again will work; for anything else,
that it was logged and that sending it again will not help. Only a transient error
ever gets the retry hint.
"""

from __future__ import annotations

import errno


class IntegrityError(Exception):
    """Base class: an error whose message is safe and useful to show the user."""


class UsageError(IntegrityError):
    """A command was called with wrong or missing arguments; the message carries the usage line."""


class NotAllowed(IntegrityError):
    """The person may not do this; the message names who may."""


class InvalidAnswer(IntegrityError):
    """An answer was refused (bad rating, text too long, round closed); nothing was stored."""


class NotFound(IntegrityError):
    """A round, question, proposal or person that does not exist."""


class ConfigError(IntegrityError):
    """A setting is missing or wrong; the message names the setting and a valid value."""


class InputFileError(IntegrityError):
    """A file given to `analyse` is unreadable or has a bad line; the message names the line."""


class TransientError(IntegrityError):
    """A failure that passes on its own (a busy database): sending the same again will work."""


class StorageError(IntegrityError):
    """The database cannot be read or written (disk full, read-only, not a file); the message
    names the path and what the operator must do. Nothing unacknowledged was kept."""


#: What a person is told about an unexpected failure that will fail again the same way.
UNEXPECTED = (
    "Something went wrong on our side and it was logged. Sending the same again will fail "
    "the same way: please tell whoever runs Integrity Check."
)
#: What a person is told about a failure that passes (a network timeout, a busy database).
TRANSIENT = "That failed for a moment ({what}). Please send it again in a minute."

_TRANSIENT_ERRNOS = {
    errno.ETIMEDOUT,
    errno.ECONNRESET,
    errno.ECONNREFUSED,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.EAGAIN,
}


def is_transient(error: BaseException) -> bool:
    """True when the same request is likely to work if sent again in a minute: a busy
    database, a timeout or a dropped connection (also when wrapped by an HTTP client)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TransientError | TimeoutError | ConnectionError):
            return True
        if isinstance(current, IntegrityError):
            return False
        if isinstance(current, OSError) and current.errno in _TRANSIENT_ERRNOS:
            return True
        # HTTP clients (httpx, aiohttp, requests) name their timeouts so, without a
        # common base class we could import here.
        names = {cls.__name__ for cls in type(current).__mro__}
        if any("Timeout" in n or n in {"ConnectError", "ClientConnectionError"} for n in names):
            return True
        current = current.__cause__ or current.__context__
    return False


def failure_message(error: BaseException) -> str:
    """What to tell the person whose command failed with `error` (the one wording rule)."""
    if isinstance(error, IntegrityError):
        return str(error)
    if is_transient(error):
        return TRANSIENT.format(what=_short(error))
    return UNEXPECTED


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 80 else text[:77] + "…"


def typed(word: str, limit: int = 30) -> str:
    """What the user typed, quoted for an error message and cut short: a 100 KB word is
    not echoed back whole."""
    return repr(word if len(word) <= limit else word[: limit - 1] + "…")


class FloorError(ConfigError, ValueError):
    """An anonymity floor that is not a whole number of at least 3; the message says so."""
