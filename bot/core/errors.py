"""Domain errors. Each message is written for the person who will read it: it says
what went wrong and what to do next. Adapters show `str(error)` as it is."""


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
